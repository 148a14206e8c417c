package hubapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// fakeClock records sleeps instead of sleeping.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

const testToken = "0123456789abcdef-secret"

func newTestClient(t *testing.T, h http.Handler, mut func(*Config)) (*Client, *fakeClock, *samples.Buffer) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	clk := newFakeClock()
	buf := &samples.Buffer{}
	cfg := Config{BaseURL: srv.URL, Token: testToken, Sink: buf, Now: clk.Now, Sleep: clk.Sleep,
		Rand: rand.NewPCG(1, 2), NamePrefix: "hubcap-", Timeout: 5 * time.Second}
	if mut != nil {
		mut(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk, buf
}

func countMetric(buf *samples.Buffer, name string) (n int) {
	for _, s := range buf.Samples() {
		if s.Metric == name {
			n += int(s.Value)
		}
	}
	return n
}

func hubJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status": %d, "message": %q}`, status, msg)
}

func TestThrottleRetryAfterHonoured(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			// the hub's concurrent_spawn_limit answer (handlers/base.py spawn_single_user)
			w.Header().Set("Retry-After", "37")
			hubJSONError(w, 429, "Too many users trying to log in right now. Try again in 40 seconds.")
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	c, clk, buf := newTestClient(t, h, func(c *Config) { c.Retry.MaxWait = 45 * time.Second })
	c.version = &HubVersion{Raw: "5.5.1", Major: 5, Minor: 5, Patch: 1}
	res, err := c.StartServer(context.Background(), "hubcap-a", "s1", nil)
	if err != nil || !res.Ready {
		t.Fatalf("StartServer = %+v, %v", res, err)
	}
	sleeps := clk.Sleeps()
	if len(sleeps) != 2 {
		t.Fatalf("slept %v, want two waits", sleeps)
	}
	for _, d := range sleeps {
		// Retry-After 37 s plus at most 10 % jitter
		if d < 37*time.Second || d > 40700*time.Millisecond {
			t.Errorf("wait %v outside [37s, 40.7s]", d)
		}
	}
	if got := countMetric(buf, MetricThrottled); got != 2 {
		t.Errorf("throttled samples = %d, want 2", got)
	}
	if got := countMetric(buf, MetricErrors); got != 0 {
		t.Errorf("error samples = %d, want 0", got)
	}
}

func TestThrottleBounded(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600") // longer than MaxWait
		hubJSONError(w, 429, "Too many users")
	})
	c, clk, buf := newTestClient(t, h, func(c *Config) { c.Retry.MaxThrottled = 3; c.Retry.MaxWait = 10 * time.Second })
	_, err := c.ListUsers(context.Background(), ListOptions{})
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrThrottled", err)
	}
	if calls.Load() != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", calls.Load())
	}
	for _, d := range clk.Sleeps() {
		if d > 10*time.Second {
			t.Errorf("wait %v exceeds MaxWait", d)
		}
	}
	if got := countMetric(buf, MetricThrottled); got != 4 {
		t.Errorf("throttled samples = %d, want 4", got)
	}
	if got := countMetric(buf, MetricErrors); got != 1 {
		t.Errorf("error samples = %d, want 1", got)
	}
}

func TestServerErrorRetries(t *testing.T) {
	cases := []struct {
		name      string
		method    string
		status    int
		wantCalls int32
	}{
		{"GET 502 retried", http.MethodGet, 502, 4},
		{"GET 500 retried", http.MethodGet, 500, 4},
		{"GET 501 not retried", http.MethodGet, 501, 1},
		{"POST 503 not retried", http.MethodPost, 503, 1},
		{"DELETE 504 retried", http.MethodDelete, 504, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				hubJSONError(w, c.status, "boom")
			})
			cl, clk, buf := newTestClient(t, h, nil)
			_, err := cl.Transport().Do(context.Background(), &Request{Method: c.method, URL: cl.apiURL(nil, "users"), Endpoint: "/hub/api/users", Phase: "t"})
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != c.status {
				t.Fatalf("err = %v, want APIError %d", err, c.status)
			}
			if calls.Load() != c.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), c.wantCalls)
			}
			if int32(len(clk.Sleeps())) != c.wantCalls-1 {
				t.Errorf("sleeps %v", clk.Sleeps())
			}
			if got := countMetric(buf, MetricRetries); got != int(c.wantCalls-1) {
				t.Errorf("retry samples %d", got)
			}
		})
	}
}

