package attendee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

const testPassword = "pa55-w0rd-secret"

// sleeps records waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newSession(t *testing.T, h http.Handler, mut func(*Config)) (*Session, *samples.Buffer, *sleeps) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	buf := &samples.Buffer{}
	sl := &sleeps{}
	cfg := Config{HubURL: srv.URL, Username: "alice", Password: testPassword, Server: "ws", Sink: buf,
		Rand: rand.NewPCG(1, 2), Sleep: sl.Sleep, RequestTimeout: 5 * time.Second}
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, buf, sl
}

// loginPage is JupyterHub 5.x's login form (templates/login.html), reduced.
func loginPage(xsrf string) string {
	field := ""
	if xsrf != "" {
		field = `<input type="hidden" name="_xsrf" value="` + xsrf + `" />`
	}
	return `<html><body><form action="/hub/login?next=%2Fhub%2Fspawn%2Falice%2Fws" method="post" role="form">
` + field + `
<input id="username_input" type="text" autocapitalize="off" autocorrect="off" class="form-control" name="username" val="" autofocus="autofocus" />
<input type="password" class="form-control" autocomplete="current-password" name="password" id="password_input" />
<input id="login_submit" type="submit" class='btn btn-jupyter form-control' value='Sign in' tabindex="3" />
</form></body></html>`
}

type loginHub struct {
	xsrf       string // "" = a hub before 4.1
	wantPass   string
	xsrfBroken bool
	gotForm    url.Values
	mu         sync.Mutex
}

func (h *loginHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/hub/login" && r.Method == http.MethodGet:
		if h.xsrf != "" {
			http.SetCookie(w, &http.Cookie{Name: "_xsrf", Value: h.xsrf, Path: "/hub/"})
		}
		io.WriteString(w, loginPage(h.xsrf))
	case r.URL.Path == "/hub/login" && r.Method == http.MethodPost:
		r.ParseForm()
		h.mu.Lock()
		h.gotForm = r.PostForm
		h.mu.Unlock()
		if h.xsrf != "" && (h.xsrfBroken || r.PostForm.Get("_xsrf") != h.xsrf) {
			w.WriteHeader(403)
			io.WriteString(w, "<html><title>403</title><p>Login form invalid or expired. Try again.</p></html>")
			return
		}
		if r.PostForm.Get("password") != h.wantPass {
			w.WriteHeader(403)
			io.WriteString(w, loginPage(h.xsrf)+"<p>Invalid username or password</p>")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "jupyterhub-hub-login", Value: "signed-cookie-value", Path: "/hub/"})
		http.SetCookie(w, &http.Cookie{Name: "jupyterhub-session-id", Value: "sess", Path: "/"})
		http.Redirect(w, r, r.URL.Query().Get("next"), http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

func TestLogin(t *testing.T) {
	cases := []struct {
		name      string
		hub       *loginHub
		password  string
		wantErr   error
		wantXSRF  string
		hasXSRFIn bool
	}{
		{"4.1+ form with _xsrf", &loginHub{xsrf: "2|abc|def", wantPass: testPassword}, testPassword, nil, "2|abc|def", true},
		{"before 4.1: no _xsrf anywhere", &loginHub{wantPass: testPassword}, testPassword, nil, "", false},
		{"wrong password", &loginHub{xsrf: "x1", wantPass: "other"}, testPassword, ErrLoginFailed, "x1", true},
		{"xsrf rejected", &loginHub{xsrf: "x1", wantPass: testPassword, xsrfBroken: true}, testPassword, ErrXSRF, "x1", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, buf, _ := newSession(t, c.hub, func(cfg *Config) { cfg.Password = c.password })
			err := s.Login(context.Background())
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Login = %v, want %v", err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testPassword) {
				t.Errorf("error reveals the password: %v", err)
			}
			c.hub.mu.Lock()
			form := c.hub.gotForm
			c.hub.mu.Unlock()
			if _, has := form["_xsrf"]; has != c.hasXSRFIn || form.Get("_xsrf") != c.wantXSRF {
				t.Errorf("posted _xsrf %q (present %v), want %q", form.Get("_xsrf"), has, c.wantXSRF)
			}
			if form.Get("username") != "alice" || form.Get("password") != c.password {
				t.Errorf("posted form %v", form)
			}
			if err == nil && (s.next == nil || s.next.Path != "/hub/spawn/alice/ws") {
				t.Errorf("next = %v, want the spawn URL", s.next)
			}
			ok, failed := countOK(buf, MetricLogin)
			if (err == nil) != (ok == 1) || (err != nil) != (failed == 1) {
				t.Errorf("login samples ok=%d failed=%d for err %v", ok, failed, err)
			}
			for _, smp := range buf.Samples() {
				if smp.Metric == MetricErrors && (smp.Tags["phase"] != "login" || smp.Tags["status"] != "403") {
					t.Errorf("error sample tags %v", smp.Tags)
				}
			}
		})
	}
}

