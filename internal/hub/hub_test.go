package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/internal/testkit"
)

func TestGenerateConfigLocal(t *testing.T) {
	testkit.Golden(t, filepath.Join("testdata", "config-local.py"), GenerateConfig(ConfigParams{
		Release: "5.5.1", RunDir: "/run/hub", VenvBin: "/opt/venv/bin",
		ProxyPort: 8000, ProxyAPIPort: 8001, HubPort: 8081,
		Spawner: SpawnerLocal, ServersCgroupProcs: "/sys/fs/cgroup/memory/hubcap-ab-servers/cgroup.procs",
		ConcurrentSpawnLimit: 64, ExtraConfig: "c.JupyterHub.log_level = 'DEBUG'\n",
	}))
}

func TestGenerateConfigFleet(t *testing.T) {
	testkit.Golden(t, filepath.Join("testdata", "config-fleet.py"), GenerateConfig(ConfigParams{
		Release: "5.3.0", RunDir: `/tmp/dir with "quotes"`, VenvBin: "/v/bin",
		ProxyPort: 1, ProxyAPIPort: 2, HubPort: 3,
		Spawner: SpawnerFleet, SpawnerConfig: "from hubcap_fleet import FleetSpawner\nc.JupyterHub.spawner_class = FleetSpawner\n",
	}))
}

func TestConfigHasNoSecretsAndAllScopes(t *testing.T) {
	cfg := GenerateConfig(ConfigParams{Release: "5.5.1", RunDir: "/r", Spawner: SpawnerLocal})
	// The token reaches the hub only through the environment.
	if !strings.Contains(cfg, `os.environ["`+ServiceTokenEnv+`"]`) {
		t.Error("config does not read the service token from the environment")
	}
	for _, s := range ServiceScopes {
		if !strings.Contains(cfg, `"`+s+`"`) {
			t.Errorf("scope %s missing", s)
		}
	}
}

