package output

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// k6Line is one line of k6's JSON output, as k6-format readers decode it.
type k6Line struct {
	Type   string          `json:"type"`
	Metric string          `json:"metric"`
	Data   json.RawMessage `json:"data"`
}

type k6MetricData struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Contains   string      `json:"contains"`
	Thresholds []string    `json:"thresholds"`
	Submetrics []Submetric `json:"submetrics"`
}

type k6PointData struct {
	Time  time.Time         `json:"time"`
	Value float64           `json:"value"`
	Tags  map[string]string `json:"tags"`
}

// readK6JSON parses an NDJSON stream the way k6 tooling does, checking that
// every point's metric was described before.
func readK6JSON(t *testing.T, r io.Reader) (map[string]k6MetricData, map[string][]k6PointData) {
	t.Helper()
	ms := map[string]k6MetricData{}
	pts := map[string][]k6PointData{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		var l k6Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, sc.Text())
		}
		switch l.Type {
		case "Metric":
			var m k6MetricData
			if err := json.Unmarshal(l.Data, &m); err != nil || m.Name != l.Metric {
				t.Fatalf("line %d: bad metric %s", n, sc.Text())
			}
			ms[m.Name] = m
		case "Point":
			if _, ok := ms[l.Metric]; !ok {
				t.Fatalf("line %d: point of %s before its Metric line", n, l.Metric)
			}
			var p k6PointData
			if err := json.Unmarshal(l.Data, &p); err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			pts[l.Metric] = append(pts[l.Metric], p)
		default:
			t.Fatalf("line %d: type %q", n, l.Type)
		}
	}
	return ms, pts
}

func describeFor(reg *metrics.Registry) func(string) (MetricMeta, bool) {
	return func(name string) (MetricMeta, bool) {
		m, ok := reg.Get(name)
		if !ok {
			return MetricMeta{}, false
		}
		meta := MetricMeta{Metric: m}
		if name == "login_time" {
			meta.Thresholds = []string{"p(95)<500"}
			meta.Submetrics = []Submetric{{Name: "login_time{scenario:a}", Suffix: "scenario:a", Tags: map[string]string{"scenario": "a"}}}
		}
		return meta, true
	}
}

func TestJSONOutputIsK6Format(t *testing.T) {
	for _, name := range []string{"out.json", "out.json.gz"} {
		t.Run(name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			_ = reg.Register(samples.Metric{Name: "login_time", Kind: samples.Trend, Contains: samples.Time})
			path := filepath.Join(t.TempDir(), name)
			o, err := OpenJSON(path, describeFor(reg))
			if err != nil {
				t.Fatal(err)
			}
			at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
			o.AddSample(samples.Sample{Metric: "login_time", Time: at, Value: 12.5, Tags: map[string]string{"scenario": "a", "group": ""}})
			o.AddSample(samples.Sample{Metric: "login_time", Time: at, Value: 30, Tags: map[string]string{"scenario": "b"}})
			o.AddSample(samples.Sample{Metric: "iterations", Time: at, Value: 1})
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			var r io.Reader
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r = f
			if strings.HasSuffix(name, ".gz") {
				if r, err = gzip.NewReader(f); err != nil {
					t.Fatal(err)
				}
			}
			ms, pts := readK6JSON(t, r)
			lt := ms["login_time"]
			if lt.Type != "trend" || lt.Contains != "time" || len(lt.Thresholds) != 1 || len(lt.Submetrics) != 1 {
				t.Errorf("metric line %+v", lt)
			}
			if ms["iterations"].Type != "counter" || ms["iterations"].Thresholds == nil {
				t.Errorf("iterations metric %+v (thresholds must be [] not null)", ms["iterations"])
			}
			if len(pts["login_time"]) != 2 || pts["login_time"][0].Value != 12.5 || !pts["login_time"][0].Time.Equal(at) ||
				pts["login_time"][0].Tags["scenario"] != "a" {
				t.Errorf("points %+v", pts["login_time"])
			}
			if pts["iterations"][0].Tags == nil {
				t.Error("tags must be an object, not null")
			}
		})
	}
}