func TestLoginKeepsUserAgent(t *testing.T) {
	var uas []string
	var mu sync.Mutex
	inner := &loginHub{xsrf: "x", wantPass: testPassword}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uas = append(uas, r.Header.Get("User-Agent"))
		mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	s, _, _ := newSession(t, h, nil)
	if err := s.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	// the anonymous xsrf id hashes IP and User-Agent: both requests must agree
	if len(uas) != 2 || uas[0] != uas[1] || uas[0] != DefaultUserAgent("alice") {
		t.Errorf("User-Agents %q", uas)
	}
	if DefaultUserAgent("alice") == DefaultUserAgent("bob") {
		t.Errorf("attendees share a User-Agent")
	}
}

func TestSpawnThrottledAndFailed(t *testing.T) {
	var spawnCalls atomic.Int32
	failPending := false
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hub/spawn/alice/ws":
			if spawnCalls.Add(1) == 1 {
				w.Header().Set("Retry-After", "20")
				w.WriteHeader(429)
				io.WriteString(w, "<html><title>429</title>Too many users trying to log in right now. Try again in 20 seconds.</html>")
				return
			}
			http.Redirect(w, r, "/hub/spawn-pending/alice/ws", http.StatusFound)
		case "/hub/spawn-pending/alice/ws":
			if failPending {
				w.WriteHeader(500)
				io.WriteString(w, "<html><title>Spawn failed</title>not_running</html>")
				return
			}
			http.Redirect(w, r, "/user/alice/ws/", http.StatusFound)
		}
	})
	s, buf, sl := newSession(t, h, nil)
	if err := s.Spawn(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sl.d) != 1 || sl.d[0] < 20*time.Second || sl.d[0] > 22*time.Second {
		t.Errorf("waits %v, want one of Retry-After 20 s (+ ≤10 %% jitter)", sl.d)
	}
	throttled := 0
	for _, smp := range buf.Samples() {
		if smp.Metric == MetricThrottled {
			throttled++
		}
	}
	if throttled != 1 {
		t.Errorf("%d throttled samples", throttled)
	}
	failPending = true
	err := s.Spawn(context.Background())
	if !errors.Is(err, ErrSpawnFailed) || PhaseOf(err) != PhaseSpawn {
		t.Errorf("Spawn with a failing server = %v", err)
	}
}

func TestOAuthRedirects(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
		hops    float64
	}{
		{"full chain", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/user/alice/ws/":
				http.Redirect(w, r, "/user/alice/ws/lab", http.StatusFound)
			case "/user/alice/ws/lab":
				http.Redirect(w, r, "/hub/api/oauth2/authorize?client_id=jupyterhub-user-alice-ws&state=s", http.StatusFound)
			case "/hub/api/oauth2/authorize":
				http.Redirect(w, r, "/user/alice/ws/oauth_callback?code=c0de&state=s", http.StatusFound)
			case "/user/alice/ws/oauth_callback":
				http.SetCookie(w, &http.Cookie{Name: "jupyterhub-user-alice-ws", Value: "v", Path: "/user/alice/ws/"})
				http.Redirect(w, r, "/user/alice/ws/lab", http.StatusFound)
			}
		}, nil, 4},
		{"off-host redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.example/login?token=abc", http.StatusFound)
		}, ErrRedirect, 0},
		{"loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/user/alice/ws/", http.StatusFound)
		}, ErrRedirect, 0},
		{"page without cookie", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>lab</html>")
		}, ErrOAuth, 0},
		{"sent to the login page", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/hub/login?next=x", http.StatusFound)
		}, ErrNotLoggedIn, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, buf, _ := newSession(t, c.handler, nil)
			err := s.OAuth(context.Background())
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("OAuth = %v, want %v", err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "token=abc") {
				t.Errorf("error carries a query: %v", err)
			}
			if err == nil {
				for _, smp := range buf.Samples() {
					if smp.Metric == MetricOAuthRedirects && smp.Value != c.hops {
						t.Errorf("redirects = %v, want %v", smp.Value, c.hops)
					}
				}
			}
		})
	}
}