// Scope names must exist in the installed JupyterHub, or the hub refuses
// to start; this checks them against scopes.py when a release is installed.
func TestServiceScopesExistUpstream(t *testing.T) {
	root, err := FindRoot()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("the install root (%v)", err), SetupCommand)
	}
	ins := Installs(root)
	if len(ins) == 0 {
		testenv.Missing(t, "an installed JupyterHub release under "+root, SetupCommand)
	}
	for _, in := range ins {
		m, _ := filepath.Glob(filepath.Join(in.Dir, "lib", "python*", "site-packages", "jupyterhub", "scopes.py"))
		if len(m) == 0 {
			t.Fatalf("%s: no scopes.py", in.Dir)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ServiceScopes {
			if !strings.Contains(string(b), "'"+s+"': {") {
				t.Errorf("jupyterhub %s has no scope %q", in.Release, s)
			}
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := State{
		Release: "5.3.0", Root: "/r", RunDir: dir, Spawner: SpawnerFleet, Detached: true,
		Ports: Ports{Proxy: 1, ProxyAPI: 2, Hub: 3}, URL: "http://127.0.0.1:1",
		Proxy: proc.Proc{PID: 10, StartTime: 99}, Hub: proc.Proc{PID: 11, StartTime: 100},
		Tracked:     []proc.Proc{{PID: 12, StartTime: 101}},
		Companions:  []Companion{{Name: "fleet", Proc: proc.Proc{PID: 13, StartTime: 102}}},
		MemoryLimit: 2 << 30, Cgroup: "/sys/fs/cgroup/memory/hubcap-x-1", Starts: 2,
		EnvKeys: []string{"HUBCAP_FLEET_SECRET"}, StartTimeout: time.Minute, StopGrace: time.Second,
		StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		LastStart: &StartReport{Release: "5.3.0", Outcome: Outcome{Kind: OutcomeOOMKilled}, PeakRSS: 5},
	}
	if err := WriteState(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	in.Version = stateVersion
	if out.Hub != in.Hub || out.Companions[0] != in.Companions[0] || out.LastStart.Outcome != in.LastStart.Outcome ||
		out.MemoryLimit != in.MemoryLimit || out.StartTimeout != in.StartTimeout || !out.StartedAt.Equal(in.StartedAt) ||
		out.Ports != in.Ports || out.EnvKeys[0] != in.EnvKeys[0] {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if _, err := ReadState(t.TempDir()); !errors.Is(err, ErrNoState) {
		t.Fatalf("missing state: %v", err)
	}
	for _, bad := range []string{"{", `{"version": 99, "run_dir": "x", "release": "1"}`, `{"version": 1}`} {
		if _, err := ParseState([]byte(bad)); !errors.Is(err, ErrNoState) {
			t.Errorf("ParseState(%s) = %v", bad, err)
		}
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"version":1,"release":"5.5.1","run_dir":"/x","hub":{"pid":1,"start_time":2}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseState(b)
		if err == nil && (s.RunDir == "" || s.Release == "") {
			t.Fatal("accepted a state without run dir or release")
		}
	})
}

func TestValidateReportsEverything(t *testing.T) {
	o := Options{
		Release: "", MemoryLimit: 512, Spawner: "kube",
		SpawnerFiles: map[string][]byte{"../x.py": nil, ConfigFile: nil},
		Env:          map[string]string{ServiceTokenEnv: "x", "A=B": "y"},
		Ports:        Ports{Proxy: 8000, Hub: 8000}, ConcurrentSpawnLimit: -1,
	}
	errs := o.Validate()
	want := []string{"release is empty", "below 8Mi", `spawner "kube"`, `"../x.py"`, "overwrite hubcap's own file",
		"set by hubcap", `"A=B"`, "must differ", "spawn limit"}
	all := errors.Join(errs...).Error()
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("Validate misses %q in:\n%s", w, all)
		}
	}
	if errs := (Options{Release: "5.5.1", Spawner: SpawnerFleet}).Validate(); len(errs) != 1 {
		t.Errorf("fleet without config: %v", errs)
	}
	if errs := (Options{Release: "5.5.1", MemoryLimit: 2 << 30}).Validate(); len(errs) != 0 {
		t.Errorf("good options refused: %v", errs)
	}
}

// fakeRoot makes an install root with fake executables for error-path tests.
func fakeRoot(t *testing.T, releases ...string) string {
	t.Helper()
	root := t.TempDir()
	exe := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range releases {
		for _, b := range []string{"python", "jupyterhub", "jupyterhub-singleuser"} {
			exe(filepath.Join(root, ".hubcap", "venvs", "jupyterhub-"+r, "bin", b))
		}
	}
	exe(filepath.Join(root, ".hubcap", "node", "node_modules", ".bin", "configurable-http-proxy"))
	return root
}

func TestUnknownRelease(t *testing.T) {
	root := fakeRoot(t, "5.10.0", "5.3.0", "5.5.1")
	_, err := Start(context.Background(), Options{Release: "4.1.6", Root: root, RunDir: t.TempDir()})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v", err)
	}
	// Installed releases in numeric order, and how to install the missing one.
	for _, want := range []string{"4.1.6", "5.3.0, 5.5.1, 5.10.0", "make setup", "scripts/setup.sh 4.1.6"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	empty := t.TempDir()
	if _, err := FindInstall(empty, "5.5.1"); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "none") {
		t.Errorf("empty root: %v", err)
	}
}

func TestIncompleteInstall(t *testing.T) {
	root := fakeRoot(t, "5.5.1")
	os.Remove(filepath.Join(root, ".hubcap", "venvs", "jupyterhub-5.5.1", "bin", "jupyterhub-singleuser"))
	if _, err := FindInstall(root, "5.5.1"); !errors.Is(err, ErrPythonMissing) || !strings.Contains(err.Error(), "jupyterhub-singleuser") {
		t.Errorf("err = %v", err)
	}
	os.Remove(filepath.Join(root, ".hubcap", "node", "node_modules", ".bin", "configurable-http-proxy"))
	if _, err := ProxyCommand(root); !errors.Is(err, ErrProxyMissing) || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("err = %v", err)
	}
}

