package attendee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// contractRelease is the hub both sides of the contract test run on.
const contractRelease = "5.5.1"

// fleetMayOmit lists the keys a real jupyter_server answer has that the
// fleet's may lack, each with the reason the omission is harmless. Keys not
// listed here must match exactly, both ways.
var fleetMayOmit = map[string]string{}

// TestIntegrationContract runs the same client checks (journeyChecks)
// against a single-user server of the Go fleet and against a real
// jupyterhub-singleuser with a real ipykernel, both spawned by a real
// JupyterHub, so the fleet cannot drift from the real thing unnoticed: the
// OAuth chain, xsrf on contents and sessions, the kernel websocket with
// cookies in both framings, outputs and errors. Then the JSON shapes of the
// answers both gave (key paths and value kinds) must be the same.
//
// jupyter_server without JupyterLab has no /lab page, so LabLoad fetches
// api/status on both (which also needs the OAuth cookie).
func TestIntegrationContract(t *testing.T) {
	got := map[string]observed{}
	t.Run("fleet", func(t *testing.T) {
		l := localhubtest.Start(t, contractRelease, localhub.Options{})
		got["fleet"] = journeyChecks(t, l.Hub.URL(), "hubcap-contract-fleet")
		if n := l.Fleet.Len(); n != 0 {
			t.Errorf("%d servers still registered with the fleet after StopServer", n)
		}
	})
	t.Run("real", func(t *testing.T) {
		h := hubtest.Start(t, hub.Options{Release: contractRelease, Spawner: hub.SpawnerLocal, StartTimeout: 60 * time.Second})
		got["real"] = journeyChecks(t, h.URL(), "hubcap-contract-real")
	})
	fleet, real := got["fleet"], got["real"]
	if fleet == nil || real == nil {
		// A side that failed has failed the test already; a side that
		// skipped (no hub installed) leaves nothing to compare.
		if !t.Failed() {
			testenv.Missing(t, "one side of the contract (see the subtest that skipped)", testenv.SetupHint)
		}
		return
	}
	var answers []string
	for a := range real {
		answers = append(answers, a)
	}
	sort.Strings(answers)
	for _, a := range answers {
		r, f := real[a], fleet[a]
		if f == nil {
			t.Errorf("%s: not observed on the fleet", a)
			continue
		}
		for _, k := range sortedKeys(r) {
			fk, ok := f[k]
			switch {
			case !ok && fleetMayOmit[a+" "+k] != "":
			case !ok:
				t.Errorf("%s: the real server sends %s (%s), the fleet does not", a, k, r[k])
			case fk != r[k] && fk != "null" && r[k] != "null":
				t.Errorf("%s: %s is %s on the real server, %s on the fleet", a, k, r[k], fk)
			}
		}
		for _, k := range sortedKeys(f) {
			if _, ok := r[k]; !ok {
				t.Errorf("%s: the fleet sends %s (%s), the real server does not", a, k, f[k])
			}
		}
	}
	for a := range fleet {
		if real[a] == nil {
			t.Errorf("%s: observed on the fleet, never on the real server", a)
		}
	}
	paths := 0
	for _, a := range answers {
		paths += len(real[a])
	}
	t.Logf("compared %d answers, %d key paths of the real server's", len(answers), paths)
	// the list of allowed omissions must not outlive the omissions
	for k := range fleetMayOmit {
		found := false
		for _, a := range answers {
			if key, ok := strings.CutPrefix(k, a+" "); ok {
				_, inReal := real[a][key]
				_, inFleet := fleet[a][key]
				found = inReal && !inFleet
			}
		}
		if !found {
			t.Errorf("fleetMayOmit lists %q, which the fleet no longer omits (or the real server does not send): remove it", k)
		}
	}
}

// observed maps an answer ("GET /api/status") to its JSON shape: key path →
// value kind (see jsonShape).
type observed map[string]map[string]string