// Samples reach the file while the run goes on, without Close, so a crash
// keeps what was measured.
func TestJSONOutputFlushesPeriodically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	o := NewJSON(f, nil)
	o.Start(20 * time.Millisecond)
	defer o.Close()
	o.AddSample(samples.Sample{Metric: "vus", Time: time.Now(), Value: 3})
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(`"type":"Point"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sample not flushed within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The buffer is bounded: beyond MaxBuffered samples are written at once.
func TestJSONOutputBoundedBuffer(t *testing.T) {
	var buf bytes.Buffer
	o := NewJSON(&buf, nil)
	o.MaxBuffered = 10
	for i := range 25 {
		o.AddSample(samples.Sample{Metric: "x", Time: time.Unix(int64(i), 0), Value: float64(i)})
	}
	if o.Written() != 20 {
		t.Errorf("written %d before any flush, want 20", o.Written())
	}
	_ = o.Close()
	if o.Written() != 25 {
		t.Errorf("written %d after close", o.Written())
	}
}

func TestHumanizeValue(t *testing.T) {
	trend := samples.Metric{Kind: samples.Trend, Contains: samples.Time}
	data := samples.Metric{Kind: samples.Counter, Contains: samples.Data}
	rate := samples.Metric{Kind: samples.Rate}
	plain := samples.Metric{Kind: samples.Counter}
	cases := []struct {
		v    float64
		m    samples.Metric
		unit string
		want string
	}{
		{0, trend, "", "0s"},
		{0.0005, trend, "", "500ns"},
		{0.25, trend, "", "250µs"},
		{148.215, trend, "", "148.21ms"}, // truncated, not rounded
		{1234.5, trend, "", "1.23s"},
		{61500, trend, "", "1m1s"},
		{3723000, trend, "", "1h2m3s"},
		{1234.5, trend, "ms", "1234.50ms"},
		{5, data, "", "5 B"},
		{1500, data, "", "1.5 kB"},
		{123456789, data, "", "124 MB"}, // 123.5 rounds half up, as JavaScript's toFixed
		{122500000, data, "", "123 MB"},
		{0.99999, rate, "", "99.99%"},
		{1, rate, "", "100.00%"},
		{20, plain, "", "20"},
		{1.98612345, plain, "", "1.986123"},
	}
	for _, c := range cases {
		if got := HumanizeValue(c.v, c.m, c.unit); got != c.want {
			t.Errorf("HumanizeValue(%v, %s/%s, %q) = %q, want %q", c.v, c.m.Kind, c.m.Contains, c.unit, got, c.want)
		}
	}
}

// fixture is a deterministic run: custom metrics, checks in groups, a
// submetric threshold and a failing one.
func fixture(t *testing.T) *metrics.Snapshot {
	t.Helper()
	reg := metrics.NewRegistry()
	for _, m := range []samples.Metric{
		{Name: "login_time", Kind: samples.Trend, Contains: samples.Time},
		{Name: "spawn_errors", Kind: samples.Rate},
		{Name: "jupyterhub_spawn_duration", Kind: samples.Trend, Contains: samples.Time},
	} {
		if err := reg.Register(m); err != nil {
			t.Fatal(err)
		}
	}
	var sets []*metrics.ThresholdSet
	for key, srcs := range map[string][]string{
		"login_time":             {"p(95)<500", "p(99)<1000"},
		"login_time{scenario:b}": {"max<100"},
		"checks":                 {"rate>0.99"},
		"iterations":             {"count>5"},
	} {
		var cfgs []metrics.ThresholdConfig
		for _, s := range srcs {
			cfgs = append(cfgs, metrics.ThresholdConfig{Threshold: s})
		}
		set, errs := metrics.NewThresholdSet(key, cfgs)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		sets = append(sets, set)
	}
	e, errs := metrics.NewEngine(reg, sets)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	at := time.Unix(0, 0)
	add := func(m string, v float64, tags map[string]string) {
		e.AddSample(samples.Sample{Metric: m, Time: at, Value: v, Tags: tags})
	}
	for i := range 10 {
		sc := "a"
		if i%2 == 1 {
			sc = "b"
		}
		tags := map[string]string{"scenario": sc, "group": ""}
		add("login_time", float64(100+i*50), tags)
		add("jupyterhub_spawn_duration", float64(2000+i*100), tags)
		add("iterations", 1, tags)
		add("iteration_duration", 1000+float64(i), tags)
		add("spawn_errors", float64(i%5/4), tags)
		add("checks", 1, map[string]string{"check": "logged in", "group": "::login"})
		add("checks", float64((i+1)%4/3^1&1), map[string]string{"check": "server ready", "group": "::login::spawn"})
		add("data_received", 1500, tags)
		add("data_sent", 0, tags)
		add("group_duration", 10, map[string]string{"group": "::login"})
	}
	add("vus", 2, nil)
	add("vus", 5, nil)
	add("vus_max", 5, nil)
	return e.Snapshot(10*time.Second, nil)
}

func TestTextSummaryGolden(t *testing.T) {
	snap := fixture(t)
	out := TextSummary(snap, SummaryOptions{})
	testkit.Golden(t, filepath.Join("testdata", "summary.golden"), out)
	// The things a user looks for, independently of the golden file.
	for _, want := range []string{"█ THRESHOLDS", "█ TOTAL RESULTS", "✗ 'rate>0.99' rate=", "✓ 'count>5' count=10",
		"{scenario:b}", "checks_total", "✓ logged in", "✗ server ready", "↳  ", "CUSTOM", "JUPYTERHUB", "EXECUTION", "NETWORK",
		"p(95)=", "iterations"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(out, "group_duration") {
		t.Error("the compact summary leaves group_duration out")
	}
	colored := TextSummary(snap, SummaryOptions{Color: true})
	if !strings.Contains(colored, "\x1b[") || strWidth(colored) >= len(colored) {
		t.Error("colors missing")
	}
}

func TestSummaryDataShape(t *testing.T) {
	snap := fixture(t)
	d := SummaryData(snap, SummaryOptions{}, RunState{SetupData: `{"token":"x"}`})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		RootGroup struct {
			Name   string `json:"name"`
			Groups []struct {
				Name   string `json:"name"`
				Path   string `json:"path"`
				Groups []struct {
					Checks []struct {
						Name   string `json:"name"`
						Passes int    `json:"passes"`
						Fails  int    `json:"fails"`
					} `json:"checks"`
				} `json:"groups"`
			} `json:"groups"`
		} `json:"root_group"`
		Options struct {
			TrendStats []string `json:"summaryTrendStats"`
		} `json:"options"`
		State struct {
			Duration float64 `json:"testRunDurationMs"`
		} `json:"state"`
		Metrics map[string]struct {
			Type       string                       `json:"type"`
			Contains   string                       `json:"contains"`
			Values     map[string]float64           `json:"values"`
			Thresholds map[string]struct{ OK bool } `json:"thresholds"`
		} `json:"metrics"`
		SetupData map[string]string `json:"setup_data"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.RootGroup.Groups[0].Path != "::login" || back.RootGroup.Groups[0].Groups[0].Checks[0].Name != "server ready" {
		t.Errorf("root_group %+v", back.RootGroup)
	}
	lt := back.Metrics["login_time"]
	if lt.Type != "trend" || lt.Contains != "time" || len(lt.Values) != 7 { // 6 stats + p(99) from a threshold
		t.Errorf("login_time %+v", lt)
	}
	if !back.Metrics["iterations"].Thresholds["count>5"].OK || back.Metrics["checks"].Thresholds["rate>0.99"].OK {
		t.Errorf("thresholds %+v %+v", back.Metrics["iterations"], back.Metrics["checks"])
	}
	if back.State.Duration != 10000 || len(back.Options.TrendStats) != 6 || back.SetupData["token"] != "x" {
		t.Errorf("state/options/setup_data %+v %+v %+v", back.State, back.Options, back.SetupData)
	}
}

