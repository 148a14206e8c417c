package fleet

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestControlAPI(t *testing.T) {
	f := newTestFleet(t, Config{})

	// the secret is required
	req, _ := http.NewRequest("GET", f.ts.URL+"/_fleet/servers", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, http.StatusUnauthorized)
	body := readBody(resp)
	if strings.Contains(body, testSecret) {
		t.Fatalf("the refusal echoes the secret")
	}

	reg := f.registration("alice", "s1")
	resp = f.control("PUT", "/_fleet/servers/alice/s1", reg)
	wantStatus(t, resp, http.StatusOK)
	var put struct{ URL string }
	decodeJSON(t, resp, &put)
	if put.URL != f.ts.URL {
		t.Errorf("PUT returned url %q, want the fleet's own %q", put.URL, f.ts.URL)
	}

	resp = f.control("GET", "/_fleet/servers/alice/s1", nil)
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	resp = f.control("GET", "/_fleet/servers/alice/s2", nil)
	wantStatus(t, resp, http.StatusNotFound)
	resp.Body.Close()

	// the list carries no secrets
	resp = f.control("GET", "/_fleet/servers", nil)
	wantStatus(t, resp, http.StatusOK)
	list := readBody(resp)
	if !strings.Contains(list, `"base_url":"/user/alice/s1/"`) || strings.Contains(list, reg.APIToken) {
		t.Errorf("list %s", list)
	}

	// mismatched body and URL, bad registrations
	resp = f.control("PUT", "/_fleet/servers/alice/other", reg)
	wantStatus(t, resp, http.StatusBadRequest)
	resp.Body.Close()
	bad := reg
	bad.BaseURL = "/user/alice/s1" // no trailing slash
	resp = f.control("PUT", "/_fleet/servers/alice/s1", bad)
	wantStatus(t, resp, http.StatusBadRequest)
	resp.Body.Close()

	resp = f.control("DELETE", "/_fleet/servers/alice/s1", nil)
	wantStatus(t, resp, http.StatusNoContent)
	resp.Body.Close()
	resp = f.control("GET", "/_fleet/servers/alice/s1", nil)
	wantStatus(t, resp, http.StatusNotFound)
	resp.Body.Close()
	// stopped server: what the proxy would answer
	resp = f.do("GET", "/user/alice/s1/api/status", "", nil)
	wantStatus(t, resp, http.StatusServiceUnavailable)
	resp.Body.Close()

	// health needs no secret
	resp, err = http.Get(f.ts.URL + "/_fleet/health")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
}

func TestDefaultServerAndEscapedNames(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "")
	reg := f.registration("a@b", "")
	reg.BaseURL = "/user/a%40b/"
	resp := f.control("PUT", "/_fleet/servers/a%40b/_default", reg)
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	f.hub.addUser("t1", "alice")
	f.hub.addUser("t2", "a@b")

	resp = f.do("GET", "/user/alice/api/status", "t1", nil)
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	resp = f.do("GET", "/user/a%40b/api/status", "t2", nil)
	wantStatus(t, resp, http.StatusOK)
	resp.Body.Close()
	// the base URL without its slash redirects to it
	resp = f.do("GET", "/user/alice", "", nil)
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/user/alice/" {
		t.Errorf("Location %q", loc)
	}
	// the base URL itself goes to lab, without auth (as jupyter_server)
	resp = f.do("GET", "/user/alice/", "", nil)
	wantStatus(t, resp, http.StatusFound)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/user/alice/lab" {
		t.Errorf("Location %q", loc)
	}
	// the hub's readiness check: {url}{base_url}api answers without auth,
	// with the hub's version header
	resp = f.do("GET", "/user/alice/api", "", nil)
	wantStatus(t, resp, http.StatusOK)
	if resp.Header.Get("X-JupyterHub-Version") != "5.5.1" {
		t.Errorf("X-JupyterHub-Version %q", resp.Header.Get("X-JupyterHub-Version"))
	}
	resp.Body.Close()
}

func TestLongestPrefixDispatch(t *testing.T) {
	f := newTestFleet(t, Config{})
	// a default server whose user is "alice" and a named one: /user/alice/s1/
	// must go to the named server, /user/alice/other to the default one.
	f.put("alice", "")
	f.put("alice", "s1")
	f.hub.addUser("t", "alice")
	inst, rest, _ := f.s.lookup("/user/alice/s1/api/status")
	if inst == nil || inst.reg.ServerName != "s1" || rest != "api/status" {
		t.Fatalf("lookup(/user/alice/s1/api/status) = %v, %q", inst, rest)
	}
	inst, rest, _ = f.s.lookup("/user/alice/s2/api/status")
	if inst == nil || inst.reg.ServerName != "" || rest != "s2/api/status" {
		t.Fatalf("lookup(/user/alice/s2/...) = %v, %q", inst, rest)
	}
	inst, _, exact := f.s.lookup("/user/alice/s1")
	if inst == nil || inst.reg.ServerName != "s1" || !exact {
		t.Fatalf("lookup(/user/alice/s1) = %v, exact %v; want s1's base URL without its slash", inst, exact)
	}
	if inst, _, _ := f.s.lookup("/user/bob/api"); inst != nil {
		t.Fatalf("lookup of an unregistered user found %v", inst.reg.BaseURL)
	}
}

