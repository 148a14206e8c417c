// Package httpbin is a small httpbin.org look-alike for testing HTTP
// clients on loopback: echo endpoints (/get, /post, /anything, /headers),
// statuses, redirects, cookies, basic and digest authentication, delays,
// bytes, JSON/HTML/XML documents and gzip. It also serves a few resources
// that k6 examples use (a crocodile API and a pizza recommender), so those
// scripts run against it with their URLs pointed here.
package httpbin

import (
	"compress/gzip"
	"crypto/md5" //nolint:gosec // digest authentication is defined on MD5
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// New returns the handler.
func New() http.Handler {
	s := &server{tokens: map[string]string{}, users: map[string]string{"default": "12345678"}}
	mux := http.NewServeMux()
	for _, p := range []string{"/get", "/post", "/put", "/patch", "/delete", "/anything", "/anything/"} {
		mux.HandleFunc(p, s.echo)
	}
	mux.HandleFunc("/status/{codes}", s.status)
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"headers": flatHeaders(r.Header, r.Host)})
	})
	mux.HandleFunc("/ip", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"origin": remoteIP(r)})
	})
	mux.HandleFunc("/user-agent", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"user-agent": r.UserAgent()})
	})
	mux.HandleFunc("/cookies", s.cookies)
	mux.HandleFunc("/cookies/set", s.setCookies)
	mux.HandleFunc("/cookies/set/{name}/{value}", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: r.PathValue("name"), Value: r.PathValue("value"), Path: "/"})
		http.Redirect(w, r, "/cookies", http.StatusFound)
	})
	mux.HandleFunc("/cookies/delete", func(w http.ResponseWriter, r *http.Request) {
		for k := range r.URL.Query() {
			http.SetCookie(w, &http.Cookie{Name: k, Value: "", Path: "/", MaxAge: -1})
		}
		http.Redirect(w, r, "/cookies", http.StatusFound)
	})
	mux.HandleFunc("/redirect/{n}", s.redirect("/get", true))
	mux.HandleFunc("/relative-redirect/{n}", s.redirect("/get", true))
	mux.HandleFunc("/absolute-redirect/{n}", s.redirect("/get", false))
	mux.HandleFunc("/redirect-to", func(w http.ResponseWriter, r *http.Request) {
		code := 302
		if c, err := strconv.Atoi(r.URL.Query().Get("status_code")); err == nil && c >= 300 && c < 400 {
			code = c
		}
		w.Header().Set("Location", r.URL.Query().Get("url"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/delay/{secs}", func(w http.ResponseWriter, r *http.Request) {
		d, _ := strconv.ParseFloat(r.PathValue("secs"), 64)
		select {
		case <-time.After(time.Duration(min(d, 10) * float64(time.Second))):
		case <-r.Context().Done():
			return
		}
		s.echo(w, r)
	})
	mux.HandleFunc("/basic-auth/{user}/{passwd}", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != r.PathValue("user") || p != r.PathValue("passwd") {
			w.Header().Set("WWW-Authenticate", `Basic realm="Fake Realm"`)
			w.WriteHeader(401)
			return
		}
		writeJSON(w, 200, map[string]any{"authenticated": true, "user": u})
	})
	mux.HandleFunc("/bearer", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(401)
			return
		}
		writeJSON(w, 200, map[string]any{"authenticated": true, "token": tok})
	})
	mux.HandleFunc("/digest-auth/{qop}/{user}/{passwd}", s.digest)
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		n = max(0, min(n, 10<<20))
		b := make([]byte, n)
		_, _ = rand.Read(b)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/base64/{v}", func(w http.ResponseWriter, r *http.Request) {
		b, err := base64.URLEncoding.DecodeString(r.PathValue("v"))
		if err != nil {
			b, err = base64.StdEncoding.DecodeString(r.PathValue("v"))
		}
		if err != nil {
			http.Error(w, "Incorrect Base64 data try: SFRUUEJJTiBpcyBhd2Vzb21l", 400)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"slideshow": map[string]any{
			"author": "Yours Truly", "date": "date of publication", "title": "Sample Slide Show",
			"slides": []any{
				map[string]any{"title": "Wake up to WonderWidgets!", "type": "all"},
				map[string]any{"items": []any{"Why <em>WonderWidgets</em> are great", "Who <em>buys</em> WonderWidgets"}, "title": "Overview", "type": "all"},
			}}})
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, htmlPage)
	})
	mux.HandleFunc("/xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, `<?xml version='1.0' encoding='us-ascii'?><slideshow title="Sample Slide Show"><slide type="all"><title>Wake up to WonderWidgets!</title></slide></slideshow>`)
	})
	mux.HandleFunc("/uuid", func(w http.ResponseWriter, r *http.Request) {
		var b [16]byte
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		writeJSON(w, 200, map[string]any{"uuid": h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]})
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		_ = json.NewEncoder(gz).Encode(map[string]any{"gzipped": true, "headers": flatHeaders(r.Header, r.Host), "method": r.Method})
		_ = gz.Close()
	})
	mux.HandleFunc("/response-headers", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{}
		for k, vs := range r.URL.Query() {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
			out[k] = strings.Join(vs, ",")
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, htmlPage)
	})
	s.examples(mux)
	return mux
}

// Start serves New() on a fresh 127.0.0.1 port (for tests).
func Start() *httptest.Server { return httptest.NewServer(New()) }

// StartTLS serves New() over TLS on 127.0.0.1 with a self-signed
// certificate.
func StartTLS() *httptest.Server { return httptest.NewTLSServer(New()) }

