package fleet

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenAuth(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.hub.addUser("tok-alice", "alice")
	f.hub.addUser("tok-bob", "bob")
	f.hub.addUser("tok-admin", "root", "access:servers", "admin:users")
	f.hub.addUser("tok-other-server", "alice", "access:servers!server=alice/s2")

	cases := []struct {
		name, token string
		want        int
	}{
		{"owner's token is accepted", "tok-alice", http.StatusOK},
		{"another user's token is refused", "tok-bob", http.StatusForbidden},
		{"an unfiltered access:servers scope is accepted", "tok-admin", http.StatusOK},
		{"a scope for another server of the owner is refused", "tok-other-server", http.StatusForbidden},
		{"a token the hub does not know is refused", "tok-unknown", http.StatusForbidden},
		{"no credentials at all is refused", "", http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := f.do("GET", "/user/alice/s1/api/status", c.token, nil)
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.want, readBody(resp))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json (API errors are JSON too)", ct)
			}
			if c.want == http.StatusOK {
				var st map[string]any
				decodeJSON(t, resp, &st)
				for _, k := range []string{"started", "last_activity", "kernels", "connections"} {
					if _, ok := st[k]; !ok {
						t.Errorf("status lacks %q: %v", k, st)
					}
				}
			} else {
				var e struct{ Message string }
				decodeJSON(t, resp, &e)
				if e.Message == "" {
					t.Errorf("error body has no message")
				}
			}
		})
	}
}

func TestTokenAuthCache(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.put("alice", "s2")
	f.hub.addUser("tok-alice", "alice")
	var clock = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.s.now = func() time.Time { return clock }

	get := func(path, token string) int {
		resp := f.do("GET", path, token, nil)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 3; i++ {
		if got := get("/user/alice/s1/api/status", "tok-alice"); got != 200 {
			t.Fatalf("request %d: status %d", i, got)
		}
	}
	if n := f.hub.userCalls.Load(); n != 1 {
		t.Fatalf("3 requests with one token asked the hub %d times, want 1 (cached)", n)
	}
	// each server has its own cache, as each real single-user server does
	get("/user/alice/s2/api/status", "tok-alice")
	if n := f.hub.userCalls.Load(); n != 2 {
		t.Fatalf("a second server asked the hub %d times in total, want 2", n)
	}
	// refusals are cached too (HubAuth caches None)
	get("/user/alice/s1/api/status", "tok-nobody")
	get("/user/alice/s1/api/status", "tok-nobody")
	if n := f.hub.userCalls.Load(); n != 3 {
		t.Fatalf("hub calls %d after two unknown-token requests, want 3", n)
	}
	// after the TTL the hub is asked again
	clock = clock.Add(301 * time.Second)
	get("/user/alice/s1/api/status", "tok-alice")
	if n := f.hub.userCalls.Load(); n != 4 {
		t.Fatalf("hub calls %d after the cache TTL, want 4", n)
	}
}

func TestHubErrorsAreServerErrors(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.hub.mu.Lock()
	f.hub.status = http.StatusBadGateway
	f.hub.mu.Unlock()
	resp := f.do("GET", "/user/alice/s1/api/status", "tok", nil)
	wantStatus(t, resp, http.StatusBadGateway)
	resp.Body.Close()
	// failures are not cached
	f.hub.mu.Lock()
	f.hub.status = 0
	f.hub.mu.Unlock()
	f.hub.addUser("tok", "alice")
	resp = f.do("GET", "/user/alice/s1/api/status", "tok", nil)
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
}

// login runs the browser side of the OAuth flow against the fleet, playing
// the hub's authorize step, and returns the cookie jar.
func login(t *testing.T, f *testFleet, reg Registration, token string) (*http.Client, *url.URL) {
	t.Helper()
	jar := newJar(t)
	c := noRedirectClient(jar)
	resp := f.doClient(c, "GET", reg.BaseURL+"lab?reset", "", nil, "User-Agent", "test-browser")
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Path != "/hub/api/oauth2/authorize" {
		t.Fatalf("redirect to %q, want the hub's authorize URL", loc.Path)
	}
	q := loc.Query()
	if q.Get("client_id") != reg.OAuthClientID || q.Get("redirect_uri") != reg.BaseURL+"oauth_callback" || q.Get("response_type") != "code" || q.Get("state") == "" {
		t.Fatalf("authorize query %v", q)
	}
	var stateCookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == reg.OAuthClientID+"-oauth-state" {
			stateCookie = ck
		}
	}
	if stateCookie == nil || stateCookie.Path != reg.BaseURL || !stateCookie.HttpOnly {
		t.Fatalf("state cookie %+v, want HttpOnly on %s", stateCookie, reg.BaseURL)
	}
	// the hub would now redirect to redirect_uri with a code
	f.hub.addCode("code-1", token)
	resp = f.doClient(c, "GET", reg.BaseURL+"oauth_callback?code=code-1&state="+url.QueryEscape(q.Get("state")), "", nil, "User-Agent", "test-browser")
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	if got := resp.Header.Get("Location"); got != reg.BaseURL+"lab?reset" {
		t.Fatalf("callback redirects to %q, want the page that started the login", got)
	}
	u, _ := url.Parse(f.ts.URL + reg.BaseURL)
	return c, u
}