func TestServerErrorRecovers(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			hubJSONError(w, 503, "proxy")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name": "hubcap-x", "servers": {}}`)
	})
	c, _, _ := newTestClient(t, h, nil)
	u, err := c.User(context.Background(), "hubcap-x")
	if err != nil || u.Name != "hubcap-x" {
		t.Fatalf("User = %+v, %v", u, err)
	}
}

func TestConnectionErrors(t *testing.T) {
	// a port nobody listens on: the connection is refused, the request never sent
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	clk := newFakeClock()
	buf := &samples.Buffer{}
	c, err := New(Config{BaseURL: "http://" + addr, Token: testToken, Sink: buf, Sleep: clk.Sleep, Now: clk.Now, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	// POST is retried after a refused connection: it was never sent
	_, err = c.CreateUsers(context.Background(), "hubcap-a")
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Fatalf("err = %v", err)
	}
	if n := len(clk.Sleeps()); n != 2 {
		t.Errorf("POST after refused connection: %d retries, want 2", n)
	}
	if got := countMetric(buf, MetricErrors); got != 1 {
		t.Errorf("error samples %d", got)
	}
}

func TestPostNotRetriedAfterSend(t *testing.T) {
	// the server reads the request then drops the connection: a POST may have
	// taken effect and must not be repeated
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	})
	c, _, _ := newTestClient(t, h, nil)
	if _, err := c.CreateUsers(context.Background(), "hubcap-a"); err == nil {
		t.Fatal("no error")
	}
	if calls.Load() != 1 {
		t.Errorf("POST sent %d times", calls.Load())
	}
	calls.Store(0)
	if _, err := c.User(context.Background(), "hubcap-a"); err == nil {
		t.Fatal("no error")
	}
	if calls.Load() != 4 {
		t.Errorf("GET sent %d times, want 4", calls.Load())
	}
}

func TestPerCallTimeout(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c, _, _ := newTestClient(t, h, func(c *Config) { c.Timeout = 50 * time.Millisecond; c.MaxRetries = -1 })
	defer close(release)
	start := time.Now()
	_, err := c.User(context.Background(), "hubcap-a")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("timeout not applied")
	}
}

func TestScopeErrorFromHub(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hubJSONError(w, 403, "Action is not authorized with current scopes; requires any of [list:users]")
	})
	c, _, buf := newTestClient(t, h, nil)
	_, err := c.ListUsers(context.Background(), ListOptions{})
	var ae *APIError
	if !errors.As(err, &ae) || !errors.Is(err, ErrForbidden) {
		t.Fatalf("err = %v", err)
	}
	if len(ae.Scopes) != 1 || ae.Scopes[0] != "list:users" || !strings.Contains(ae.Hint, "create a token with scopes list:users") {
		t.Errorf("scopes %q hint %q", ae.Scopes, ae.Hint)
	}
	if ae.Path != "/hub/api/users" || strings.Contains(err.Error(), "offset=") {
		t.Errorf("path %q / error %q should carry no query", ae.Path, err)
	}
	var phase string
	for _, s := range buf.Samples() {
		if s.Metric == MetricErrors {
			phase = s.Tags["phase"] + "/" + s.Tags["status"]
		}
	}
	if phase != "list_users/403" {
		t.Errorf("error sample tags %q", phase)
	}
}

func TestMetricsForbiddenNamesScope(t *testing.T) {
	// /hub/metrics is a page handler: its 403 is an HTML page
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(403)
		io.WriteString(w, "<html><title>403 Forbidden</title><body>Access to metrics requires scope 'read:metrics'</body></html>")
	})
	c, _, _ := newTestClient(t, h, nil)
	_, err := c.Metrics(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || len(ae.Scopes) != 1 || ae.Scopes[0] != "read:metrics" {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	// a hostile server echoing the Authorization header into its error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hubJSONError(w, 400, "bad header "+r.Header.Get("Authorization"))
	})
	c, _, buf := newTestClient(t, h, nil)
	_, err := c.User(context.Background(), "hubcap-a")
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Errorf("error reveals the token: %v", err)
	}
	for _, s := range buf.Samples() {
		for k, v := range s.Tags {
			if strings.Contains(v, testToken) {
				t.Errorf("sample %s tag %s reveals the token", s.Metric, k)
			}
		}
	}
}

