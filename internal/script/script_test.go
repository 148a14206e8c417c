package script

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// testHub stands in for a binding module such as k6/x/jupyterhub.
type testHub struct{}

func (testHub) NewModuleInstance(vu VU) Instance { return &testHubInstance{vu: vu} }

func (testHub) Metrics() []samples.Metric {
	return []samples.Metric{{Name: "testhub_calls", Kind: samples.Counter}}
}

type testHubInstance struct{ vu VU }

func (i *testHubInstance) Exports() Exports {
	return Exports{Default: map[string]any{"call": i.call}}
}

func (i *testHubInstance) call() (string, error) {
	if err := RequireVUContext(i.vu, "hub.call()"); err != nil {
		return "", err
	}
	if InitContext(i.vu) {
		return "", errors.New("InitContext disagrees with RequireVUContext")
	}
	// Samples from another goroutine go through a TagSink.
	sink := TagSink(i.vu, map[string]string{"endpoint": "call"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sink.AddSample(samples.Sample{Metric: "testhub_calls", Time: time.Now(), Value: 1, Tags: map[string]string{"status": "200"}})
	}()
	<-done
	return fmt.Sprintf("called from VU %d", i.vu.ID()), nil
}

func init() { RegisterModule("k6/x/testhub", testHub{}) }

type runOut struct {
	res            *Result
	err            error
	stdout, stderr string
}

func runScript(t *testing.T, name string, mod func(*Options)) runOut {
	t.Helper()
	return runScriptCtx(t, context.Background(), name, mod)
}

func runScriptCtx(t *testing.T, ctx context.Context, name string, mod func(*Options)) runOut {
	t.Helper()
	var stdout, stderr testkit.Buffer
	o := Options{
		Script:   filepath.Join("testdata", name),
		Stdout:   &stdout,
		Stderr:   &stderr,
		Progress: ProgressOff,
		Env:      map[string]string{"HUBCAP_TEST_VALUE": "42"},
	}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	return runOut{res: res, err: err, stdout: stdout.String(), stderr: stderr.String()}
}

func metricValue(t *testing.T, snap *metrics.Snapshot, name, key string) float64 {
	t.Helper()
	m, ok := snap.Metric(name)
	if !ok {
		t.Fatalf("no metric %s in the summary", name)
	}
	return m.Values[key]
}

func TestChecksGroupsCustomMetrics(t *testing.T) {
	r := runScript(t, "basic.js", nil)
	if r.err != nil || r.res.ExitCode != 0 {
		t.Fatalf("run failed: %v (exit %d)\n%s", r.err, r.res.ExitCode, r.stderr)
	}
	snap := r.res.Snapshot
	if got := metricValue(t, snap, "hits", "count"); got != 6 {
		t.Errorf("hits = %v, want 6", got)
	}
	if got := metricValue(t, snap, "iterations", "count"); got != 6 {
		t.Errorf("iterations = %v", got)
	}
	if lat, _ := snap.Metric("fake_latency"); lat.Contains != samples.Time || lat.Values["max"] > 120 || lat.Values["min"] != 20 {
		t.Errorf("fake_latency = %+v", lat)
	}
	if got := metricValue(t, snap, "ok_rate", "rate"); got != 1 {
		t.Errorf("ok_rate = %v", got)
	}
	if g, _ := snap.Metric("last_vu"); g.Values["max"] > 2 || g.Values["min"] < 1 {
		t.Errorf("last_vu = %+v: VUs are numbered 1 and 2", g)
	}
	if c := metricValue(t, snap, "checks", "passes"); c != 30 || metricValue(t, snap, "checks", "fails") != 0 {
		t.Errorf("checks passes %v", c)
	}
	outer := snap.Root.Groups
	if len(outer) != 1 || outer[0].Path != "::outer" || len(outer[0].Groups) != 1 {
		t.Fatalf("groups %+v", outer)
	}
	inner := outer[0].Groups[0]
	if inner.Path != "::outer::inner" || len(inner.Checks) != 5 || inner.Checks[0].Passes != 6 {
		t.Errorf("inner group %+v", inner)
	}
	// group_duration is tagged with each group's path.
	if _, ok := snap.Metric("group_duration"); !ok {
		t.Error("no group_duration")
	}
	if snap.ThresholdsFailed != 0 {
		t.Errorf("thresholds failed: %d", snap.ThresholdsFailed)
	}
	for _, want := range []string{"█ THRESHOLDS", "✓ 'rate==1'", "✓ word from setup", "fake_latency", "hits"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "6 iterations shared among 2 VUs") {
		t.Errorf("header:\n%s", r.stderr)
	}
}

func TestFailingThresholdExits99(t *testing.T) {
	r := runScript(t, "thresholds_fail.js", nil)
	if !errors.Is(r.err, ErrThresholdsFailed) || r.res.ExitCode != ExitThresholdsFailed {
		t.Fatalf("err %v exit %d, want 99", r.err, r.res.ExitCode)
	}
	if !strings.Contains(r.err.Error(), "'checks'") || !strings.Contains(r.err.Error(), "'waits'") || strings.Contains(r.err.Error(), "'iterations'") {
		t.Errorf("error names the wrong metrics: %v", r.err)
	}
	for _, want := range []string{"✗ 'rate>0.9' rate=50.00%", "✗ 'p(95)<5' p(95)=100ms", "✓ 'count==10' count=10", "✗ even iteration"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestAbortOnFail(t *testing.T) {
	start := time.Now()
	r := runScript(t, "abort_on_fail.js", nil)
	if r.res.ExitCode != ExitThresholdsFailed {
		t.Fatalf("exit %d (%v), want 99", r.res.ExitCode, r.err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("abortOnFail took %v to stop a 60s test", el)
	}
	if !strings.Contains(r.stderr, "abortOnFail") {
		t.Errorf("no abort message:\n%s", r.stderr)
	}
}

func TestHandleSummaryWritesFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "summary.json")
	export := filepath.Join(t.TempDir(), "export.json")
	r := runScript(t, "handle_summary.js", func(o *Options) {
		o.Env["SUMMARY_FILE"] = file
		o.SummaryExport = export
	})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if r.stdout != "custom summary\n" {
		t.Errorf("stdout = %q: handleSummary replaces the default summary", r.stdout)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Iterations  float64           `json:"iterations"`
		ChecksOK    bool              `json:"checksOK"`
		CheckName   string            `json:"checkName"`
		SetupData   map[string]string `json:"setupData"`
		HasDuration bool              `json:"hasDuration"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got.Iterations != 3 || !got.ChecksOK || got.CheckName != "one is one" || got.SetupData["from"] != "setup" || !got.HasDuration {
		t.Errorf("handleSummary saw %+v", got)
	}
	var exp map[string]any
	if b, err := os.ReadFile(export); err != nil || json.Unmarshal(b, &exp) != nil || exp["metrics"] == nil {
		t.Errorf("summary export %v: %s", err, b)
	}
}

func TestSyntaxErrorHasLocation(t *testing.T) {
	r := runScript(t, "syntax_error.js", nil)
	if r.res.ExitCode != ExitScriptException {
		t.Fatalf("exit %d (%v), want 107", r.res.ExitCode, r.err)
	}
	var se *ScriptError
	if !errors.As(r.err, &se) {
		t.Fatalf("not a ScriptError: %v", r.err)
	}
	abs, _ := filepath.Abs("testdata/syntax_error.js")
	if se.File != abs || se.Line != 4 || se.Col != 11 {
		t.Errorf("location %s:%d:%d, want %s:4:11", se.File, se.Line, se.Col, abs)
	}
	if !strings.HasPrefix(r.err.Error(), abs+":4:11: SyntaxError") {
		t.Errorf("message %q", r.err)
	}
}

func TestInitExceptionHasStack(t *testing.T) {
	r := runScript(t, "init_exception.js", nil)
	if r.res.ExitCode != ExitScriptException {
		t.Fatalf("exit %d (%v), want 107", r.res.ExitCode, r.err)
	}
	abs, _ := filepath.Abs("testdata/init_exception.js")
	var se *ScriptError
	if !errors.As(r.err, &se) || se.File != abs || se.Line != 4 || se.Col != 9 {
		t.Fatalf("error %#v", r.err)
	}
	msg := r.err.Error()
	if !strings.Contains(msg, "Error: cannot initialize") || !strings.Contains(msg, "at boom ("+abs+":4:9)") ||
		!strings.Contains(msg, abs+":7:5") {
		t.Errorf("message lacks the stack:\n%s", msg)
	}
}

func TestIterationExceptionIsLoggedWithStack(t *testing.T) {
	r := runScript(t, "iteration_exception.js", nil)
	// As in k6, exceptions in iterations are logged and the test goes on.
	if r.err != nil {
		t.Fatalf("%v", r.err)
	}
	abs, _ := filepath.Abs("testdata/iteration_exception.js")
	for _, want := range []string{"ERRO[", abs + ":5:9: in default: TypeError: bad thing in iteration 0", "at inner (" + abs + ":5:9)", "at default (" + abs + ":9:8)", "scenario=default"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := metricValue(t, r.res.Snapshot, "iterations", "count"); n != 2 {
		t.Errorf("iterations %v", n)
	}
}

// k6Point is one Point line of k6's JSON output.
type k6Point struct {
	Type   string `json:"type"`
	Metric string `json:"metric"`
	Data   struct {
		Time  time.Time         `json:"time"`
		Value float64           `json:"value"`
		Tags  map[string]string `json:"tags"`
		// Metric lines
		Name     string `json:"name"`
		Kind     string `json:"type"`
		Contains string `json:"contains"`
	} `json:"data"`
}

// readNDJSON reads k6's --out json format as k6 tooling does.
func readNDJSON(t *testing.T, path string) (kinds map[string]string, points []k6Point) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p k6Point
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		switch p.Type {
		case "Metric":
			kinds[p.Metric] = p.Data.Kind
		case "Point":
			if kinds[p.Metric] == "" {
				t.Fatalf("point before its metric: %s", sc.Text())
			}
			points = append(points, p)
		default:
			t.Fatalf("unknown line type %q", p.Type)
		}
	}
	return kinds, points
}

func TestNDJSONOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.json")
	r := runScript(t, "basic.js", func(o *Options) { o.JSONOut = out })
	if r.err != nil {
		t.Fatal(r.err)
	}
	kinds, points := readNDJSON(t, out)
	want := map[string]string{"hits": "counter", "fake_latency": "trend", "ok_rate": "rate", "last_vu": "gauge",
		"checks": "rate", "iterations": "counter", "iteration_duration": "trend", "vus": "gauge", "vus_max": "gauge",
		"group_duration": "trend", "data_sent": "counter"}
	for m, k := range want {
		if kinds[m] != k {
			t.Errorf("metric %s is %q, want %q", m, kinds[m], k)
		}
	}
	var hits int
	groups := map[string]bool{}
	for _, p := range points {
		if p.Metric == "hits" {
			hits++
			if p.Data.Tags["scenario"] != "one" || p.Data.Tags["kind"] != "basic" || p.Data.Tags["iter"] == "" {
				t.Errorf("hits tags %v", p.Data.Tags)
			}
		}
		if p.Metric == "checks" {
			groups[p.Data.Tags["group"]] = true
			if p.Data.Tags["check"] == "" {
				t.Errorf("check without name %v", p.Data.Tags)
			}
		}
		if p.Data.Time.IsZero() {
			t.Errorf("point without time: %+v", p)
		}
	}
	if hits != 6 || !groups["::outer::inner"] || len(groups) != 1 {
		t.Errorf("hits %d, check groups %v", hits, groups)
	}
}

// Two instances running 0:1/2 and 1/2:1 of the same test run every
// iteration of both a shared-iterations and a per-vu-iterations scenario
// exactly once between them.
func TestExecutionSegmentsSplitTheTest(t *testing.T) {
	ids := map[string]int{}
	vuOwner := map[string]string{}
	for _, seg := range []string{"0:1/2", "1/2:1"} {
		out := filepath.Join(t.TempDir(), "out.json")
		r := runScript(t, "segments.js", func(o *Options) {
			o.JSONOut = out
			o.Segment = seg
			o.SegmentSequence = "0,1/2,1"
		})
		if r.err != nil {
			t.Fatalf("segment %s: %v\n%s", seg, r.err, r.stderr)
		}
		_, points := readNDJSON(t, out)
		n := 0
		for _, p := range points {
			if p.Metric == "seen" {
				ids[p.Data.Tags["id"]]++
				n++
				vu := p.Data.Tags["vu"]
				if owner, ok := vuOwner[vu]; ok && owner != seg {
					t.Errorf("VU idInTest %s used by both %s and %s", vu, owner, seg)
				}
				vuOwner[vu] = seg
			}
		}
		if n == 0 || n == 11+12 {
			t.Errorf("segment %s ran %d iterations: the test is not split", seg, n)
		}
	}
	var missing, dup []string
	for _, sc := range []struct {
		name string
		n    int
	}{{"shared", 11}, {"pervu", 12}} {
		for i := range sc.n {
			id := fmt.Sprintf("%s:%d", sc.name, i)
			switch ids[id] {
			case 0:
				missing = append(missing, id)
			case 1:
			default:
				dup = append(dup, id)
			}
			delete(ids, id)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(ids) > 0 {
		t.Errorf("missing %v, run twice %v, unexpected %v", missing, dup, ids)
	}
}

// The first Ctrl-C lets running iterations finish within gracefulStop,
// runs teardown and writes the summary; exit code 105.
func TestCtrlCStopsGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	out := filepath.Join(t.TempDir(), "out.json")
	r := runScriptCtx(t, ctx, "ctrl_c.js", func(o *Options) {
		o.Env["ITER_SECONDS"] = "1"
		o.JSONOut = out
	})
	el := time.Since(start)
	if r.res.ExitCode != ExitExternalAbort || !errors.Is(r.err, ErrInterrupted) {
		t.Fatalf("exit %d (%v), want 105", r.res.ExitCode, r.err)
	}
	if el > 10*time.Second {
		t.Errorf("stopping took %v", el)
	}
	snap := r.res.Snapshot
	// 2 VUs: iterations ending at 1s finished; the ones started at 1s finish
	// at 2s within gracefulStop, and nothing is interrupted.
	if f := metricValue(t, snap, "finished", "count"); f != 4 {
		t.Errorf("finished %v, want 4", f)
	}
	if td := metricValue(t, snap, "torn_down", "count"); td != 1 {
		t.Error("teardown did not run")
	}
	if !strings.Contains(r.stdout, "TOTAL RESULTS") {
		t.Error("no summary")
	}
	if _, points := readNDJSON(t, out); len(points) == 0 {
		t.Error("no JSON output")
	}
}

// A second Ctrl-C (Kill) interrupts at once, skips teardown, and still
// writes the summary.
func TestSecondCtrlCStopsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	kill := make(chan struct{})
	time.AfterFunc(500*time.Millisecond, func() {
		cancel()
		time.AfterFunc(300*time.Millisecond, func() { close(kill) })
	})
	start := time.Now()
	r := runScriptCtx(t, ctx, "ctrl_c.js", func(o *Options) {
		o.Env["ITER_SECONDS"] = "20"
		o.Env["GRACEFUL"] = "30s"
		o.Kill = kill
	})
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a second Ctrl-C took %v to stop", el)
	}
	if r.res.ExitCode != ExitExternalAbort {
		t.Fatalf("exit %d (%v)", r.res.ExitCode, r.err)
	}
	if _, ok := r.res.Snapshot.Metric("torn_down"); ok {
		t.Error("teardown ran after a second Ctrl-C")
	}
	if !strings.Contains(r.stdout, "TOTAL RESULTS") {
		t.Error("no summary")
	}
}

func TestBadOptionsReportEverything(t *testing.T) {
	r := runScript(t, "bad_options.js", nil)
	if r.res.ExitCode != ExitInvalidConfig {
		t.Fatalf("exit %d (%v), want 104", r.res.ExitCode, r.err)
	}
	msg := r.err.Error()
	for _, want := range []string{
		"scenarios.login: vus: want an integer",
		"scenarios.login: duration: invalid duration \"30 seconds\"",
		"scenarios.spawn: preAllocatedVUs: missing",
		"scenarios.spawn: maxVU: unknown field (did you mean \"maxVUs\"?)",
		"scenarios.nothing: executor: unknown executor \"constant-vu\"",
		"scenarios.other: exec: function \"missingFunction\" is not exported",
		"thresholds[\"no_such_metric\"]: no metric \"no_such_metric\"",
		"\"p(95)<1\" uses p(95) but a rate metric has rate",
		"\"rate<<1\"",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestTestAbort(t *testing.T) {
	r := runScript(t, "abort.js", nil)
	if r.res.ExitCode != ExitScriptAborted || !errors.Is(r.err, ErrAborted) || !strings.Contains(r.err.Error(), "enough") {
		t.Fatalf("exit %d (%v), want 108", r.res.ExitCode, r.err)
	}
	if _, ok := r.res.Snapshot.Metric("after_abort"); ok {
		t.Error("code after test.abort() ran")
	}
	if metricValue(t, r.res.Snapshot, "torn_down", "count") != 1 {
		t.Error("teardown did not run after test.abort()")
	}
}

func TestInitContext(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.json")
	r := runScript(t, "init_context.js", func(o *Options) { o.JSONOut = out })
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	root := r.res.Snapshot.Root
	for _, c := range root.Checks {
		if c.Fails > 0 {
			t.Errorf("check %q failed", c.Name)
		}
	}
	if len(root.Checks) != 5 {
		t.Errorf("checks %+v", root.Checks)
	}
	// The module's declared metric got the VU's tags, the TagSink's and its
	// own.
	_, points := readNDJSON(t, out)
	found := false
	for _, p := range points {
		if p.Metric == "testhub_calls" {
			found = true
			if p.Data.Tags["scenario"] != "default" || p.Data.Tags["endpoint"] != "call" || p.Data.Tags["status"] != "200" {
				t.Errorf("tags %v", p.Data.Tags)
			}
		}
	}
	if !found {
		t.Error("no testhub_calls point")
	}
	if metricValue(t, r.res.Snapshot, "testhub_calls", "count") != 1 {
		t.Error("testhub_calls not counted")
	}
}

func TestSetupTimeout(t *testing.T) {
	start := time.Now()
	r := runScript(t, "setup_timeout.js", nil)
	if r.res.ExitCode != ExitSetupTimeout {
		t.Fatalf("exit %d (%v), want 100", r.res.ExitCode, r.err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("setup was not interrupted")
	}
}

func TestAsyncDefault(t *testing.T) {
	r := runScript(t, "async.js", nil)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	for _, c := range r.res.Snapshot.Root.Checks {
		if c.Fails > 0 || c.Passes != 2 {
			t.Errorf("check %+v", c)
		}
	}
	r = runScript(t, "async.js", func(o *Options) { o.Env["REJECT"] = "1" })
	if !strings.Contains(r.stderr, "Uncaught (in promise)") || !strings.Contains(r.stderr, "nobody catches this") {
		t.Errorf("unhandled rejection not reported:\n%s", r.stderr)
	}
}

func TestUnknownModules(t *testing.T) {
	r := runScript(t, "unknown_module.js", nil)
	if r.res.ExitCode != ExitScriptException || !strings.Contains(r.err.Error(), `"k6/http", "k6/x/nope"`) ||
		!strings.Contains(r.err.Error(), "k6/x/testhub") {
		t.Errorf("exit %d: %v", r.res.ExitCode, r.err)
	}
}

// rssCollector stands in for hub telemetry.
type rssCollector struct{}

func (rssCollector) Metrics() []samples.Metric {
	return []samples.Metric{{Name: "hub_rss_bytes", Kind: samples.Gauge, Contains: samples.Data}}
}

func (rssCollector) Run(ctx context.Context, sink samples.Sink) error {
	sink.AddSample(samples.Sample{Metric: "hub_rss_bytes", Time: time.Now(), Value: 123 << 20, Tags: map[string]string{"release": "5.3.0"}})
	<-ctx.Done()
	return nil
}

func TestCollectorSamplesJoinTheStream(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.json")
	r := runScript(t, "collector.js", func(o *Options) {
		o.Collectors = []Collector{rssCollector{}}
		o.JSONOut = out
	})
	if r.err != nil {
		t.Fatalf("%v", r.err)
	}
	if v := metricValue(t, r.res.Snapshot, "hub_rss_bytes", "value"); v != 123<<20 {
		t.Errorf("hub_rss_bytes %v", v)
	}
	kinds, _ := readNDJSON(t, out)
	if kinds["hub_rss_bytes"] != "gauge" {
		t.Errorf("json kinds %v", kinds)
	}
}

func TestShortcutsAndOverrides(t *testing.T) {
	cases := []struct {
		raw  string
		ov   Overrides
		want string
	}{
		{`{}`, Overrides{}, "per-vu-iterations"},
		{`{"vus":3,"duration":"10s"}`, Overrides{}, "constant-vus"},
		{`{"vus":3,"iterations":9}`, Overrides{}, "shared-iterations"},
		{`{"stages":[{"duration":"10s","target":5}]}`, Overrides{}, "ramping-vus"},
		{`{"vus":4}`, Overrides{}, "shared-iterations"},
		// CLI --duration replaces the script's scenarios.
		{`{"scenarios":{"a":{"executor":"per-vu-iterations"}}}`, Overrides{Duration: 5 * time.Second, VUs: 2}, "constant-vus"},
	}
	for _, c := range cases {
		var raw map[string]any
		if err := json.Unmarshal([]byte(c.raw), &raw); err != nil {
			t.Fatal(err)
		}
		o, errs := ParseOptions(raw, nil, c.ov)
		if len(errs) > 0 || len(o.Scenarios) != 1 || o.Scenarios[0].Base().Type != c.want || o.Scenarios[0].Base().Name != "default" {
			t.Errorf("%s %+v: %v %v", c.raw, c.ov, errs, o.Scenarios)
		}
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(`{"duration":"10s","stages":[{"duration":"1s","target":1}],"iterations":1.5,"summaryTimeUnit":"h","http":{}}`), &raw)
	o, errs := ParseOptions(raw, nil, Overrides{})
	all := fmt.Sprint(errs)
	for _, want := range []string{"iterations: want an integer", "`duration` and `stages`", "summaryTimeUnit"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q: %s", want, all)
		}
	}
	if !slices.ContainsFunc(o.Warnings, func(w string) bool { return strings.Contains(w, `"http"`) }) {
		t.Errorf("no warning for an unsupported option: %v", o.Warnings)
	}
}

func TestScenarioOrderIsKept(t *testing.T) {
	raw := map[string]any{"scenarios": map[string]any{
		"zeta":  map[string]any{"executor": "per-vu-iterations"},
		"alpha": map[string]any{"executor": "per-vu-iterations"},
	}}
	o, errs := ParseOptions(raw, []string{"zeta", "alpha"}, Overrides{})
	if len(errs) > 0 || o.Scenarios[0].Base().Name != "zeta" {
		t.Errorf("%v %v", errs, o.Scenarios)
	}
}

func TestRegisterModuleRefusesBadPaths(t *testing.T) {
	for _, p := range []string{"", "./x", "/abs", "https://x/y.js", "k6", "k6/metrics", "k6/x/testhub"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterModule(%q) did not panic", p)
				}
			}()
			RegisterModule(p, testHub{})
		}()
	}
}

func TestExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		nil: 0, ErrThresholdsFailed: 99, ErrSetupTimeout: 100, ErrTeardownTimeout: 101, ErrInvalidOptions: 104,
		ErrInterrupted: 105, ErrScript: 107, ErrAborted: 108, &abortError{"x"}: 108, errors.New("other"): 1,
		&ScriptError{Message: "x"}: 107, fmt.Errorf("wrapped: %w", ErrInvalidOptions): 104,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

var stackLine = regexp.MustCompile(`^\tat `)

func TestStackHelpers(t *testing.T) {
	st := stackLines("Error: x\n    at f (/a/b.js:3:4(5))\n    at /a/b.js:9:1(2)\n")
	lines := strings.Split(strings.TrimSuffix(st, "\n"), "\n")
	if len(lines) != 2 || !stackLine.MatchString(lines[0]) {
		t.Errorf("stackLines = %q", st)
	}
	if f, l, c := firstPosition(st); f != "/a/b.js" || l != 3 || c != 4 {
		t.Errorf("firstPosition = %s %d %d", f, l, c)
	}
}

func TestScenarioExecEnvTags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.json")
	r := runScript(t, "exec_env.js", func(o *Options) { o.JSONOut = out })
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	for _, c := range r.res.Snapshot.Root.Checks {
		if c.Fails > 0 {
			t.Errorf("check %q failed", c.Name)
		}
	}
	_, points := readNDJSON(t, out)
	special := 0
	for _, p := range points {
		if p.Metric == "iterations" && p.Data.Tags["scenario"] == "special" {
			special++
			if p.Data.Tags["team"] != "hub" || p.Data.Tags["user"] != "alice" {
				t.Errorf("tags %v", p.Data.Tags)
			}
		}
	}
	if special != 2 {
		t.Errorf("special ran %d iterations", special)
	}
}

// TestEnvObject: __ENV, made when read from an environment the VUs share,
// reads, lists and stringifies like a plain object, and what one VU sets or
// deletes is its own (each of the two VUs sees GONE before deleting it).
func TestEnvObject(t *testing.T) {
	r := runScript(t, "env_object.js", func(o *Options) {
		o.Env = map[string]string{"HUBCAP_ENV_A": "a", "GONE": "x"}
	})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	n := 0
	for _, c := range r.res.Snapshot.Root.Checks {
		n++
		if c.Fails > 0 || c.Passes != 2 {
			t.Errorf("check %q: %d passes, %d fails, want 2 passes", c.Name, c.Passes, c.Fails)
		}
	}
	if n != 6 {
		t.Errorf("%d checks, want 6", n)
	}
}