func TestOAuthLogin(t *testing.T) {
	f := newTestFleet(t, Config{LabPageBytes: 20000})
	reg := f.put("alice", "s1")
	f.hub.addUser("oauth-tok", "alice")
	c, u := login(t, f, reg, "oauth-tok")

	f.hub.mu.Lock()
	form := f.hub.forms[0]
	f.hub.mu.Unlock()
	if form.Get("client_id") != reg.OAuthClientID || form.Get("client_secret") != reg.APIToken ||
		form.Get("redirect_uri") != reg.BaseURL+"oauth_callback" || form.Get("code_verifier") != "" {
		t.Errorf("token exchange form %v", form)
	}

	names := map[string]bool{}
	for _, ck := range c.Jar.Cookies(u) {
		names[ck.Name] = true
	}
	if !names[reg.OAuthClientID] || !names["_xsrf"] {
		t.Fatalf("cookies after login %v, want %s and _xsrf", names, reg.OAuthClientID)
	}
	if names[reg.OAuthClientID+"-oauth-state"] {
		t.Errorf("state cookie not cleared after the callback")
	}

	resp := f.doClient(c, "GET", reg.BaseURL+"lab", "", nil, "User-Agent", "test-browser")
	wantStatus(t, resp, http.StatusOK)
	page := readBody(resp)
	if len(page) != 20000 {
		t.Errorf("lab page is %d bytes, want the configured 20000", len(page))
	}
	if !strings.Contains(page, `"hubUser":"alice"`) || !strings.Contains(page, `"baseUrl":"/user/alice/s1/"`) {
		t.Errorf("lab page lacks the page config")
	}

	// cookie auth on the API: GET needs no xsrf, POST does
	resp = f.doClient(c, "GET", reg.BaseURL+"api/contents", "", nil, "User-Agent", "test-browser")
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	resp = f.doClient(c, "POST", reg.BaseURL+"api/contents", "", `{"type":"notebook"}`, "User-Agent", "test-browser")
	wantStatus(t, resp, http.StatusForbidden)
	resp.Body.Close()
	var xsrf string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "_xsrf" {
			xsrf = ck.Value
		}
	}
	resp = f.doClient(c, "POST", reg.BaseURL+"api/contents", "", `{"type":"notebook"}`, "User-Agent", "test-browser", "X-XSRFToken", "wrong"+xsrf)
	wantStatus(t, resp, http.StatusForbidden)
	resp.Body.Close()
	resp = f.doClient(c, "POST", reg.BaseURL+"api/contents", "", `{"type":"notebook"}`, "User-Agent", "test-browser", "X-XSRFToken", xsrf)
	wantStatus(t, resp, http.StatusCreated)
	resp.Body.Close()

	// the cookie belongs to this server only
	f.put("alice", "s2")
	resp = f.doClient(c, "GET", "/user/alice/s2/api/contents", "", nil)
	wantStatus(t, resp, http.StatusForbidden)
	resp.Body.Close()
}

func TestOAuthWrongUserAndBadState(t *testing.T) {
	f := newTestFleet(t, Config{})
	reg := f.put("alice", "")
	f.hub.addUser("tok-bob", "bob")
	jar := newJar(t)
	c := noRedirectClient(jar)
	resp := f.doClient(c, "GET", "/user/alice/lab", "", nil)
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	state := loc.Query().Get("state")
	if loc.Query().Get("client_id") != "jupyterhub-user-alice" {
		t.Fatalf("client_id %q", loc.Query().Get("client_id"))
	}

	// a state that does not match the cookie is refused before any exchange
	resp = f.doClient(c, "GET", "/user/alice/oauth_callback?code=x&state=forged", "", nil)
	wantStatus(t, resp, http.StatusForbidden)
	resp.Body.Close()
	if f.hub.tokenCalls.Load() != 0 {
		t.Fatalf("a forged state reached the hub")
	}

	// bob completes a login on alice's server: the cookie is set (as
	// upstream), but every page and API request is refused
	f.hub.addCode("c", "tok-bob")
	resp = f.doClient(c, "GET", "/user/alice/oauth_callback?code=c&state="+url.QueryEscape(state), "", nil)
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	resp = f.doClient(c, "GET", reg.BaseURL+"lab", "", nil)
	wantStatus(t, resp, http.StatusForbidden)
	resp.Body.Close()
	resp = f.doClient(c, "GET", reg.BaseURL+"api/status", "", nil)
	wantStatus(t, resp, http.StatusForbidden)
	resp.Body.Close()
}

