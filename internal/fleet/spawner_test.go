package fleet

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpawnerConfig(t *testing.T) {
	got := SpawnerConfig(SpawnerOptions{StateBytes: 2048, UserOptionsBytes: 100, Profile: `gpu "large"`, Namespace: "team-a"})
	for _, want := range []string{
		"from hubcap_fleetspawner import FleetSpawner\n",
		"c.JupyterHub.spawner_class = FleetSpawner\n",
		"c.FleetSpawner.state_bytes = 2048\n",
		"c.FleetSpawner.user_options_bytes = 100\n",
		`c.FleetSpawner.default_profile = "gpu \"large\""` + "\n",
		`c.FleetSpawner.namespace = "team-a"` + "\n",
		"c.FleetSpawner.poll_failures_before_gone = 3\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, EnvFleetSecret+" =") || strings.Contains(got, "HUBCAP_FLEET_URL\"]") {
		t.Errorf("the config must not carry the fleet's URL or secret, only name them")
	}
	if d := SpawnerConfig(SpawnerOptions{}); !strings.Contains(d, "state_bytes = 512\n") || !strings.Contains(d, `namespace = "jhub"`) {
		t.Errorf("defaults missing:\n%s", d)
	}
}

func TestSpawnerOptionsValidate(t *testing.T) {
	errs := SpawnerOptions{StateBytes: -1, UserOptionsBytes: maxPadding + 1, Namespace: "Bad_NS", PollFailures: -2}.Validate()
	if len(errs) != 4 {
		t.Fatalf("Validate found %d problems, want 4: %v", len(errs), errs)
	}
	for _, e := range errs {
		if !errors.Is(e, ErrSpawnerOptions) {
			t.Errorf("%v does not wrap ErrSpawnerOptions", e)
		}
	}
	if errs := (SpawnerOptions{}).Validate(); len(errs) != 0 {
		t.Errorf("zero options invalid: %v", errs)
	}
}

// spawnerScript drives FleetSpawner outside a hub (mocked user and hub)
// against the fleet named in the environment and prints what it saw.
const spawnerScript = `
import asyncio, json, os, sys
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
from hubcap_fleetspawner import FleetSpawner

def make():
    user = SimpleNamespace(name="alice", url="/user/alice/", escaped_name="alice")
    hub = SimpleNamespace(public_host="", api_url="http://127.0.0.1:8081/hub/api", base_url="/hub/")
    sp = FleetSpawner(user=user, hub=hub, state_bytes=400, user_options_bytes=50, poll_failures_before_gone=2)
    sp.server = SimpleNamespace(base_url="/user/alice/")
    sp.api_token = "server-token"
    sp.oauth_client_id = "jupyterhub-user-alice"
    return sp

async def main():
    out = {}
    sp = make()
    out["url"] = await sp.start()
    out["user_options"] = sp.user_options
    state = sp.get_state()
    out["state"] = state
    out["state_len"] = len(json.dumps(state))
    out["poll_running"] = await sp.poll()
    sp2 = make()
    sp2.load_state(state)
    out["reloaded_same"] = sp2.get_state() == state
    await sp.stop()
    out["poll_stopped"] = await sp.poll()
    sp.clear_state()
    out["state_cleared"] = sp.get_state()
    os.environ["HUBCAP_FLEET_URL"] = "http://127.0.0.1:9"
    out["poll_unreachable"] = [await sp.poll(), await sp.poll()]
    print(json.dumps(out))

asyncio.run(main())
`