func TestSamplesPerRequest(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name": "hubcap-a", "servers": {}}`)
	})
	c, _, buf := newTestClient(t, h, nil)
	if _, err := c.User(context.Background(), "hubcap-a"); err != nil {
		t.Fatal(err)
	}
	var dur *samples.Sample
	sent, recv := 0.0, 0.0
	for _, s := range buf.Samples() {
		switch s.Metric {
		case MetricAPIDuration:
			dur = &s
		case MetricDataSent:
			sent += s.Value
		case MetricDataReceived:
			recv += s.Value
		}
	}
	if dur == nil || dur.Tags["endpoint"] != "/hub/api/users/:name" || dur.Tags["method"] != "GET" || dur.Tags["status"] != "200" {
		t.Fatalf("duration sample %+v", dur)
	}
	if sent <= 0 || recv < float64(len(`{"name": "hubcap-a", "servers": {}}`)) {
		t.Errorf("data sent %v received %v", sent, recv)
	}
}

func TestNotJupyterHub(t *testing.T) {
	cases := []struct {
		name     string
		base     string // path appended to the server URL
		handler  http.HandlerFunc
		contains []string
	}{
		{"plain web server", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "nginx/1.25")
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			io.WriteString(w, "<html><title>404 Not Found</title></html>")
		}, []string{"404 Not Found", "nginx/1.25", "pass the hub's public URL"}},
		{"jupyter server", "", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api" {
				io.WriteString(w, `{"version": "2.17.0"}`)
				return
			}
			w.WriteHeader(404)
		}, []string{"a Jupyter server", "2.17.0"}},
		{"user server URL", "/user/alice", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
		}, []string{"this URL is a user's server", "probably http://127.0.0.1"}},
		{"200 without version", "", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"ok": true}`)
		}, []string{"200 OK"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sawAuth atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					sawAuth.Store(true)
				}
				c.handler(w, r)
			}))
			defer srv.Close()
			cl, err := New(Config{BaseURL: srv.URL + c.base, Token: testToken})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.Version(context.Background())
			if !errors.Is(err, ErrNotJupyterHub) {
				t.Fatalf("err = %v, want ErrNotJupyterHub", err)
			}
			for _, s := range c.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if sawAuth.Load() {
				t.Errorf("the token was sent to something that is not a hub")
			}
		})
	}
}

func TestListUsersPagination(t *testing.T) {
	names := []string{"hubcap-a", "hubcap-b", "hubcap-c", "hubcap-d", "hubcap-e"}
	var legacy bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var off, lim int
		fmt.Sscan(q.Get("offset"), &off)
		fmt.Sscan(q.Get("limit"), &lim)
		end := min(off+lim, len(names))
		var items []string
		for _, n := range names[off:end] {
			items = append(items, fmt.Sprintf(`{"name": %q, "servers": {"": {"name": "", "stopped": true}}}`, n))
		}
		list := "[" + strings.Join(items, ",") + "]"
		if legacy || !strings.Contains(r.Header.Get("Accept"), "application/jupyterhub-pagination+json") {
			io.WriteString(w, list)
			return
		}
		next := "null"
		if end < len(names) {
			next = fmt.Sprintf(`{"offset": %d, "limit": %d, "url": "http://internal:8081/x"}`, end, lim)
		}
		fmt.Fprintf(w, `{"items": %s, "_pagination": {"offset": %d, "limit": %d, "total": %d, "next": %s}}`, list, off, lim, len(names), next)
	})
	c, _, _ := newTestClient(t, h, nil)
	for _, l := range []bool{false, true} {
		legacy = l
		users, err := c.ListUsers(context.Background(), ListOptions{PageSize: 2, IncludeStoppedServers: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != len(names) {
			t.Errorf("legacy=%v: %d users, want %d", l, len(users), len(names))
		}
	}
}

func TestGuard(t *testing.T) {
	var deletes atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			deletes.Add(1)
		}
		w.WriteHeader(204)
	})
	c, _, _ := newTestClient(t, h, nil)
	if err := c.DeleteUser(context.Background(), "alice"); !errors.Is(err, ErrGuard) {
		t.Errorf("DeleteUser(alice) = %v, want ErrGuard", err)
	}
	if err := c.StopServer(context.Background(), "alice", "s1", true); !errors.Is(err, ErrGuard) {
		t.Errorf("StopServer(remove) = %v, want ErrGuard", err)
	}
	// stopping without removal is not guarded
	if err := c.StopServer(context.Background(), "alice", "s1", false); err != nil {
		t.Errorf("StopServer(no remove) = %v", err)
	}
	noPrefix, _, _ := newTestClient(t, h, func(c *Config) { c.NamePrefix = "" })
	if err := noPrefix.DeleteUser(context.Background(), "hubcap-a"); !errors.Is(err, ErrGuard) {
		t.Errorf("empty prefix: %v", err)
	}
	if deletes.Load() != 1 {
		t.Errorf("%d DELETEs reached the hub, want 1", deletes.Load())
	}
}

// A large workshop behind concurrent_spawn_limit: one request is answered 429
// many more times than a small retry count allows; it keeps honouring
// Retry-After until the hub lets it through, counting every 429 as a throttle
// and none as an error.
func TestThrottleWaitsAsLongAsTheHubAsks(t *testing.T) {
	const refusals = 40
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= refusals {
			w.Header().Set("Retry-After", "2")
			hubJSONError(w, 429, "Too many users trying to log in right now. Try again in 2 seconds.")
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	c, clk, buf := newTestClient(t, h, nil)
	c.version = &HubVersion{Raw: "5.5.1", Major: 5, Minor: 5, Patch: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := c.StartServer(ctx, "hubcap-a", "s1", nil)
	if err != nil || !res.Ready {
		t.Fatalf("StartServer = %+v, %v", res, err)
	}
	if got := len(clk.Sleeps()); got != refusals {
		t.Errorf("%d waits, want %d", got, refusals)
	}
	for _, d := range clk.Sleeps() {
		if d < 2*time.Second || d > 2200*time.Millisecond {
			t.Errorf("wait %v outside Retry-After 2 s plus 10 %% jitter", d)
		}
	}
	if got := countMetric(buf, MetricThrottled); got != refusals {
		t.Errorf("throttled samples = %d, want %d", got, refusals)
	}
	if got := countMetric(buf, MetricErrors); got != 0 {
		t.Errorf("error samples = %d, want 0", got)
	}
}

// A wait that would end after the request's deadline is not started: the 429
// comes back at once as ErrThrottled saying why, counted as one error.
func TestThrottleStopsAtDeadline(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "30")
		hubJSONError(w, 429, "Too many users")
	})
	c, clk, buf := newTestClient(t, h, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.ListUsers(ctx, ListOptions{})
	if !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v, want ErrThrottled naming the deadline", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 {
		t.Errorf("err %v does not carry the 429 answer", err)
	}
	if calls.Load() != 1 || len(clk.Sleeps()) != 0 {
		t.Errorf("%d requests, waits %v; want 1 request and no wait", calls.Load(), clk.Sleeps())
	}
	if got := countMetric(buf, MetricThrottled); got != 1 {
		t.Errorf("throttled samples = %d, want 1", got)
	}
	if got := countMetric(buf, MetricErrors); got != 1 {
		t.Errorf("error samples = %d, want 1", got)
	}
}

// Without a deadline, ThrottleBudget bounds the total time waited.
func TestThrottleBudget(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		hubJSONError(w, 429, "Too many users")
	})
	c, clk, _ := newTestClient(t, h, func(c *Config) { c.Retry.ThrottleBudget = 100 * time.Second })
	_, err := c.ListUsers(context.Background(), ListOptions{})
	if !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), "ThrottleBudget") {
		t.Fatalf("err = %v, want ErrThrottled naming the budget", err)
	}
	var total time.Duration
	for _, d := range clk.Sleeps() {
		total += d
	}
	// 30–33 s per wait: three fit in 100 s, a fourth does not
	if n := len(clk.Sleeps()); n != 3 || total > 100*time.Second {
		t.Errorf("waits %v (total %v), want three within the 100 s budget", clk.Sleeps(), total)
	}
}