const htmlPage = `<!DOCTYPE html>
<html>
<head><title>Demo site for load testing</title><link rel="stylesheet" href="/static/css/site.css"></head>
<body>
<h1>Herman Melville - Moby-Dick</h1>
<p class="description">Collection of simple web-pages suitable for load testing. This is a replacement of the service that used to run at test.k6.io.</p>
<form action="/post" method="post"><input type="text" name="field" value="x"><input type="submit"></form>
<a href="/get">get</a> <a href="/news.php">news</a> <a href="/contacts.php">contacts</a> <a href="/pi.php?decimals=3">pi</a>
</body>
</html>
`

type server struct {
	mu     sync.Mutex
	tokens map[string]string // token → user
	users  map[string]string // user → password
	crocs  []map[string]any
	nextID int
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func flatHeaders(h http.Header, host string) map[string]string {
	out := map[string]string{"Host": host}
	for k, vs := range h {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// echo answers with what the request carried, as httpbin's /anything.
func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	want := strings.ToUpper(strings.Trim(r.URL.Path, "/"))
	switch want {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
		if r.Method != want && !(want == "GET" && r.Method == http.MethodHead) {
			w.Header().Set("Allow", want+", OPTIONS")
			if r.Method == http.MethodOptions {
				w.WriteHeader(200)
				return
			}
			http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
	}
	args := map[string]any{}
	for k, vs := range r.URL.Query() {
		args[k] = oneOrMany(vs)
	}
	out := map[string]any{
		"args": args, "headers": flatHeaders(r.Header, r.Host), "origin": remoteIP(r),
		"url": scheme(r) + "://" + r.Host + r.URL.RequestURI(), "method": r.Method,
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	form, files := map[string]any{}, map[string]any{}
	var js any
	data := ""
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "multipart/form-data"):
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := r.ParseMultipartForm(32 << 20); err == nil {
			for k, vs := range r.MultipartForm.Value {
				form[k] = oneOrMany(vs)
			}
			for k, fhs := range r.MultipartForm.File {
				f, err := fhs[0].Open()
				if err == nil {
					b, _ := io.ReadAll(f)
					f.Close()
					files[k] = string(b)
				}
			}
		}
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := r.ParseForm(); err == nil {
			for k, vs := range r.PostForm {
				form[k] = oneOrMany(vs)
			}
		}
	default:
		data = string(body)
		if json.Unmarshal(body, &js) != nil {
			js = nil
		}
	}
	out["form"], out["files"], out["data"], out["json"] = form, files, data, js
	writeJSON(w, 200, out)
}

func oneOrMany(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	return vs
}

// status answers with the status code, or a random one of a list.
func (s *server) status(w http.ResponseWriter, r *http.Request) {
	codes := strings.Split(r.PathValue("codes"), ",")
	var b [1]byte
	_, _ = rand.Read(b[:])
	code, err := strconv.Atoi(codes[int(b[0])%len(codes)])
	if err != nil || code < 100 || code > 599 {
		http.Error(w, "Invalid status code", 400)
		return
	}
	if code >= 300 && code < 400 {
		w.Header().Set("Location", "/redirect/1")
	}
	if code == 401 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Fake Realm"`)
	}
	w.WriteHeader(code)
}

func (s *server) cookies(w http.ResponseWriter, r *http.Request) {
	c := map[string]string{}
	for _, ck := range r.Cookies() {
		c[ck.Name] = ck.Value
	}
	writeJSON(w, 200, map[string]any{"cookies": c})
}

func (s *server) setCookies(w http.ResponseWriter, r *http.Request) {
	for k, vs := range r.URL.Query() {
		http.SetCookie(w, &http.Cookie{Name: k, Value: vs[0], Path: "/"})
	}
	http.Redirect(w, r, "/cookies", http.StatusFound)
}

func (s *server) redirect(final string, relative bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 1 {
			http.Error(w, "bad count", 400)
			return
		}
		base := strings.TrimSuffix(r.URL.Path, "/"+r.PathValue("n"))
		if strings.HasPrefix(base, "/redirect") {
			base = "/relative-redirect"
		}
		next := final
		if n > 1 {
			next = fmt.Sprintf("%s/%d", base, n-1)
		}
		if !relative {
			next = scheme(r) + "://" + r.Host + next
		}
		w.Header().Set("Location", next)
		w.WriteHeader(302)
	}
}

// digest implements RFC 7616 Digest (MD5) for /digest-auth/auth/user/pass.
func (s *server) digest(w http.ResponseWriter, r *http.Request) {
	user, pass := r.PathValue("user"), r.PathValue("passwd")
	const realm = "me@kennethreitz.com"
	challenge := func() {
		var b [16]byte
		_, _ = rand.Read(b[:])
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Digest realm="%s", qop="auth", nonce="%s", opaque="%s", algorithm=MD5`,
			realm, hex.EncodeToString(b[:]), hex.EncodeToString(b[8:])))
		w.WriteHeader(401)
	}
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "Digest ")
	if !ok {
		challenge()
		return
	}
	p := map[string]string{}
	for _, part := range splitParams(rest) {
		k, v, _ := strings.Cut(part, "=")
		p[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	h := func(s string) string {
		sum := md5.Sum([]byte(s)) //nolint:gosec // digest auth
		return hex.EncodeToString(sum[:])
	}
	ha1 := h(user + ":" + realm + ":" + pass)
	ha2 := h(r.Method + ":" + p["uri"])
	want := h(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2)
	if p["qop"] == "" {
		want = h(ha1 + ":" + p["nonce"] + ":" + ha2)
	}
	if p["username"] != user || p["response"] != want {
		challenge()
		return
	}
	writeJSON(w, 200, map[string]any{"authenticated": true, "user": user})
}

func splitParams(s string) []string {
	var out []string
	inQ := false
	start := 0
	for i, c := range s {
		switch {
		case c == '"':
			inQ = !inQ
		case c == ',' && !inQ:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