func TestReRegistrationDropsKernels(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.hub.addUser("t", "alice")
	resp := f.do("POST", "/user/alice/s1/api/kernels", "t", map[string]string{"name": "python3"})
	wantStatus(t, resp, http.StatusCreated)
	resp.Body.Close()
	f.put("alice", "s1") // a new start of the same server
	var ks []map[string]any
	resp = f.do("GET", "/user/alice/s1/api/kernels", "t", nil)
	decodeJSON(t, resp, &ks)
	if len(ks) != 0 {
		t.Fatalf("a re-registered server kept %d kernels", len(ks))
	}
}

func TestMaxServers(t *testing.T) {
	f := newTestFleet(t, Config{MaxServers: 2})
	f.put("a", "")
	f.put("b", "")
	err := f.s.Register(f.registration("c", ""))
	if !errors.Is(err, ErrFleetFull) {
		t.Fatalf("third registration: %v, want ErrFleetFull", err)
	}
	// replacing an existing one is fine when full
	if err := f.s.Register(f.registration("a", "")); err != nil {
		t.Fatal(err)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fleet.jsonl")
	hub := newFakeHub(t)
	reg := func(u, s string) Registration {
		return Registration{User: u, ServerName: s, BaseURL: "/user/" + u + "/" + s + "/", APIToken: "tok-" + u + s,
			OAuthClientID: "jupyterhub-user-" + u + "-" + s, HubAPIURL: hub.apiURL()}
	}
	s1, err := Open(Config{Secret: "x", StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if err := s1.Register(reg("u", fmt.Sprint("s", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 30; i += 2 {
		s1.Unregister("u", fmt.Sprint("s", i))
	}
	s1.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file %v mode %v, want 0600 (it holds tokens)", err, fi.Mode())
	}
	// a crash may cut the last line
	fh, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	fh.WriteString(`{"put":{"user":"cut`)
	fh.Close()

	s2, err := Open(Config{Secret: "x", StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := s2.Len(); got != 15 {
		t.Fatalf("restored %d servers, want 15", got)
	}
	for _, si := range s2.List() {
		var n int
		fmt.Sscanf(si.ServerName, "s%d", &n)
		if n%2 == 0 {
			t.Errorf("unregistered server %s came back", si.ServerName)
		}
	}
	// compacted on open: one line per server
	b, _ := os.ReadFile(path)
	if lines := strings.Count(string(b), "\n"); lines != 15 {
		t.Errorf("state file has %d lines after open, want 15", lines)
	}
}

func TestServeAndClose(t *testing.T) {
	s := New(Config{Secret: "x"})
	ctx, cancel := contextWithTimeout(t, 5*time.Second)
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe(ctx, "127.0.0.1:0") }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
}

func TestConfigValidate(t *testing.T) {
	errs := Config{URL: "ftp://x", ExecTime: ExecTime{Mean: -1}, MaxServers: -1}.Validate()
	if len(errs) != 4 { // no secret, URL, ExecTime, MaxServers
		t.Fatalf("Validate found %d problems, want 4: %v", len(errs), errs)
	}
	for _, e := range errs {
		if !errors.Is(e, ErrConfig) {
			t.Errorf("%v does not wrap ErrConfig", e)
		}
	}
	if errs := (Config{Secret: "s"}).Validate(); len(errs) != 0 {
		t.Fatalf("a minimal config is invalid: %v", errs)
	}
}

func TestExecTimeSample(t *testing.T) {
	e := ExecTime{Mean: 100 * time.Millisecond, Jitter: 50 * time.Millisecond}
	cases := []struct {
		u    float64
		want time.Duration
	}{
		{0, 50 * time.Millisecond},    // lower bound
		{0.5, 100 * time.Millisecond}, // the mean
		{0.75, 125 * time.Millisecond},
	}
	for _, c := range cases {
		if got := e.Sample(c.u); got != c.want {
			t.Errorf("Sample(%v) = %v, want %v", c.u, got, c.want)
		}
	}
	// clamped at zero
	if got := (ExecTime{Mean: 10, Jitter: 100}).Sample(0); got != 0 {
		t.Errorf("negative sample not clamped: %v", got)
	}
}
