package fleet

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzInstanceAPI sends arbitrary requests, authenticated by a token the
// fleet already knows (no hub round trip), to a registered server: no
// panic, no kernel or file growth past the bounds.
func FuzzInstanceAPI(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"GET", "api/contents/workshop.ipynb", ""},
		{"PUT", "api/contents/a.ipynb", `{"type":"notebook","content":{"cells":[]}}`},
		{"PUT", "api/contents/b.txt", `{"type":"file","format":"base64","content":"aGk="}`},
		{"POST", "api/contents/data", `{"type":"directory"}`},
		{"PATCH", "api/contents/README.md", `{"path":"data/x.md"}`},
		{"POST", "api/sessions", `{"path":"a","type":"notebook","kernel":{"name":"python3"}}`},
		{"POST", "api/kernels", `{}`},
		{"DELETE", "api/kernels/x", ""},
		{"GET", "lab/tree/a%2Fb", ""},
		{"GET", "oauth_callback?code=a&state=b", ""},
		{"POST", "api/contents/%2e%2e/x/checkpoints", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	s := New(Config{Secret: "x", MaxKernelsPerServer: 2, MaxContentsBytes: 1 << 20, ActivityInterval: -1})
	defer s.Close()
	reg := Registration{User: "alice", ServerName: "s1", BaseURL: "/user/alice/s1/", APIToken: "t",
		OAuthClientID: "jupyterhub-user-alice-s1", HubAPIURL: "http://127.0.0.1:1/hub/api"}
	if err := s.Register(reg); err != nil {
		f.Fatal(err)
	}
	inst, _, _ := s.lookup("/user/alice/s1/")
	s.auth.put(authCacheKey(inst.gen, "", "tok"), &identity{name: "alice", kind: "user", allowed: true}, s.now())
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		switch method {
		case "GET", "PUT", "POST", "PATCH", "DELETE", "HEAD":
		default:
			method = "GET"
		}
		req, err := http.NewRequest(method, "http://fleet/user/alice/s1/"+strings.TrimLeft(path, "/"), bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "token tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if ct := rec.Header().Get("Content-Type"); ct == "application/json" && rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: invalid JSON reply %q", method, path, rec.Body.Bytes())
		}
		inst.mu.Lock()
		nk := len(inst.kernels)
		var fb int64
		if inst.fs != nil {
			fb = inst.fs.bytes
		}
		inst.mu.Unlock()
		if nk > 2 || fb > 1<<20 {
			t.Fatalf("bounds broken: %d kernels, %d file bytes", nk, fb)
		}
	})
}

// FuzzRegistration feeds arbitrary PUT bodies to the control API.
func FuzzRegistration(f *testing.F) {
	b, _ := json.Marshal(Registration{User: "u", ServerName: "s", BaseURL: "/user/u/s/", APIToken: "t", OAuthClientID: "c", HubAPIURL: "http://h/hub/api"})
	f.Add(b)
	f.Add([]byte(`{"user":"u","server_name":"s","base_url":"/_fleet/x/"}`))
	s := New(Config{Secret: "x", MaxServers: 100, ActivityInterval: -1})
	defer s.Close()
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("PUT", "http://fleet/_fleet/servers/u/s", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer x")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 503 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code == 200 {
			for _, si := range s.List() {
				if !strings.HasPrefix(si.BaseURL, "/") || !strings.HasSuffix(si.BaseURL, "/") || strings.HasPrefix(si.BaseURL, "/_fleet/") {
					t.Fatalf("accepted base_url %q", si.BaseURL)
				}
			}
		}
	})
}

func FuzzCleanContentsPath(f *testing.F) {
	for _, s := range []string{"a/b.ipynb", "%2e%2e/x", "../x", ".hidden", "a//b", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := cleanContentsPath(s)
		if !ok {
			return
		}
		for _, seg := range strings.Split(p, "/") {
			if p != "" && (seg == "" || seg == ".." || strings.HasPrefix(seg, ".")) {
				t.Fatalf("cleanContentsPath(%q) = %q lets a bad segment through", s, p)
			}
		}
	})
}