// journeyChecks is the client contract a single-user server must honour,
// run by one attendee against the server it spawns on the hub at hubURL:
// login, spawn, OAuth into the server, list contents, save and open a
// notebook, start a kernel through a session, the kernel websocket with the
// v1 subprotocol and with the legacy framing (print(6*7) → 42, 1+1 → 2,
// 1/0 → ZeroDivisionError on each), the raw frames of both framings
// (rawKernelFrames), shut the kernel down and stop the server. It returns
// the shapes of the answers to compare.
func journeyChecks(t *testing.T, hubURL, username string) observed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	buf := &samples.Buffer{}
	s, err := New(Config{HubURL: hubURL, Username: username, Password: "x", Server: "contract",
		Sink: buf, Rand: rand.NewPCG(3, 4), LabPath: "api/status", RemoveServer: true,
		KernelProtocol: kernel.ProtocolV1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	obs := observed{}
	shape := func(name, method, p string, q url.Values, body any, want ...int) map[string]any {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		resp, _, err := s.send(ctx, call{method: method, u: s.serverURL(p, q), kind: kindXHR, body: b,
			expect: hubapi.Statuses(want...), phase: "contract"})
		must(name, err)
		var v any
		if err := json.Unmarshal(resp.Body, &v); err != nil {
			t.Fatalf("%s: answer is not JSON: %v", name, err)
		}
		obs[name] = jsonShape(v)
		m, _ := v.(map[string]any)
		return m
	}

	must("login", s.Login(ctx))
	must("spawn", s.Spawn(ctx))
	must("oauth", s.OAuth(ctx))
	if !s.hasServerCookie() {
		t.Fatal("no jupyterhub-user-… cookie after OAuth")
	}
	_, err = s.LabLoad(ctx)
	must("lab load (api/status)", err)
	if s.serverXSRF() == "" {
		t.Error("the server set no _xsrf cookie; writes would fail")
	}
	st := shape("GET /api/status", http.MethodGet, "api/status", nil, nil, http.StatusOK)
	if _, ok := st["started"].(string); !ok {
		t.Errorf("api/status without a started time: %v", st)
	}

	_, err = s.ListContents(ctx, "")
	must("list contents", err)
	const code = "print(6*7)"
	must("save notebook", s.SaveNotebook(ctx, s.nbPath, Notebook("python3", code)))
	entries, err := s.ListContents(ctx, "")
	must("list contents after save", err)
	if !slices.ContainsFunc(entries, func(e ContentEntry) bool { return e.Path == s.nbPath && e.Type == "notebook" }) {
		t.Errorf("the saved notebook %s is not listed as a notebook: %+v", s.nbPath, entries)
	}
	content, err := s.OpenNotebook(ctx, s.nbPath)
	must("open notebook", err)
	if src := firstCellSource(content); src != code {
		t.Errorf("the opened notebook's first cell is %q, saved %q", src, code)
	}
	shape("GET /api/contents (directory)", http.MethodGet, "api/contents/", url.Values{"content": {"1"}}, nil, http.StatusOK)
	shape("GET /api/contents/:path (notebook)", http.MethodGet, "api/contents/"+escapeRelPath(s.nbPath),
		url.Values{"type": {"notebook"}, "content": {"1"}}, nil, http.StatusOK)

	kid, err := s.StartKernel(ctx)
	must("start kernel", err)
	kernels := shapeList(t, obs, "GET /api/kernels", func() []any {
		resp, _, err := s.send(ctx, call{method: http.MethodGet, u: s.serverURL("api/kernels", nil), kind: kindXHR, phase: "contract"})
		must("list kernels", err)
		var v []any
		if err := json.Unmarshal(resp.Body, &v); err != nil {
			t.Fatalf("api/kernels is not a JSON list: %v", err)
		}
		return v
	})
	if !listsID(kernels, kid) {
		t.Errorf("api/kernels does not list the started kernel %s", kid)
	}
	// a second session, to see the POST answer itself
	sess := shape("POST /api/sessions", http.MethodPost, "api/sessions", nil, map[string]any{
		"path": "contract-2.ipynb", "name": "contract-2.ipynb", "type": "notebook", "kernel": map[string]any{"name": "python3"},
	}, http.StatusCreated)
	sid, _ := sess["id"].(string)
	if k, _ := sess["kernel"].(map[string]any); sid == "" || k["id"] == nil || k["id"] == kid {
		t.Errorf("POST api/sessions: a new session needs its own id and kernel: %v", sess)
	}
	if sid != "" {
		_, _, err := s.send(ctx, call{method: http.MethodDelete, u: s.serverURL("api/sessions/"+escapePath(sid), nil), kind: kindXHR,
			expect: hubapi.Statuses(http.StatusNoContent), phase: "contract"})
		must("delete the second session", err)
	}

	// a kernel without a session, as hubtraf starts one (POST without a body)
	k2 := shape("POST /api/kernels (no body)", http.MethodPost, "api/kernels", nil, nil, http.StatusCreated)
	if id, _ := k2["id"].(string); id == "" || id == kid {
		t.Errorf("POST api/kernels: a new kernel needs its own id: %v", k2)
	} else {
		_, _, err := s.send(ctx, call{method: http.MethodDelete, u: s.serverURL("api/kernels/"+escapePath(id), nil), kind: kindXHR,
			expect: hubapi.Statuses(http.StatusNoContent), phase: "contract"})
		must("delete the second kernel", err)
	}

	for _, proto := range []kernel.Protocol{kernel.ProtocolV1, kernel.ProtocolLegacy} {
		s.cfg.KernelProtocol = proto
		must("connect kernel "+proto.String(), s.ConnectKernel(ctx))
		if c := s.currentConn(); c == nil || c.Protocol() != proto {
			t.Fatalf("%s: connection missing or negotiated another protocol", proto)
		}
		_, err := s.ExecuteExpect(ctx, code, "42")
		must(proto.String()+": "+code, err)
		res, err := s.Execute(ctx, "1+1")
		must(proto.String()+": 1+1", err)
		if res.Result != "2" || res.Stdout != "" || res.ExecutionCount <= 0 {
			t.Errorf("%s: 1+1 gave result %q, stdout %q, execution count %d; want result 2", proto, res.Result, res.Stdout, res.ExecutionCount)
		}
		res, err = s.Execute(ctx, "1/0")
		if !errors.Is(err, kernel.ErrExecution) || res.Status != "error" || res.Error == nil || res.Error.EName != "ZeroDivisionError" {
			t.Errorf("%s: 1/0 gave status %q, error %+v, err %v; want a ZeroDivisionError", proto, res.Status, res.Error, err)
		}
	}
	rawKernelFrames(t, ctx, s, obs)
	must("shutdown kernel", s.ShutdownKernel(ctx))
	resp, _, err := s.send(ctx, call{method: http.MethodGet, u: s.serverURL("api/kernels/"+escapePath(kid), nil), kind: kindXHR,
		expect: hubapi.AnyStatus, phase: "contract"})
	must("get the shut-down kernel", err)
	if resp.Status != http.StatusNotFound {
		t.Errorf("GET api/kernels/<id> after shutdown: %d, want 404", resp.Status)
	}
	must("stop server", s.StopServer(ctx))
	must("logout", s.Logout(ctx))
	resp, _, err = s.send(ctx, call{method: http.MethodGet, u: s.serverURL("api/status", nil), kind: kindXHR,
		expect: hubapi.AnyStatus, phase: "contract"})
	must("api/status after stop", err)
	if resp.Status == http.StatusOK {
		t.Errorf("api/status still answers 200 after the server was stopped")
	}
	kernelErrors := 0
	for _, smp := range buf.Samples() {
		switch {
		case smp.Metric == MetricErrors && smp.Tags["phase"] == string(PhaseExecute) && smp.Tags["error"] == "kernel":
			kernelErrors++ // 1/0, once per framing
		case smp.Metric == MetricErrors || smp.Metric == MetricWSDrops:
			t.Errorf("unexpected %s sample %v", smp.Metric, smp.Tags)
		}
	}
	if kernelErrors != 2 {
		t.Errorf("%d kernel error samples of the execute phase, want 2 (1/0 in each framing)", kernelErrors)
	}
	return obs
}

// shapeList records the shape of a JSON list answer and returns it.
func shapeList(t *testing.T, obs observed, name string, get func() []any) []any {
	t.Helper()
	v := get()
	if len(v) == 0 {
		t.Fatalf("%s: empty list", name)
	}
	obs[name] = jsonShape(v)
	return v
}

func listsID(items []any, id string) bool {
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["id"] == id {
			return true
		}
	}
	return false
}

