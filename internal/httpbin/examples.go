package httpbin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// examples serves small stand-ins of the demo services k6 examples call: a
// crocodile API (public list, registration, token and cookie login, the
// user's own crocodiles) and a pizza recommender. Paths are those of the
// public services, so a script only needs its base URL changed.
func (s *server) examples(mux *http.ServeMux) {
	public := []map[string]any{
		{"id": 1, "name": "Bert", "sex": "M", "date_of_birth": "2010-06-27", "age": 14},
		{"id": 2, "name": "Ed", "sex": "M", "date_of_birth": "1995-02-27", "age": 29},
		{"id": 3, "name": "Lyle the Crocodile", "sex": "M", "date_of_birth": "1985-03-03", "age": 39},
		{"id": 4, "name": "Solomon", "sex": "M", "date_of_birth": "1993-12-25", "age": 30},
		{"id": 5, "name": "Sobek", "sex": "F", "date_of_birth": "1854-09-02", "age": 170},
	}
	mux.HandleFunc("GET /public/crocodiles/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, public)
	})
	mux.HandleFunc("GET /public/crocodiles/{id}/", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		for _, c := range public {
			if c["id"] == id {
				writeJSON(w, 200, c)
				return
			}
		}
		writeJSON(w, 404, map[string]any{"detail": "Not found."})
	})
	mux.HandleFunc("POST /user/register/", func(w http.ResponseWriter, r *http.Request) {
		in := readForm(r)
		if in["username"] == "" || in["password"] == "" {
			writeJSON(w, 400, map[string]any{"username": []string{"This field is required."}})
			return
		}
		s.mu.Lock()
		_, dup := s.users[in["username"]]
		if !dup {
			s.users[in["username"]] = in["password"]
		}
		s.mu.Unlock()
		if dup {
			writeJSON(w, 400, map[string]any{"username": []string{"A user with that username already exists."}})
			return
		}
		writeJSON(w, 201, map[string]any{"username": in["username"], "first_name": in["first_name"], "last_name": in["last_name"], "email": in["email"]})
	})
	login := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		in := readForm(r)
		s.mu.Lock()
		pw, ok := s.users[in["username"]]
		s.mu.Unlock()
		if !ok || pw != in["password"] {
			writeJSON(w, 401, map[string]any{"detail": "No active account found with the given credentials"})
			return "", false
		}
		tok := newToken()
		s.mu.Lock()
		s.tokens[tok] = in["username"]
		s.mu.Unlock()
		return tok, true
	}
	mux.HandleFunc("POST /auth/token/login/", func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := login(w, r); ok {
			writeJSON(w, 200, map[string]any{"access": tok, "refresh": newToken()})
		}
	})
	mux.HandleFunc("POST /auth/cookie/login/", func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := login(w, r); ok {
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: tok, Path: "/", HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "csrftoken", Value: newToken(), Path: "/"})
			writeJSON(w, 200, map[string]any{"username": s.tokens[tok]})
		}
	})
	mux.HandleFunc("POST /auth/cookie/logout/", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "", Path: "/", MaxAge: -1})
		writeJSON(w, 200, map[string]any{})
	})
	mine := func(r *http.Request) (string, bool) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok == "" {
			if c, err := r.Cookie("sessionid"); err == nil {
				tok = c.Value
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		u, ok := s.tokens[tok]
		return u, ok
	}
	mux.HandleFunc("/my/crocodiles/", func(w http.ResponseWriter, r *http.Request) {
		user, ok := mine(r)
		if !ok {
			writeJSON(w, 401, map[string]any{"detail": "Authentication credentials were not provided."})
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			var out []map[string]any
			for _, c := range s.crocs {
				if c["owner"] == user {
					out = append(out, public1(c))
				}
			}
			s.mu.Unlock()
			if out == nil {
				out = []map[string]any{}
			}
			writeJSON(w, 200, out)
		case http.MethodPost:
			in := readForm(r)
			s.mu.Lock()
			s.nextID++
			c := map[string]any{"id": s.nextID, "name": in["name"], "sex": in["sex"], "date_of_birth": in["date_of_birth"], "age": 3, "owner": user}
			s.crocs = append(s.crocs, c)
			s.mu.Unlock()
			writeJSON(w, 201, public1(c))
		default:
			w.WriteHeader(405)
		}
	})
	mux.HandleFunc("/my/crocodiles/{id}/", func(w http.ResponseWriter, r *http.Request) {
		user, ok := mine(r)
		if !ok {
			writeJSON(w, 401, map[string]any{"detail": "Authentication credentials were not provided."})
			return
		}
		id, _ := strconv.Atoi(r.PathValue("id"))
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, c := range s.crocs {
			if c["id"] != id || c["owner"] != user {
				continue
			}
			switch r.Method {
			case http.MethodGet:
				writeJSON(w, 200, public1(c))
			case http.MethodPut, http.MethodPatch:
				for k, v := range readForm(r) {
					if k != "id" && k != "owner" {
						c[k] = v
					}
				}
				writeJSON(w, 200, public1(c))
			case http.MethodDelete:
				s.crocs = append(s.crocs[:i], s.crocs[i+1:]...)
				w.WriteHeader(204)
			default:
				w.WriteHeader(405)
			}
			return
		}
		writeJSON(w, 404, map[string]any{"detail": "Not found."})
	})

	// The pizza recommender (QuickPizza's API, reduced).
	mux.HandleFunc("POST /api/pizza", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		var b [2]byte
		_, _ = rand.Read(b[:])
		writeJSON(w, 200, map[string]any{"pizza": map[string]any{
			"id": int(b[0])<<8 | int(b[1]), "name": "Hubcap Margherita",
			"dough":       map[string]any{"id": 1, "name": "Thin", "ID": 1},
			"ingredients": []any{map[string]any{"id": 1, "name": "Tomato"}, map[string]any{"id": 2, "name": "Mozzarella"}},
			"tool":        "Pizza cutter",
		}, "calories": 800, "vegetarian": true})
	})
	// QuickPizza's test endpoints: httpbin's under /api, and its own.
	for _, p := range []string{"/api/status/", "/api/delay/", "/api/bytes/", "/api/basic-auth/", "/api/digest-auth/", "/api/headers", "/api/get"} {
		mux.Handle(p, http.StripPrefix("/api", mux))
	}
	rawEcho := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if ct := r.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		_, _ = w.Write(b)
	}
	for _, p := range []string{"/api/post", "/api/put", "/api/patch", "/api/delete"} {
		mux.HandleFunc(p, rawEcho)
	}
	mux.HandleFunc("/api/json", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rawEcho(w, r)
			return
		}
		out := map[string]any{}
		for k, vs := range r.URL.Query() {
			out[k] = vs[0]
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("/api/xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		var b strings.Builder
		b.WriteString("<response>")
		for k, vs := range r.URL.Query() {
			b.WriteString("<key>" + k + "</key><value>" + vs[0] + "</value>")
		}
		b.WriteString("</response>")
		_, _ = io.WriteString(w, b.String())
	})
	mux.HandleFunc("/api/cookies", func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range r.URL.Query() {
			http.SetCookie(w, &http.Cookie{Name: k, Value: vs[0], Path: "/"})
		}
		s.cookies(w, r)
	})
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<html><body><h1>QuickPizza Admin</h1><button>Sign in</button></body></html>")
	})
	mux.HandleFunc("GET /api/pizza/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "name": "Hubcap Margherita"})
	})
	mux.HandleFunc("GET /api/names", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"names": []string{"Margherita", "Hawaii", "Quattro Formaggi"}})
	})
	mux.HandleFunc("GET /api/quotes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"quotes": []string{"Pizza is always a good idea."}})
	})
	mux.HandleFunc("GET /api/tools", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"tools": []string{"Pizza cutter", "Knife", "Scissors"}})
	})
	mux.HandleFunc("GET /api/ingredients/{kind}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"ingredients": []any{map[string]any{"id": 1, "name": "Tomato"}}})
	})
	mux.HandleFunc("GET /api/doughs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"doughs": []any{map[string]any{"ID": 1, "name": "Thin", "caloriesPerSlice": 150}}})
	})
	mux.HandleFunc("POST /api/users", func(w http.ResponseWriter, r *http.Request) {
		in := readForm(r)
		s.mu.Lock()
		s.users[in["username"]] = in["password"]
		s.mu.Unlock()
		writeJSON(w, 201, map[string]any{"username": in["username"]})
	})
	mux.HandleFunc("POST /api/users/token/login", func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := login(w, r); ok {
			writeJSON(w, 200, map[string]any{"token": tok})
		}
	})
	mux.HandleFunc("/api/ratings", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			in := map[string]any{}
			_ = json.NewDecoder(r.Body).Decode(&in)
			in["id"] = 1
			writeJSON(w, 201, in)
		default:
			writeJSON(w, 200, map[string]any{"ratings": []any{}})
		}
	})
	mux.HandleFunc("GET /api/csrf-token", func(w http.ResponseWriter, r *http.Request) {
		tok := newToken()
		http.SetCookie(w, &http.Cookie{Name: "csrf_token", Value: tok, Path: "/"})
		writeJSON(w, 200, map[string]any{"csrf": tok})
	})
	mux.HandleFunc("GET /contacts.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<html><body><h3>Contact us</h3></body></html>")
	})
	mux.HandleFunc("GET /news.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<html><body><h1>In the news</h1></body></html>")
	})
	// The old demo site (test.k6.io), also under /test.k6.io/ as
	// QuickPizza serves its copy.
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, htmlPage)
	}
	mux.HandleFunc("GET /test.k6.io/{$}", page)
	mux.HandleFunc("GET /test.k6.io", page)
	static := func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".css"):
			w.Header().Set("Content-Type", "text/css")
			_, _ = io.WriteString(w, "body { font-family: sans-serif; }\n")
		case strings.HasSuffix(r.URL.Path, ".js"):
			w.Header().Set("Content-Type", "application/javascript")
			_, _ = io.WriteString(w, "var prisms = 1;\n")
		default:
			w.Header().Set("Content-Type", "image/x-icon")
			_, _ = w.Write(make([]byte, 318))
		}
	}
	for _, p := range []string{"GET /static/", "GET /test.k6.io/static/", "GET /style.css", "GET /teddy.jpg", "GET /favicon.ico"} {
		mux.HandleFunc(p, static)
	}
	mux.HandleFunc("GET /pi.php", func(w http.ResponseWriter, r *http.Request) {
		const pi = "3.14159265358979323846264338327950288419716939937510"
		n, err := strconv.Atoi(r.URL.Query().Get("decimals"))
		if err != nil || n < 0 {
			n = 2
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, pi[:2+min(n, len(pi)-2)])
	})
	mux.HandleFunc("/my_messages.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if c, err := r.Cookie("sid"); err == nil && c.Value != "" {
			_, _ = io.WriteString(w, "<html><body><h2>Welcome, admin!</h2></body></html>")
			return
		}
		_, _ = io.WriteString(w, `<html><body><h2>Unauthorized</h2><form method="post" action="/login.php"><input type="hidden" name="csrftoken" value="`+newToken()+`"><input name="login"><input name="password" type="password"><input type="submit"></form></body></html>`)
	})
	mux.HandleFunc("/login.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			if (r.PostForm.Get("login") == "admin" && r.PostForm.Get("password") == "123") ||
				(r.PostForm.Get("login") == "test_user" && r.PostForm.Get("password") == "1234") {
				http.SetCookie(w, &http.Cookie{Name: "sid", Value: newToken(), Path: "/"})
				_, _ = io.WriteString(w, "<html><body>You are successfully authorized. Welcome, "+r.PostForm.Get("login")+"!</body></html>")
				return
			}
			// The demo site answers a failed login with its page, status 200.
			_, _ = io.WriteString(w, "<html><body>Unauthorized: wrong login or password</body></html>")
			return
		}
		_, _ = io.WriteString(w, `<html><body><form method="post" action="/login.php"><input type="hidden" name="csrftoken" value="`+newToken()+`"><input name="login"><input name="password"></form></body></html>`)
	})
	mux.HandleFunc("GET /flip_coin.php", func(w http.ResponseWriter, r *http.Request) {
		var b [1]byte
		_, _ = rand.Read(b[:])
		side := "heads"
		if b[0]&1 == 1 {
			side = "tails"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<html><body>Flipped: "+side+"; "+r.URL.Query().Get("bet")+"</body></html>")
	})
}

func public1(c map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		if k != "owner" {
			out[k] = v
		}
	}
	return out
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readForm reads a JSON object or a form as strings.
func readForm(r *http.Request) map[string]string {
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		for k, v := range in {
			switch x := v.(type) {
			case string:
				out[k] = x
			default:
				b, _ := json.Marshal(x)
				out[k] = string(b)
			}
		}
		return out
	}
	_ = r.ParseMultipartForm(8 << 20)
	for k, vs := range r.Form {
		out[k] = vs[0]
	}
	return out
}