func TestSummaryExportShape(t *testing.T) {
	var buf bytes.Buffer
	if err := SummaryExport(&buf, fixture(t), SummaryOptions{}); err != nil {
		t.Fatal(err)
	}
	var back struct {
		RootGroup struct {
			Groups map[string]struct {
				Groups map[string]struct {
					Checks map[string]struct{ Passes, Fails int } `json:"checks"`
				} `json:"groups"`
			} `json:"groups"`
		} `json:"root_group"`
		Metrics map[string]map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	checks := back.Metrics["checks"]
	if _, has := checks["rate"]; has || checks["value"] == nil {
		t.Errorf("a rate exports value, not rate: %v", checks)
	}
	// In the export, a threshold maps to whether it failed.
	if th := checks["thresholds"].(map[string]any); th["rate>0.99"] != true {
		t.Errorf("checks thresholds %v", th)
	}
	if c := back.RootGroup.Groups["login"].Groups["spawn"].Checks["server ready"]; c.Passes+c.Fails != 10 {
		t.Errorf("check counts %+v", c)
	}
}

func TestRenderProgress(t *testing.T) {
	st := ProgressState{
		Elapsed: 65*time.Second + 150*time.Millisecond, VUs: 7, MaxVUs: 10, Completed: 120, Interrupted: 1, Width: 100,
		Scenarios: []executor.Progress{
			{Scenario: "login", Status: executor.Running, Fraction: 0.5, Detail: "10 VUs 30s/1m", Errors: 2},
			{Scenario: "spawn_storm", Status: executor.Waiting},
			{Scenario: "arrivals", Status: executor.Done, Fraction: 1, Detail: "5.00 iters/s", Dropped: 3},
		},
	}
	got := RenderProgress(st)
	testkit.Golden(t, filepath.Join("testdata", "progress.golden"), got)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "running (1m05.1s), 7/10 VUs, 120 complete and 1 interrupted iterations") {
		t.Errorf("progress:\n%s", got)
	}
	for _, l := range lines {
		if strWidth(l) > 100 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
	if !strings.Contains(lines[1], "2 errors") || !strings.Contains(lines[3], "3 dropped") || !strings.Contains(lines[2], "waiting") {
		t.Errorf("progress:\n%s", got)
	}
	line := RenderProgressLine(st)
	if strings.Contains(line, "\n") || !strings.Contains(line, "login running  50% 2 errors") {
		t.Errorf("line %q", line)
	}
	st.Stopping = true
	if !strings.HasPrefix(RenderProgress(st), "stopping") {
		t.Error("stop not shown")
	}
}

func TestBar(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{{0, "----------"}, {0.05, "----------"}, {0.1, ">---------"}, {0.55, "====>-----"}, {1, "=========="}, {2, "=========="}, {-1, "----------"}} {
		if got := bar(c.f, 10); got != c.want {
			t.Errorf("bar(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestRenderHeader(t *testing.T) {
	got := RenderHeader(HeaderInfo{Script: "login.js", Outputs: []string{"json (out.json)"}, Segment: "0:1/2", Percent: 50,
		MaxVUs: 5, MaxDuration: 90 * time.Second, Scenarios: []ScenarioLine{{"default", "5 looping VUs for 1m (gracefulStop: 30s)"}}})
	for _, want := range []string{"script: login.js", "output: json (out.json)", "segment: 0:1/2", "(50.00%) 1 scenario, 5 max VUs, 1m30s max duration", "* default: 5 looping VUs"} {
		if !strings.Contains(got, want) {
			t.Errorf("header lacks %q:\n%s", want, got)
		}
	}
}

func ExampleHumanizeValue() {
	fmt.Println(HumanizeValue(1534.2, samples.Metric{Kind: samples.Trend, Contains: samples.Time}, ""))
	fmt.Println(HumanizeValue(0.953, samples.Metric{Kind: samples.Rate}, ""))
	// Output:
	// 1.53s
	// 95.30%
}