func TestSaveSendsServerXSRF(t *testing.T) {
	var got string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/user/alice/ws/lab":
			http.SetCookie(w, &http.Cookie{Name: "_xsrf", Value: "server-token", Path: "/user/alice/ws/"})
			io.WriteString(w, "<html>lab</html>")
		case r.Method == http.MethodPut:
			got = r.Header.Get("X-XSRFToken")
			w.WriteHeader(201)
			io.WriteString(w, `{"type":"notebook"}`)
		}
	})
	s, _, _ := newSession(t, h, nil)
	// a hub-path _xsrf must not be sent to the server
	hub, _ := url.Parse(s.base.String() + "/hub/")
	s.jar.SetCookies(hub, []*http.Cookie{{Name: "_xsrf", Value: "hub-token", Path: "/hub/"}})
	if _, err := s.LabLoad(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveNotebook(context.Background(), "a b.ipynb", Notebook("python3", "print(1)")); err != nil {
		t.Fatal(err)
	}
	if got != "server-token" {
		t.Errorf("X-XSRFToken = %q, want the server path's cookie", got)
	}
}

func TestKernelCallsNeedAKernel(t *testing.T) {
	s, buf, _ := newSession(t, http.NotFoundHandler(), nil)
	if err := s.ConnectKernel(context.Background()); !errors.Is(err, ErrNoKernel) {
		t.Errorf("ConnectKernel = %v", err)
	}
	if _, err := s.Execute(context.Background(), "1"); !errors.Is(err, ErrNoKernel) {
		t.Errorf("Execute = %v", err)
	}
	for _, smp := range buf.Samples() {
		if smp.Metric == MetricErrors && smp.Tags["error"] != "flow" {
			t.Errorf("error kind %v", smp.Tags)
		}
	}
}

