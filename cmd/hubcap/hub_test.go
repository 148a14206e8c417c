package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/proc"
)

// TestHubUpRestartDown drives a detached hub through the CLI as a user
// would: up, status, restart, down; nothing may be left running.
func TestHubUpRestartDown(t *testing.T) {
	hubtest.Require(t, "5.5.1")
	dir := t.TempDir()
	t.Cleanup(func() { runArgs(t, "hub", "down", "--run-dir", dir) })

	code, out, errs := runArgs(t, "hub", "up", "--release", "5.5.1", "--run-dir", dir, "--json")
	if code != ExitOK {
		t.Fatalf("hub up: exit %d\n%s%s", code, out, errs)
	}
	var up struct {
		URL       string
		TokenFile string `json:"token_file"`
		Start     hub.StartReport
	}
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("hub up --json: %v\n%s", err, out)
	}
	tok, err := hub.ReadToken(filepath.Join(dir, hub.ServiceTokenFile))
	if err != nil || strings.Contains(out+errs, tok) {
		t.Fatalf("token %v, or printed by hub up", err)
	}
	if up.Start.Outcome.Kind != hub.OutcomeHealthy || up.TokenFile != filepath.Join(dir, hub.ServiceTokenFile) {
		t.Fatalf("hub up result %+v", up)
	}
	st, err := hub.ReadState(dir)
	if err != nil || !st.Detached {
		t.Fatalf("state %+v %v", st, err)
	}
	// Detached: own sessions, so a Ctrl-C in the terminal does not reach them.
	for _, p := range []proc.Proc{st.Hub, st.Proxy} {
		s, err := proc.ReadStat(p.PID)
		if err != nil || s.Session != p.PID {
			t.Errorf("pid %d not a session leader: %+v %v", p.PID, s, err)
		}
	}

	// A second up on the same run directory is refused and changes nothing.
	if code, _, errs := runArgs(t, "hub", "up", "--release", "5.5.1", "--run-dir", dir); code != ExitAlreadyRunning || !strings.Contains(errs, "hub down") {
		t.Fatalf("second hub up: exit %d\n%s", code, errs)
	}
	if again, _ := hub.ReadState(dir); again.Hub != st.Hub || again.Stopped {
		t.Fatalf("second hub up changed the state: %+v", again)
	}

	code, out, _ = runArgs(t, "hub", "status", "--run-dir", dir)
	if code != ExitOK || !strings.Contains(out, "running, healthy") || !strings.Contains(out, "RSS") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}

	code, out, errs = runArgs(t, "hub", "restart", "--run-dir", dir)
	if code != ExitOK || !strings.Contains(out, "restart: healthy") || !strings.Contains(out, "peak RSS") {
		t.Fatalf("restart: exit %d\n%s%s", code, out, errs)
	}
	st2, _ := hub.ReadState(dir)
	if st2.Proxy != st.Proxy || st2.Hub == st.Hub || st2.Starts != 2 || !proc.Alive(st2.Hub) {
		t.Fatalf("after restart: state %+v (before %+v)", st2, st)
	}

	code, out, errs = runArgs(t, "hub", "down", "--run-dir", dir)
	if code != ExitOK || !strings.Contains(out, "stopped") {
		t.Fatalf("down: exit %d\n%s%s", code, out, errs)
	}
	for _, p := range []proc.Proc{st.Hub, st.Proxy, st2.Hub} {
		if proc.Alive(p) {
			t.Errorf("pid %d alive after hub down", p.PID)
		}
	}
	code, out, _ = runArgs(t, "hub", "status", "--run-dir", dir)
	if code != ExitNotRunning || !strings.Contains(out, "stopped") {
		t.Fatalf("status after down: exit %d\n%s", code, out)
	}
	if code, _, _ := runArgs(t, "hub", "restart", "--run-dir", dir); code != ExitNotRunning {
		t.Fatalf("restart of a stopped hub: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, hub.LogFile)); err != nil {
		t.Fatal("run directory not kept")
	}
}

// TestHubUpFleet runs a hub whose servers are the detached fleet: a spawn
// through the hub API lands in the fleet and answers through the proxy;
// hub down stops the fleet too.
func TestHubUpFleet(t *testing.T) {
	hubtest.Require(t, "5.5.1")
	dir := t.TempDir()
	t.Cleanup(func() { runArgs(t, "hub", "down", "--run-dir", dir) })
	code, out, errs := runArgs(t, "hub", "up", "--release", "5.5.1", "--run-dir", dir, "--spawner", "fleet")
	if code != ExitOK {
		t.Fatalf("hub up --spawner fleet: exit %d\n%s%s", code, out, errs)
	}
	st, err := hub.ReadState(dir)
	if err != nil || len(st.Companions) != 1 || !proc.Alive(st.Companions[0].Proc) {
		t.Fatalf("fleet not recorded: %+v %v", st, err)
	}
	tok, _ := hub.ReadToken(filepath.Join(dir, hub.ServiceTokenFile))
	secretEnv, _ := os.ReadFile(filepath.Join(dir, "hub-env.json"))
	for _, f := range []string{hub.ConfigFile, hub.StateFile, hub.LogFile, fleetLogFile} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if strings.Contains(string(b), tok) {
			t.Errorf("%s contains the service token", f)
		}
	}
	var env map[string]string
	if err := json.Unmarshal(secretEnv, &env); err != nil || env["HUBCAP_FLEET_SECRET"] == "" {
		t.Fatalf("hub env file: %v", err)
	}
	fleetCmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(st.Companions[0].Proc.PID), "cmdline"))
	if strings.Contains(string(fleetCmdline), env["HUBCAP_FLEET_SECRET"]) {
		t.Error("fleet secret in the fleet's command line")
	}

	do := func(method, path string) int {
		req, _ := http.NewRequest(method, st.URL+path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "token "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := do("POST", "/hub/api/users/alice"); c != 201 {
		t.Fatalf("create user: %d", c)
	}
	if c := do("POST", "/hub/api/users/alice/servers/s1"); c != 201 && c != 202 {
		t.Fatalf("spawn: %d", c)
	}
	deadline := time.Now().Add(30 * time.Second)
	for do("GET", "/user/alice/s1/api/status") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("fleet server not reachable through the proxy after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	if code, out, errs := runArgs(t, "hub", "down", "--run-dir", dir); code != ExitOK {
		t.Fatalf("down: exit %d\n%s%s", code, out, errs)
	}
	for _, p := range []proc.Proc{st.Hub, st.Proxy, st.Companions[0].Proc} {
		if proc.Alive(p) {
			t.Errorf("pid %d alive after hub down", p.PID)
		}
	}
}