// firstCellSource is the source of a notebook's first cell (nbformat allows
// a string or a list of lines).
func firstCellSource(nb json.RawMessage) string {
	var v struct {
		Cells []struct {
			Source any `json:"source"`
		} `json:"cells"`
	}
	if json.Unmarshal(nb, &v) != nil || len(v.Cells) == 0 {
		return ""
	}
	switch src := v.Cells[0].Source.(type) {
	case string:
		return src
	case []any:
		var b strings.Builder
		for _, l := range src {
			fmt.Fprint(&b, l)
		}
		return b.String()
	}
	return ""
}

// jsonShape flattens a decoded JSON value into key paths and value kinds:
// "kernel.id" → "string", "content[].size" → "number"; list elements
// merge into "[]" (a path whose kinds differ between elements gets them
// joined with "|", nulls left out when another kind is present).
func jsonShape(v any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		kind := jsonKind(v)
		if prefix != "" {
			out[prefix] = mergeKind(out[prefix], kind)
		}
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	return out
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

func mergeKind(old, k string) string {
	switch {
	case old == "" || old == k:
		return k
	case k == "null":
		return old
	case old == "null":
		return k
	}
	kinds := strings.Split(old, "|")
	if slices.Contains(kinds, k) {
		return old
	}
	kinds = append(kinds, k)
	sort.Strings(kinds)
	return strings.Join(kinds, "|")
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func countOK(buf *samples.Buffer, metric string) (ok, failed int) {
	for _, s := range buf.Samples() {
		if s.Metric == metric {
			if s.Tags["result"] == "ok" {
				ok++
			} else {
				failed++
			}
		}
	}
	return ok, failed
}