func TestNodeMissing(t *testing.T) {
	root := fakeRoot(t, "5.5.1")
	t.Setenv("PATH", t.TempDir())
	if _, err := ProxyCommand(root); !errors.Is(err, ErrNodeMissing) {
		t.Errorf("err = %v", err)
	}
}

func TestBusyPort(t *testing.T) {
	if _, err := ProxyCommand(fakeRoot(t)); err != nil {
		testenv.Missing(t, fmt.Sprintf("node on PATH, to get as far as the ports (%v)", err), "apt-get install nodejs")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	root := fakeRoot(t, "5.5.1")
	dir := t.TempDir()
	_, err = Start(context.Background(), Options{Release: "5.5.1", Root: root, RunDir: dir, Ports: Ports{Proxy: port}})
	if !errors.Is(err, ErrPortBusy) || !strings.Contains(err.Error(), "proxy port "+strconv.Itoa(port)) {
		t.Fatalf("err = %v", err)
	}
	// Nothing was started or written.
	if _, err := os.Stat(filepath.Join(dir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("state written for a start that never began: %v", err)
	}
}

func TestFindRoot(t *testing.T) {
	root := fakeRoot(t)
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	t.Setenv(HomeEnv, "")
	got, err := FindRoot()
	if err != nil || got != root {
		t.Fatalf("FindRoot from %s = %q, %v; want %q", sub, got, err, root)
	}
	t.Setenv(HomeEnv, t.TempDir())
	if _, err := FindRoot(); !errors.Is(err, ErrNoRoot) || !strings.Contains(err.Error(), HomeEnv) {
		t.Fatalf("bad $%s: %v", HomeEnv, err)
	}
	t.Setenv(HomeEnv, "")
	t.Chdir(t.TempDir())
	if _, err := FindRoot(); !errors.Is(err, ErrNoRoot) || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("no root: %v", err)
	}
}

func TestCompareReleases(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"5.10.0", "5.9.1", 1},
		{"5.3.0", "5.3.0", 0},
		{"5.3", "5.3.0", -1},
		{"6.0.0b2", "6.0.0", 1}, // non-numeric parts compare as strings
		{"4.1.6", "5.0.0", -1},
	}
	for _, c := range cases {
		if got := compareReleases(c.a, c.b); (got > 0) != (c.want > 0) || (got < 0) != (c.want < 0) {
			t.Errorf("compareReleases(%s, %s) = %d, want sign %d", c.a, c.b, got, c.want)
		}
	}
}

func TestRedactAndTail(t *testing.T) {
	h := &Hub{serviceToken: "s3cr3t-service", proxyToken: "pr0xy-token", env: map[string]string{"HUBCAP_FLEET_SECRET": "fleet-secret-value", "SHORT": "1"}}
	got := h.redact("a s3cr3t-service b pr0xy-token c fleet-secret-value d 1")
	if got != "a [redacted] b [redacted] c [redacted] d 1" {
		t.Fatalf("redact: %q", got)
	}
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, []byte("old1\nold2\nnew1\nnew2\nnew3\n"), 0o644)
	if got := tailFile(p, 10, 2); got != "new2\nnew3" {
		t.Fatalf("tail: %q", got)
	}
	if got := tailFile(p, 10, 10); got != "new1\nnew2\nnew3" {
		t.Fatalf("tail from offset: %q", got)
	}
}

func TestOutcomeString(t *testing.T) {
	cases := map[Outcome]string{
		{Kind: OutcomeHealthy}:                   "healthy",
		{Kind: OutcomeOOMKilled}:                 "OOMKilled",
		{Kind: OutcomeExited, ExitCode: 1}:       "exited(1)",
		{Kind: OutcomeExited, Signal: "SIGSEGV"}: "exited (killed by SIGSEGV)",
		{Kind: OutcomeTimeout}:                   "timeout",
	}
	for o, want := range cases {
		if got := o.String(); got != want {
			t.Errorf("%+v: %q, want %q", o, got, want)
		}
	}
}