func TestPKCEForHub6(t *testing.T) {
	f := newTestFleet(t, Config{})
	reg := f.registration("alice", "s1")
	reg.HubVersion = "6.0.0"
	if err := f.s.Register(reg); err != nil {
		t.Fatal(err)
	}
	f.hub.addUser("tok", "alice")
	jar := newJar(t)
	c := noRedirectClient(jar)
	resp := f.doClient(c, "GET", reg.BaseURL+"lab", "", nil)
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Fatalf("6.x authorize URL without PKCE: %v", q)
	}
	f.hub.addCode("c", "tok")
	resp = f.doClient(c, "GET", reg.BaseURL+"oauth_callback?code=c&state="+url.QueryEscape(q.Get("state")), "", nil)
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	f.hub.mu.Lock()
	verifier := f.hub.forms[0].Get("code_verifier")
	f.hub.mu.Unlock()
	sum := sha256.Sum256([]byte(verifier))
	if verifier == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge") {
		t.Fatalf("code_verifier %q does not match the challenge", verifier)
	}
}

func TestScopesAllow(t *testing.T) {
	req := []string{"access:servers!server=alice/s1", "access:servers!user=alice"}
	cases := []struct {
		held []string
		want bool
		why  string
	}{
		{[]string{"access:servers!user=alice"}, true, "the owner's user filter"},
		{[]string{"access:servers!server=alice/s1"}, true, "this server's filter"},
		{[]string{"access:servers"}, true, "unfiltered scope"},
		{[]string{"access:servers!server=alice/s10"}, false, "a server whose name extends this one"},
		{[]string{"access:servers!user=alic"}, false, "a user whose name prefixes the owner's"},
		{[]string{"access:servers!group=students"}, false, "groups cannot be resolved without the database"},
		{[]string{"read:servers!user=alice", "admin:users"}, false, "other bases"},
		{nil, false, "no scopes"},
	}
	for _, c := range cases {
		if got := scopesAllow(req, c.held); got != c.want {
			t.Errorf("%s: scopesAllow(%v) = %v, want %v", c.why, c.held, got, c.want)
		}
	}
	// a user filter grants the servers of that user (filter resolution)
	if !scopesAllow([]string{"access:servers!server=alice/s1"}, []string{"access:servers!user=alice"}) {
		t.Errorf("user=alice should grant server=alice/s1")
	}
}

func TestTokenFromRequest(t *testing.T) {
	cases := []struct {
		auth, query, mode, want string
	}{
		{"token abc", "", "", "abc"},
		{"Bearer abc", "", "", "abc"},
		{"TOKEN  abc ", "", "", "abc"},
		{"Basic abc", "", "", ""},
		{"tokenabc", "", "", ""},
		{"", "abc", "", ""},                // ?token= is off except on websockets
		{"", "abc", "websocket", "abc"},    // browsers send Sec-Fetch-Mode: websocket
		{"token h", "q", "websocket", "q"}, // the URL wins, as upstream
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "http://x/api?token="+c.query, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if c.mode != "" {
			r.Header.Set("Sec-Fetch-Mode", c.mode)
		}
		if got := tokenFromRequest(r); got != c.want {
			t.Errorf("auth %q query %q mode %q: got %q, want %q", c.auth, c.query, c.mode, got, c.want)
		}
	}
}

func TestSignedCookies(t *testing.T) {
	s := New(Config{Secret: "x"})
	defer s.Close()
	clock := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return clock }
	v := s.sign("name", "token|with|bars")
	if got := s.verify("name", v); got != "token|with|bars" {
		t.Fatalf("verify = %q", got)
	}
	if s.verify("other-name", v) != "" {
		t.Errorf("a cookie verified under another name")
	}
	if s.verify("name", v[:len(v)-2]+"AA") != "" {
		t.Errorf("a tampered signature verified")
	}
	other := New(Config{Secret: "x"})
	defer other.Close()
	if other.verify("name", v) != "" {
		t.Errorf("another fleet (another key) accepted the cookie")
	}
	clock = clock.Add(32 * 24 * time.Hour)
	if s.verify("name", v) != "" {
		t.Errorf("a 32-day-old cookie verified")
	}
}

func FuzzVerifyCookie(f *testing.F) {
	s := New(Config{Secret: "x"})
	defer s.Close()
	f.Add(s.sign("n", "v"))
	f.Add("a|b|c")
	f.Add("||")
	f.Fuzz(func(t *testing.T, c string) {
		_ = s.verify("n", c)
	})
}