func TestSpawnerPython(t *testing.T) {
	jupyterhub, _ := requireHub(t, "5.5.1")
	python := filepath.Join(filepath.Dir(jupyterhub), "python")
	f := newTestFleet(t, Config{})
	f.hub.addUser("t", "alice")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SpawnerModule+".py"), []byte(SpawnerPython), 0o600)
	os.WriteFile(filepath.Join(dir, "drive.py"), []byte(spawnerScript), 0o600)
	cmd := exec.Command(python, filepath.Join(dir, "drive.py"), dir)
	cmd.Env = append(os.Environ(), EnvFleetURL+"="+f.ts.URL, EnvFleetSecret+"="+testSecret)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("spawner script: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct {
		URL             string            `json:"url"`
		UserOptions     map[string]string `json:"user_options"`
		State           map[string]string `json:"state"`
		StateLen        int               `json:"state_len"`
		PollRunning     *int              `json:"poll_running"`
		ReloadedSame    bool              `json:"reloaded_same"`
		PollStopped     *int              `json:"poll_stopped"`
		StateCleared    map[string]any    `json:"state_cleared"`
		PollUnreachable []*int            `json:"poll_unreachable"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if got.URL != f.ts.URL {
		t.Errorf("start() returned %q, want the fleet URL", got.URL)
	}
	if got.UserOptions["profile"] != "workshop" || len(got.UserOptions["hubcap_padding"]) != 50 {
		t.Errorf("default user_options %v", got.UserOptions)
	}
	if got.State["pod_name"] != "jupyter-alice" || got.State["namespace"] != "jhub" || got.StateLen != 400 {
		t.Errorf("state %v (%d bytes), want KubeSpawner fields padded to 400", got.State, got.StateLen)
	}
	if got.PollRunning != nil || !got.ReloadedSame {
		t.Errorf("poll while registered %v, reload same %v", got.PollRunning, got.ReloadedSame)
	}
	if got.PollStopped == nil || *got.PollStopped != 0 {
		t.Errorf("poll after stop = %v, want 0", got.PollStopped)
	}
	if len(got.StateCleared) != 0 {
		t.Errorf("state after clear_state %v", got.StateCleared)
	}
	if len(got.PollUnreachable) != 2 || got.PollUnreachable[0] != nil || got.PollUnreachable[1] == nil || *got.PollUnreachable[1] != 0 {
		t.Errorf("polls with the fleet unreachable %v, want [None, 0] (gone after 2 failures)", got.PollUnreachable)
	}
	// the registration carried the hub's environment
	if f.s.Len() != 0 {
		t.Errorf("stop() left the server registered")
	}
}

// slowFleetScript runs 400 polls at once through FleetSpawner against a
// stand-in fleet whose every answer takes 0.2 s, with 40 connections and a
// 1 s timeout per request: 10 rounds of 0.2 s, so most polls wait ~2 s for
// a connection. None may fail: waiting for a connection must not count
// against the request's timeout (tornado's own queue fails such requests
// with "Timeout in request queue", which a hub spawning and polling
// thousands of servers hit).
const slowFleetScript = `
import asyncio, json, os, sys
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
from tornado import web
from hubcap_fleetspawner import FleetSpawner

class Slow(web.RequestHandler):
    async def get(self, user, server):
        await asyncio.sleep(0.2)
        self.write("{}")

async def main():
    app = web.Application([(r"/_fleet/servers/([^/]+)/([^/]+)", Slow)])
    srv = app.listen(0, "127.0.0.1")
    port = list(srv._sockets.values())[0].getsockname()[1]
    os.environ["HUBCAP_FLEET_URL"] = "http://127.0.0.1:%d" % port
    os.environ["HUBCAP_FLEET_SECRET"] = "s"
    sps = []
    for i in range(400):
        user = SimpleNamespace(name="u%d" % i, url="/user/u%d/" % i, escaped_name="u%d" % i)
        hub = SimpleNamespace(public_host="", api_url="http://127.0.0.1:8081/hub/api", base_url="/hub/")
        sps.append(FleetSpawner(user=user, hub=hub, fleet_timeout=1.0, fleet_max_connections=40, poll_failures_before_gone=1))
    res = await asyncio.gather(*(sp.poll() for sp in sps))
    print(json.dumps({"running": sum(r is None for r in res), "gone": sum(r == 0 for r in res)}))

asyncio.run(main())
`

func TestSpawnerWaitsForConnectionsWithoutTimingOut(t *testing.T) {
	jupyterhub, _ := requireHub(t, "5.5.1")
	python := filepath.Join(filepath.Dir(jupyterhub), "python")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SpawnerModule+".py"), []byte(SpawnerPython), 0o600)
	os.WriteFile(filepath.Join(dir, "slow.py"), []byte(slowFleetScript), 0o600)
	out, err := exec.Command(python, filepath.Join(dir, "slow.py"), dir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("script: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct{ Running, Gone int }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if got.Running != 400 || got.Gone != 0 {
		t.Errorf("%d of 400 polls saw the server running, %d reported it gone (a request failed while waiting for a connection)", got.Running, got.Gone)
	}
}
