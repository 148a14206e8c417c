package acceptance

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/capreport"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/reports"
)

// scenarios/smoke.js against the current JupyterHub release, once with the
// fleet standing in for the single-user servers and once with a real
// jupyterhub-singleuser (JupyterLab, ipykernel) spawned by the hub.

// currentRelease is the newest JupyterHub release setup installs.
const currentRelease = "6.1.1"

// smokePhases are the steps of smoke.js, one sample each.
var smokePhases = []string{"login", "spawn", "oauth", "lab_load", "list_contents", "save_notebook", "open_notebook",
	"start_kernel", "connect_kernel", "execute", "shutdown_kernel", "stop_server", "logout"}

// checkSmoke reads a smoke.js results file: every phase once, completed,
// against release.
func checkSmoke(t *testing.T, out, release string) {
	t.Helper()
	res := readResultsFile(t, out)
	got := phaseCounts(res)
	for _, ph := range smokePhases {
		if got[ph] != 1 {
			t.Errorf("phase %s: %d samples, want 1 (phases: %v)", ph, got[ph], got)
		}
	}
	info := capreport.ScenarioInfoOf(res)
	if res.Status != reports.StatusCompleted || info.Script != "smoke.js" || info.HubVersion != release {
		t.Errorf("status %q, scenario %q, hub %q; want completed, smoke.js, %s", res.Status, info.Script, info.HubVersion, release)
	}
}

// TestSmokeCurrentReleaseFleet: smoke.js passes against 6.1.1 with the fleet
// (6.x server names, PKCE in the OAuth dance, the new spawn body), leaves no
// user behind and no token in its outputs.
func TestSmokeCurrentReleaseFleet(t *testing.T) {
	root, _ := hubtest.Require(t, currentRelease)
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	out := filepath.Join(dir, "smoke.ndjson")
	r := startHubcap(t, root, "run", "--hub", "local:"+currentRelease, "--run-dir", runDir,
		"--progress", "off", "--out", "json="+out, "scenarios/smoke.js")
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, tailString(r.stdout.String(), 3000), tailString(r.stderr.String(), 3000))
	}
	checkSmoke(t, out, currentRelease)
	noTokenIn(t, runToken(t, runDir), map[string]string{"stdout": r.stdout.String(), "stderr": r.stderr.String()}, dir)
	nothingLeft(t, sqliteDSN(runDir), runPrefix)
}

// TestSmokeCurrentReleaseRealServer: smoke.js passes against 6.1.1 whose
// spawner runs a real jupyterhub-singleuser with JupyterLab (the lab page,
// contents, a real ipykernel over the websocket), through `hubcap run --hub
// URL --token-file`, as against a production hub.
func TestSmokeCurrentReleaseRealServer(t *testing.T) {
	root, _ := hubtest.Require(t, currentRelease)
	h := hubtest.Start(t, hub.Options{Release: currentRelease, Spawner: hub.SpawnerLocal})
	dir := t.TempDir()
	out := filepath.Join(dir, "smoke.ndjson")
	r := startHubcap(t, root, "run", "--hub", h.URL(), "--token-file", h.TokenFile(),
		"--progress", "off", "--out", "json="+out, "-e", "SPAWN_TIMEOUT=90s", "scenarios/smoke.js")
	if code := r.wait(t, 4*time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, tailString(r.stdout.String(), 3000), tailString(r.stderr.String(), 3000))
	}
	checkSmoke(t, out, currentRelease)
	tok, err := h.Token()
	if err != nil {
		t.Fatal(err)
	}
	noTokenIn(t, tok, map[string]string{"stdout": r.stdout.String(), "stderr": r.stderr.String()}, dir, h.RunDir())
	nothingLeft(t, sqliteDSN(h.RunDir()), runPrefix)
}
