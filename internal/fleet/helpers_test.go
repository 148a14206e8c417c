package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHub is an httptest stand-in for the hub's API: GET /hub/api/user
// identifies tokens, POST /hub/api/oauth2/token exchanges codes.
type fakeHub struct {
	srv *httptest.Server

	mu     sync.Mutex
	users  map[string]hubModel // token -> model
	codes  map[string]string   // code -> access token
	forms  []url.Values        // token exchange requests
	status int                 // if set, /user answers this status

	userCalls  atomic.Int64
	tokenCalls atomic.Int64
	activity   []activityPost
}

type activityPost struct {
	user, auth string
	body       map[string]any
}

type hubModel struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Scopes []string `json:"scopes"`
}

func newFakeHub(t testing.TB) *fakeHub {
	t.Helper()
	h := &fakeHub{users: map[string]hubModel{}, codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hub/api/user", func(w http.ResponseWriter, r *http.Request) {
		h.userCalls.Add(1)
		h.mu.Lock()
		status := h.status
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "token ")
		m, ok := h.users[tok]
		h.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"status":403,"message":"Missing or invalid credentials."}`)
			return
		}
		json.NewEncoder(w).Encode(m)
	})
	mux.HandleFunc("POST /hub/api/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		h.tokenCalls.Add(1)
		r.ParseForm()
		h.mu.Lock()
		h.forms = append(h.forms, r.PostForm)
		tok, ok := h.codes[r.PostForm.Get("code")]
		delete(h.codes, r.PostForm.Get("code"))
		h.mu.Unlock()
		if !ok || r.PostForm.Get("grant_type") != "authorization_code" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"bad code"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "Bearer"})
	})
	mux.HandleFunc("POST /hub/api/users/{user}/activity", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		h.mu.Lock()
		h.activity = append(h.activity, activityPost{user: r.PathValue("user"), auth: r.Header.Get("Authorization"), body: body})
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHub) apiURL() string { return h.srv.URL + "/hub/api" }

// addUser makes token identify name with the scopes a user's own token has.
func (h *fakeHub) addUser(token, name string, scopes ...string) {
	if scopes == nil {
		scopes = []string{"access:servers!user=" + name, "read:users!user=" + name}
	}
	h.mu.Lock()
	h.users[token] = hubModel{Name: name, Kind: "user", Scopes: scopes}
	h.mu.Unlock()
}

func (h *fakeHub) addCode(code, token string) {
	h.mu.Lock()
	h.codes[code] = token
	h.mu.Unlock()
}

const testSecret = "fleet-secret-for-tests"

// testFleet is a fleet behind an httptest server, with a fake hub.
type testFleet struct {
	t   *testing.T
	s   *Server
	ts  *httptest.Server
	hub *fakeHub
}

func newTestFleet(t *testing.T, cfg Config) *testFleet {
	t.Helper()
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	hub := newFakeHub(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return &testFleet{t: t, s: s, ts: ts, hub: hub}
}

// registration returns the registration the spawner would send for u/s.
func (f *testFleet) registration(user, server string) Registration {
	base := "/user/" + user + "/"
	client := "jupyterhub-user-" + user
	if server != "" {
		base += server + "/"
		client += "-" + server
	}
	return Registration{
		User: user, ServerName: server, BaseURL: base,
		APIToken: "server-token-" + user + "-" + server, OAuthClientID: client,
		HubAPIURL: f.hub.apiURL(), HubPrefix: "/hub/", HubVersion: "5.5.1",
	}
}

// put registers u/s through the control API and returns the registration.
func (f *testFleet) put(user, server string) Registration {
	f.t.Helper()
	reg := f.registration(user, server)
	seg := server
	if seg == "" {
		seg = defaultServerSegment
	}
	resp := f.control(http.MethodPut, "/_fleet/servers/"+url.PathEscape(user)+"/"+url.PathEscape(seg), reg)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("PUT %s/%s: %d %s", user, server, resp.StatusCode, readBody(resp))
	}
	resp.Body.Close()
	return reg
}

func (f *testFleet) control(method, path string, body any) *http.Response {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.ts.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

// do sends a request to the fleet with an optional token.
func (f *testFleet) do(method, path, token string, body any, hdr ...string) *http.Response {
	f.t.Helper()
	return f.doClient(noRedirectClient(nil), method, path, token, body, hdr...)
}

func (f *testFleet) doClient(c *http.Client, method, path, token string, body any, hdr ...string) *http.Response {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, f.ts.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func noRedirectClient(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func newJar(t *testing.T) *cookiejar.Jar {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

func readBody(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// decodeJSON reads resp's body into v, failing the test on error.
func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: bad JSON %q: %v", resp.Request.Method, resp.Request.URL.Path, b, err)
	}
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, readBody(resp))
	}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx, cancel
}

func jsonUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
}