func TestTemplate(t *testing.T) {
	s, err := New(Config{HubURL: "http://h/jhub", Username: "a b@x", Server: "ws+1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{"/jhub/hub/login", "/hub/login"},
		{"/jhub/hub/spawn/a%20b@x/ws%2B1", "/hub/spawn/:name/:server"},
		{"/jhub/hub/spawn-pending/a%20b@x/ws%2B1", "/hub/spawn-pending/:name/:server"},
		{"/jhub/hub/api/users/a%20b@x/servers/ws%2B1/progress", "/hub/api/users/:name/servers/:server/progress"},
		{"/jhub/hub/api/users/a%20b@x/tokens", "/hub/api/users/:name/tokens"},
		{"/jhub/user/a%20b@x/ws%2B1/api/contents/dir/nb.ipynb", "/user/:name/:server/api/contents/:path"},
		{"/jhub/user/a%20b@x/ws%2B1/api/sessions/1234", "/user/:name/:server/api/sessions/:id"},
		{"/jhub/user/a%20b@x/ws%2B1/api/kernels/k-1/channels", "/user/:name/:server/api/kernels/:id/channels"},
		{"/jhub/user/a%20b@x/ws%2B1/", "/user/:name/:server/"},
		{"/jhub/user/other/ws%2B1/", "/user/other/ws%2B1/"},
	}
	for _, c := range cases {
		u, _ := url.Parse("http://h" + c.path)
		if got := s.template(u); got != c.want {
			t.Errorf("template(%s) = %s, want %s", c.path, got, c.want)
		}
	}
}

func TestEscapePath(t *testing.T) {
	// urllib.parse.quote(s, safe="@~"), as jupyterhub.utils.url_escape_path
	cases := map[string]string{
		"alice": "alice", "a b": "a%20b", "x@y.z": "x@y.z", "a/b": "a%2Fb", "ü": "%C3%BC",
		"a+b": "a%2Bb", "~-_.": "~-_.", "a!b": "a%21b",
	}
	for in, want := range cases {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseForms(t *testing.T) {
	page := `<form id="spawn_form" action="/hub/spawn/alice/ws?_xsrf=t%26k&amp;x=1" method="POST">
<input type="hidden" name="h" value="v&amp;w">
<input type="radio" name="profile" value="small">
<input type="radio" name="profile" value="large" checked>
<input type="checkbox" name="gpu" checked>
<input type="checkbox" name="off" value="no">
<input type="text" name="disabled" value="d" disabled>
<select name="image"><option value="a">A</option><option value="b" selected>B</option></select>
<select name="first"><option value="one">1</option><option value="two">2</option></select>
<textarea name="notes">hello</textarea>
<input type="submit" name="go" value="Start">
</form>`
	forms := ParseForms(page)
	if len(forms) != 1 {
		t.Fatalf("%d forms", len(forms))
	}
	f := forms[0]
	want := url.Values{"h": {"v&w"}, "profile": {"large"}, "gpu": {"on"}, "image": {"b"}, "first": {"one"}, "notes": {"hello"}}
	if !reflect.DeepEqual(f.Fields, want) || f.Method != "post" || f.ID != "spawn_form" || f.Action != "/hub/spawn/alice/ws?_xsrf=t%26k&x=1" {
		t.Errorf("form %+v", f)
	}
	if _, ok := SpawnForm(page); !ok {
		t.Errorf("SpawnForm not found")
	}
	lf, ok := LoginForm(loginPage("tok"))
	if !ok || lf.Fields.Get("_xsrf") != "tok" || lf.Action != "/hub/login?next=%2Fhub%2Fspawn%2Falice%2Fws" {
		t.Errorf("login form %+v", lf)
	}
	if _, ok := LoginForm(`<a href="/hub/oauth_login">Sign in with GitHub</a>`); ok {
		t.Errorf("found a login form on an external-auth page")
	}
}

func TestProgressURL(t *testing.T) {
	// templates/spawn_pending.html (4.1 … 6.x), as jinja escapes it
	page := `<script>
      var evtSource = new EventSource("/hub/api/users/alice/servers/ws/progress?_xsrf=2|ab&amp;c");`
	got, ok := ProgressURL(page)
	if !ok || got != "/hub/api/users/alice/servers/ws/progress?_xsrf=2|ab&c" {
		t.Errorf("ProgressURL = %q, %v", got, ok)
	}
	if _, ok := ProgressURL("<html>no script</html>"); ok {
		t.Errorf("found a URL in a page without one")
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err          error
		status, kind string
	}{
		{&hubapi.APIError{Status: 503}, "503", "http"},
		{fmt.Errorf("%w: x %w", ErrLoginFailed, &hubapi.APIError{Status: 403}), "403", "http"},
		{context.DeadlineExceeded, "0", "timeout"},
		{fmt.Errorf("x: %w", kernel.ErrConnectionLost), "0", "websocket"},
		{kernel.ErrExecution, "0", "kernel"},
		{ErrCheck, "0", "check"},
		{ErrOAuth, "0", "flow"},
	}
	for _, c := range cases {
		if st, k := classify(c.err); st != c.status || k != c.kind {
			t.Errorf("classify(%v) = %s %s, want %s %s", c.err, st, k, c.status, c.kind)
		}
	}
}

func TestConfig(t *testing.T) {
	cfg := Config{HubURL: "http://127.0.0.1:8000", Username: "alice", Password: testPassword}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, cfg); strings.Contains(s, testPassword) {
			t.Errorf("%s reveals the password: %s", verb, s)
		}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprintf("%+v %#v", s, s), testPassword) {
		t.Errorf("session reveals the password")
	}
	bad := []Config{
		{Username: "a"},
		{HubURL: "http://h/hub", Username: "a"},
		{HubURL: "http://h", Username: ""},
		{HubURL: "http://h", Username: "a", Server: "x/y"},
		{HubURL: "http://h", Username: "a", PhaseTimeouts: map[Phase]time.Duration{"nope": time.Second}},
		{HubURL: "http://h", Username: "a", NotebookPath: "../x.ipynb"},
	}
	for _, c := range bad {
		if len(c.Validate()) == 0 {
			t.Errorf("%v validated", c)
		}
	}
}
