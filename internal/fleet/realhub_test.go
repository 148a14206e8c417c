package fleet

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// realHub is a real JupyterHub (from .hubcap/venvs) with its own
// configurable-http-proxy, using FleetSpawner against an in-process fleet.
// Test-only; internal/hub is the full harness.
type realHub struct {
	t            testing.TB
	dir          string
	proxyURL     string // public URL (through the proxy)
	serviceToken string
	fleet        *Server
	fleetURL     string
	start        func() // (re)starts the hub process
	stop         func() // stops it
}

// findHubcapRoot returns the directory holding .hubcap/: $HUBCAP_HOME, or
// the nearest one above the working directory.
func findHubcapRoot() (string, error) {
	if h := os.Getenv("HUBCAP_HOME"); h != "" {
		return h, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, ".hubcap")); err == nil && fi.IsDir() {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no .hubcap directory above the working directory")
		}
		dir = up
	}
}

// requireHub returns the jupyterhub executable of release and the proxy,
// skipping (failing with HUBCAP_REQUIRE_HUBS=1) when not installed.
func requireHub(t testing.TB, release string) (jupyterhub, chp string) {
	t.Helper()
	skip := func(why string) {
		t.Helper()
		testenv.Missing(t, fmt.Sprintf("jupyterhub %s (%s)", release, why), testenv.SetupHint)
	}
	root, err := findHubcapRoot()
	if err != nil {
		skip(err.Error())
	}
	jupyterhub = filepath.Join(root, ".hubcap", "venvs", "jupyterhub-"+release, "bin", "jupyterhub")
	chp = filepath.Join(root, ".hubcap", "node", "node_modules", ".bin", "configurable-http-proxy")
	for _, p := range []string{jupyterhub, chp} {
		if _, err := os.Stat(p); err != nil {
			skip(err.Error())
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		skip("node is not on PATH")
	}
	return jupyterhub, chp
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startGroup starts cmd in its own process group; the returned stop (also
// run in t.Cleanup) sends the group SIGTERM, then SIGKILL after grace.
func startGroup(t testing.TB, cmd *exec.Cmd, grace time.Duration) (stop func()) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", filepath.Base(cmd.Path), err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			pgid := cmd.Process.Pid
			syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(grace):
			}
			syscall.Kill(-pgid, syscall.SIGKILL) // also any stragglers of the group
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

func startRealHub(t testing.TB, release string, opts SpawnerOptions) *realHub {
	t.Helper()
	jupyterhub, chp := requireHub(t, release)
	dir := t.TempDir()
	h := &realHub{t: t, dir: dir, serviceToken: randomHex(16)}

	// the fleet, in-process
	fleetSecret := randomHex(16)
	h.fleet = New(Config{Secret: fleetSecret, ExecTime: ExecTime{Mean: 10 * time.Millisecond}, LabPageBytes: 50000})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.fleet.Serve(ln)
	t.Cleanup(func() { h.fleet.Close() })
	h.fleetURL = "http://" + ln.Addr().String()

	proxyPort, apiPort, hubPort := freePort(t), freePort(t), freePort(t)
	h.proxyURL = fmt.Sprintf("http://127.0.0.1:%d", proxyPort)
	proxyToken := randomHex(16)

	if err := os.WriteFile(filepath.Join(dir, SpawnerModule+".py"), []byte(SpawnerPython), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`import os, sys
sys.path.insert(0, %[1]q)
c = get_config()
c.JupyterHub.bind_url = "http://127.0.0.1:%[2]d"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = %[3]d
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%[4]d"
c.JupyterHub.db_url = "sqlite:///" + os.path.join(%[1]q, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(%[1]q, "jupyterhub_cookie_secret")
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.allow_named_servers = True
c.JupyterHub.cleanup_servers = False
c.JupyterHub.services = [{"name": "hubcap-test", "api_token": os.environ["HUBCAP_TEST_SERVICE_TOKEN"]}]
c.JupyterHub.load_roles = [{
    "name": "hubcap-test",
    "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens", "read:users", "read:servers"],
    "services": ["hubcap-test"],
}]
`, dir, proxyPort, hubPort, apiPort)
	cfg += SpawnerConfig(opts)
	cfgPath := filepath.Join(dir, "jupyterhub_config.py")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"CONFIGPROXY_AUTH_TOKEN="+proxyToken,
		"HUBCAP_TEST_SERVICE_TOKEN="+h.serviceToken,
		EnvFleetURL+"="+h.fleetURL,
		EnvFleetSecret+"="+fleetSecret,
	)
	logf, err := os.Create(filepath.Join(dir, "hub.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logf.Close()
		if t.Failed() || os.Getenv("HUBCAP_FLEET_SHOW_LOG") != "" {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("hub and proxy log (tail):\n%s", b)
		}
	})

	proxy := exec.Command(chp, "--ip", "127.0.0.1", "--port", fmt.Sprint(proxyPort),
		"--api-ip", "127.0.0.1", "--api-port", fmt.Sprint(apiPort),
		"--default-target", fmt.Sprintf("http://127.0.0.1:%d", hubPort),
		"--error-target", fmt.Sprintf("http://127.0.0.1:%d/hub/error", hubPort))
	proxy.Env, proxy.Dir, proxy.Stdout, proxy.Stderr = env, dir, logf, logf
	startGroup(t, proxy, 2*time.Second)

	h.start = func() {
		hubCmd := exec.Command(jupyterhub, "-f", cfgPath)
		hubCmd.Env, hubCmd.Dir, hubCmd.Stdout, hubCmd.Stderr = env, dir, logf, logf
		h.stop = startGroup(t, hubCmd, 10*time.Second)
		h.waitUp()
	}
	h.start()
	return h
}

// waitUp waits until the hub answers through the proxy.
func (h *realHub) waitUp() {
	h.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(h.proxyURL + "/hub/api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatal("jupyterhub did not answer through the proxy within 90 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// api calls the hub's REST API with the service token.
func (h *realHub) api(method, path string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.proxyURL+"/hub/api"+path, rd)
	req.Header.Set("Authorization", "token "+h.serviceToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 400 {
		h.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func TestRealHub(t *testing.T) {
	releases := []string{"5.5.1", "5.3.0"}
	if testing.Short() {
		releases = releases[:1]
	}
	for _, rel := range releases {
		t.Run(rel, func(t *testing.T) { testRealHub(t, rel) })
	}
}

func testRealHub(t *testing.T, release string) {
	h := startRealHub(t, release, SpawnerOptions{StateBytes: 700, UserOptionsBytes: 300})
	ctx, _ := contextWithTimeout(t, 2*time.Minute)

	if code := h.api("POST", "/users", map[string]any{"usernames": []string{"alice"}}, nil); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	code := h.api("POST", "/users/alice/servers/s1", nil, nil)
	if code != 201 && code != 202 {
		t.Fatalf("start server: %d", code)
	}
	var user struct {
		Servers map[string]struct {
			Ready       bool           `json:"ready"`
			URL         string         `json:"url"`
			State       map[string]any `json:"state"`
			UserOptions map[string]any `json:"user_options"`
		} `json:"servers"`
	}
	for {
		h.api("GET", "/users/alice", nil, &user)
		if user.Servers["s1"].Ready {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("server s1 never became ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv := user.Servers["s1"]
	if srv.URL != "/user/alice/s1/" {
		t.Errorf("server url %q", srv.URL)
	}
	if srv.State["pod_name"] != "jupyter-alice--s1" || srv.State["dns_name"] != "jupyter-alice--s1.jhub.svc.cluster.local" {
		t.Errorf("spawner state %v lacks KubeSpawner's fields", srv.State)
	}
	if b, _ := json.Marshal(srv.State); len(b) < 690 || len(b) > 710 {
		t.Errorf("spawner state is %d bytes of JSON, want about 700", len(b))
	}
	if srv.UserOptions["profile"] != "workshop" {
		t.Errorf("user_options %v lack the default profile", srv.UserOptions)
	}
	if h.fleet.Len() != 1 {
		t.Fatalf("fleet has %d servers registered, want 1", h.fleet.Len())
	}

	// a token of alice's, straight to the server through the proxy
	var tok struct{ Token string }
	if code := h.api("POST", "/users/alice/tokens", map[string]any{"note": "hubcap fleet test", "expires_in": 600}, &tok); code != 201 {
		t.Fatalf("create token: %d", code)
	}
	req, _ := http.NewRequest("GET", h.proxyURL+"/user/alice/s1/api/status", nil)
	req.Header.Set("Authorization", "token "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, 200)
	resp.Body.Close()
	resp, err = http.Get(h.proxyURL + "/user/alice/s1/api/status")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, 403)
	resp.Body.Close()

	// a browser: hub login, then the server's OAuth dance, ending on /lab
	jar := newJar(t)
	browser := &http.Client{Jar: jar}
	const ua = "Mozilla/5.0 (hubcap fleet test)"
	get := func(u string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp = get(h.proxyURL + "/hub/login")
	wantStatus(t, resp, 200)
	resp.Body.Close()
	hubURL, _ := url.Parse(h.proxyURL + "/hub/")
	var hubXSRF string
	for _, c := range jar.Cookies(hubURL) {
		if c.Name == "_xsrf" {
			hubXSRF = c.Value
		}
	}
	form := url.Values{"_xsrf": {hubXSRF}, "username": {"alice"}, "password": {"any"}}
	req, _ = http.NewRequest("POST", h.proxyURL+"/hub/login?next="+url.QueryEscape("/user/alice/s1/lab"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", ua)
	resp, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(resp)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/user/alice/s1/lab" || len(page) != 50000 || !strings.Contains(page, `"hubUser":"alice"`) {
		t.Fatalf("login ended at %s with %d and %d bytes, want the fleet's 50000-byte /user/alice/s1/lab", resp.Request.URL.Path, resp.StatusCode, len(page))
	}
	// cookie-authenticated API calls: xsrf required for POST
	srvURL, _ := url.Parse(h.proxyURL + "/user/alice/s1/")
	var xsrf string
	for _, c := range jar.Cookies(srvURL) {
		if c.Name == "_xsrf" {
			xsrf = c.Value
		}
	}
	post := func(path, body string, withXSRF bool) *http.Response {
		req, _ := http.NewRequest("POST", h.proxyURL+path, strings.NewReader(body))
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Content-Type", "application/json")
		if withXSRF {
			req.Header.Set("X-XSRFToken", xsrf)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	sessionBody := `{"path":"workshop.ipynb","type":"notebook","name":"","kernel":{"name":"python3"}}`
	resp = post("/user/alice/s1/api/sessions", sessionBody, false)
	wantStatus(t, resp, 403)
	resp.Body.Close()
	resp = post("/user/alice/s1/api/sessions", sessionBody, true)
	wantStatus(t, resp, 201)
	var se struct {
		Kernel struct{ ID string } `json:"kernel"`
	}
	decodeJSON(t, resp, &se)

	// the kernel websocket through the proxy, with the token (v1) and with
	// the browser's cookies (legacy)
	wsURL := "ws" + strings.TrimPrefix(h.proxyURL, "http") + "/user/alice/s1/api/kernels/" + se.Kernel.ID + "/channels"
	for _, c := range []struct {
		proto kernel.Protocol
		opts  kernel.DialOptions
	}{
		{kernel.ProtocolV1, kernel.DialOptions{Header: http.Header{"Authorization": {"token " + tok.Token}}}},
		{kernel.ProtocolLegacy, kernel.DialOptions{Jar: jar, Header: http.Header{"User-Agent": {ua}}}},
	} {
		c.opts.Protocol, c.opts.Timeout = c.proto, 10*time.Second
		conn, err := kernel.Dial(ctx, wsURL, c.opts)
		if err != nil {
			t.Fatalf("%s websocket through the proxy: %v", c.proto, err)
		}
		res, err := conn.Execute(ctx, "print(6 * 7)")
		conn.Close()
		if err != nil || res.Stdout != "42\n" || res.Status != "ok" {
			t.Fatalf("%s execute: %+v %v", c.proto, res, err)
		}
	}

	// a hub restart keeps the server (cleanup_servers = False): the hub
	// loads the spawner's state and polls the fleet
	h.stop()
	h.start()
	user.Servers = nil
	h.api("GET", "/users/alice", nil, &user)
	if !user.Servers["s1"].Ready || user.Servers["s1"].State["pod_name"] != "jupyter-alice--s1" {
		t.Fatalf("after a hub restart the server is %+v, want ready with its state", user.Servers["s1"])
	}
	req, _ = http.NewRequest("GET", h.proxyURL+"/user/alice/s1/api/kernels", nil)
	req.Header.Set("Authorization", "token "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, 200)
	resp.Body.Close()

	// stopping through the hub unregisters the server
	if code := h.api("DELETE", "/users/alice/servers/s1", nil, nil); code != 204 && code != 202 {
		t.Fatalf("stop: %d", code)
	}
	for h.fleet.Len() != 0 {
		if ctx.Err() != nil {
			t.Fatal("the fleet still has the server after the hub stopped it")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
