package reports

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

const tol = 1e-9

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func pts(tv ...float64) []Point {
	var out []Point
	for i := 0; i+1 < len(tv); i += 2 {
		out = append(out, Point{Time: at(tv[i]), Value: tv[i+1]})
	}
	return out
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    []float64
		p    float64
		want float64
	}{
		// Reference values: numpy.percentile(s, 100*p) (method="linear"), which
		// is the same closest-ranks interpolation as k6's TrendSink.P.
		{"median of even count interpolates", []float64{1, 2, 3, 4}, 0.5, 2.5},
		{"p95 of four", []float64{1, 2, 3, 4}, 0.95, 3.85},
		{"p40 of five", []float64{15, 20, 35, 40, 50}, 0.4, 29},
		{"p0 is the min", []float64{15, 20, 35, 40, 50}, 0, 15},
		{"p100 is the max", []float64{15, 20, 35, 40, 50}, 1, 50},
		{"one value is every quantile", []float64{7}, 0.99, 7},
		{"p out of range is clamped", []float64{1, 2}, 1.5, 2},
		{"no values is NaN", nil, 0.5, math.NaN()},
	} {
		if got := Percentile(tc.s, tc.p); !near(got, tc.want) {
			t.Errorf("%s: Percentile(%v, %v) = %v, want %v", tc.name, tc.s, tc.p, got, tc.want)
		}
	}
}

func TestChooseWindow(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		target int
		want   time.Duration
	}{
		{0, 30, time.Second},                       // empty run: finest width
		{29 * time.Second, 30, time.Second},        // 29 windows of 1 s fit
		{30 * time.Second, 30, 2 * time.Second},    // 31 windows of 1 s would not
		{12 * time.Minute, 30, 30 * time.Second},   // 25 windows (a workshop's latency panels)
		{12 * time.Minute, 120, 10 * time.Second},  // 73 windows (the Timeline)
		{3 * time.Hour, 30, 10 * time.Minute},      // 19 windows
		{100 * 24 * time.Hour, 30, 81 * time.Hour}, // beyond the nice list: whole hours, ≤ target windows
		{-time.Second, 0, time.Second},             // nonsense input still gives a width
	} {
		got := ChooseWindow(tc.d, tc.target)
		if got != tc.want {
			t.Errorf("ChooseWindow(%v, %d) = %v, want %v", tc.d, tc.target, got, tc.want)
		}
		if tc.target > 0 && tc.d >= 0 {
			if n := NewWindows(t0, t0.Add(tc.d), got).N; n > tc.target {
				t.Errorf("ChooseWindow(%v, %d) gives %d windows", tc.d, tc.target, n)
			}
		}
	}
}

func TestWindowsIndex(t *testing.T) {
	w := NewWindows(t0, at(25), 10*time.Second) // [0,10) [10,20) [20,30)
	if w.N != 3 {
		t.Fatalf("N = %d, want 3", w.N)
	}
	for _, tc := range []struct {
		sec  float64
		want int
	}{{0, 0}, {9.999, 0}, {10, 1}, {25, 2}, {29.9, 2}, {30, -1}, {-0.001, -1}} {
		if got := w.Index(at(tc.sec)); got != tc.want {
			t.Errorf("Index(t0+%vs) = %d, want %d", tc.sec, got, tc.want)
		}
	}
	// The end itself lands in the last window even on a boundary.
	if w := NewWindows(t0, at(20), 10*time.Second); w.Index(at(20)) != w.N-1 {
		t.Errorf("end on a boundary is outside the windows")
	}
	if got := w.Mid(1); got != 15*time.Second {
		t.Errorf("Mid(1) = %v", got)
	}
}

func TestQuantileWindows(t *testing.T) {
	w := NewWindows(t0, at(29), 10*time.Second)
	got := QuantileWindows(pts(
		1, 400, 2, 100, 3, 300, 4, 200, // window 0: 100..400
		25, 50, // window 2: one value
		31, 9999, // after the run: ignored
	), w, []float64{0.5, 0.95})
	want := []QuantileWindow{
		{Count: 4, Q: []float64{250, 385}}, // numpy: median 250, p95 of 100..400 = 385
		{Count: 0, Q: []float64{math.NaN(), math.NaN()}},
		{Count: 1, Q: []float64{50, 50}},
	}
	for i := range want {
		if got[i].Count != want[i].Count || !near(got[i].Q[0], want[i].Q[0]) || !near(got[i].Q[1], want[i].Q[1]) {
			t.Errorf("window %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSumWindows(t *testing.T) {
	w := NewWindows(t0, at(59), 20*time.Second)
	got := SumWindows(pts(0, 1, 5, 1, 19.9, 1, 20, 1, 61, 1), w)
	want := []float64{3, 1, 0} // arrivals per window; the one after the end is dropped
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("SumWindows = %v, want %v", got, want)
			break
		}
	}
}

func TestIncreaseWindows(t *testing.T) {
	w := NewWindows(t0, at(59), 10*time.Second) // six windows
	for _, tc := range []struct {
		name string
		in   []Point
		want []float64
	}{
		{"samples every 10 s credit one window each",
			pts(0, 100, 10, 101, 20, 103, 30, 106), []float64{1, 2, 3, 0, 0, 0}},
		// A 15 s sampling period over 10 s windows: each increase is spread
		// over the windows it spans instead of leaving every other window at 0.
		{"slow sampling is spread, not aliased",
			pts(0, 0, 15, 3, 30, 6), []float64{2, 2, 2, 0, 0, 0}},
		// The hub restarted between 20 s and 30 s: its CPU counter began again
		// at 0 and reached 0.5; that is the increase, not -9.5.
		{"a drop is a restart",
			pts(0, 8, 10, 9, 20, 10, 30, 0.5, 40, 1.5), []float64{1, 1, 0.5, 1, 0, 0}},
		{"one sample shows no increase", pts(5, 100), []float64{0, 0, 0, 0, 0, 0}},
		{"samples at the same instant credit their window",
			pts(12, 1, 12, 4), []float64{0, 3, 0, 0, 0, 0}},
		{"the part before the run is dropped",
			pts(-10, 0, 10, 4), []float64{2, 0, 0, 0, 0, 0}},
	} {
		got := IncreaseWindows(tc.in, w)
		for i := range tc.want {
			if !near(got[i], tc.want[i]) {
				t.Errorf("%s: IncreaseWindows = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

func TestCoverage(t *testing.T) {
	w := NewWindows(t0, at(29), 10*time.Second)
	got := Coverage(pts(5, 0, 15, 1, 22, 2), w)
	want := []time.Duration{5 * time.Second, 10 * time.Second, 2 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Coverage = %v, want %v", got, want)
		}
	}
}

func TestGaugeWindows(t *testing.T) {
	w := NewWindows(t0, at(59), 10*time.Second) // six windows
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		series [][]Point
		want   []float64
	}{
		{"peak of each window",
			[][]Point{pts(1, 5, 2, 9, 3, 7, 11, 4)}, []float64{9, 4, nan, nan, nan, nan}},
		// A gauge sampled every 20 s keeps its value between samples...
		{"carried forward inside its lifetime",
			[][]Point{pts(0, 10, 20, 20, 40, 30)}, []float64{10, 10, 20, 20, 30, nan}},
		// ...but not after its last sample: a hub that died reports nothing.
		{"no value after the series ends",
			[][]Point{pts(0, 100, 15, 200)}, []float64{100, 200, nan, nan, nan, nan}},
		{"series are summed where they overlap",
			[][]Point{pts(0, 1, 50, 1), pts(20, 5, 30, 6)}, []float64{1, 1, 6, 7, 1, 1}},
		{"a value from before the run carries in",
			[][]Point{pts(-5, 3, 25, 4)}, []float64{3, 3, 4, nan, nan, nan}},
	} {
		got := GaugeWindows(tc.series, w)
		for i := range tc.want {
			if !near(got[i], tc.want[i]) {
				t.Errorf("%s: GaugeWindows = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{4, 1, 3, 2, math.Inf(1), math.NaN()})
	if s.Count != 4 || s.Min != 1 || s.Max != 4 || s.Mean != 2.5 || s.Sum != 10 || !near(s.P50, 2.5) || !near(s.P95, 3.85) {
		t.Errorf("Summarize = %+v", s)
	}
	if e := Summarize(nil); e.Count != 0 || !math.IsNaN(e.P99) || !math.IsNaN(e.Max) {
		t.Errorf("Summarize(nil) = %+v", e)
	}
}

func resultsOf(t *testing.T, stream string) *Results {
	t.Helper()
	res, err := ReadNDJSON(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func metricDecl(name, typ string) string {
	return fmt.Sprintf(`{"type":"Metric","data":{"name":%q,"type":%q,"contains":"default"},"metric":%q}`, name, typ, name)
}

func point(name string, sec, v float64, tags string) string {
	return fmt.Sprintf(`{"type":"Point","data":{"time":%q,"value":%v,"tags":{%s}},"metric":%q}`,
		at(sec).Format(time.RFC3339Nano), v, tags, name)
}

// Latencies are found by type and phase tag, whatever the metric is called.
func TestPhaseLatencies(t *testing.T) {
	res := resultsOf(t, lines(
		metricDecl("hubcap_spawn_ms", "trend"),
		metricDecl("jupyterhub_phase_duration", "trend"),
		metricDecl("jupyterhub_errors", "counter"),
		metricDecl("iteration_duration", "trend"),
		point("hubcap_spawn_ms", 1, 5000, `"phase":"spawn","user":"a"`),
		point("hubcap_spawn_ms", 2, 7000, `"phase":"spawn","user":"b"`),        // merged over other tags
		point("jupyterhub_phase_duration", 3, 200, `"phase":"login"`),          // another name, another phase
		point("jupyterhub_phase_duration", 3, 300, `"phase":"warmup"`),         // unknown phase: sorted last
		point("jupyterhub_errors", 4, 1, `"phase":"spawn","status":"500"`),     // a counter: not a latency
		point("iteration_duration", 5, 9, `"phase":"spawn"`),                   // k6 builtin: not a phase
		point("undeclared_ms", 6, 42, `"phase":"execute"`),                     // undeclared, no status: a latency
		point("undeclared_errs", 6, 1, `"phase":"execute","status":"timeout"`), // undeclared with status: an error
		point("jupyterhub_phase_duration", 7, 100, `"phase":"spawn"`),          // spawn from a 2nd metric
	))
	got := PhaseLatencies(res)
	var desc []string
	for _, p := range got {
		desc = append(desc, fmt.Sprintf("%s/%s/%d", p.Phase, p.Metric, len(p.Points)))
	}
	want := []string{"login/jupyterhub_phase_duration/1", "spawn/hubcap_spawn_ms/2", "spawn/jupyterhub_phase_duration/1",
		"execute/undeclared_ms/1", "warmup/jupyterhub_phase_duration/1"}
	if fmt.Sprint(desc) != fmt.Sprint(want) {
		t.Errorf("PhaseLatencies = %v, want %v", desc, want)
	}
}

func TestErrorCounts(t *testing.T) {
	res := resultsOf(t, lines(
		metricDecl("jupyterhub_errors", "counter"),
		metricDecl("jupyterhub_throttled", "counter"),
		metricDecl("hub_rss_bytes", "gauge"),
		point("jupyterhub_errors", 1, 1, `"phase":"spawn","status":"500","user":"a"`),
		point("jupyterhub_errors", 2, 1, `"phase":"spawn","status":"500","user":"b"`),
		point("jupyterhub_errors", 3, 2, `"phase":"execute","status":"timeout"`),
		point("jupyterhub_errors", 3, 1, `"status":"503"`),
		point("jupyterhub_throttled", 4, 1, `"phase":"spawn","status":"429"`),
		point("jupyterhub_throttled", 5, 1, `"phase":"spawn","status":"429"`),
		point("hub_rss_bytes", 5, 1e9, `"status":"ignored"`), // a gauge is never an error count
	))
	errs, throttled := ErrorCounts(res)
	want := "[{spawn 500 2} {execute timeout 2} {- 503 1}]"
	if got := fmt.Sprint(errs); got != want {
		t.Errorf("ErrorCounts = %s, want %s", got, want)
	}
	if throttled["spawn"] != 2 || len(throttled) != 1 {
		t.Errorf("throttled = %v, want spawn:2", throttled)
	}
}

func TestCheckCounts(t *testing.T) {
	res := resultsOf(t, lines(
		point("checks", 1, 1, `"check":"ready"`), point("checks", 2, 0, `"check":"ready"`),
		point("checks", 3, 1, `"check":"ready"`), point("checks", 4, 1, `"check":"idle"`),
	))
	got := CheckCounts(res)
	if len(got) != 2 || got[0].Name != "idle" || got[1].Pass != 2 || got[1].Fail != 1 || !near(got[1].PassFraction, 2.0/3) {
		t.Errorf("CheckCounts = %+v", got)
	}
}

// The timeline's rates from the fixture: 30 arrivals in all, CPU in cores.
func TestBuildTimelineFromFixture(t *testing.T) {
	res := readFixture(t)
	w := NewWindows(res.Start, res.End, 30*time.Second)
	aw := NewWindows(res.Start, res.End, time.Minute)
	tl := BuildTimeline(res, w, aw)
	if s := Summarize(tl.Arrivals).Sum; s != 30 {
		t.Errorf("arrivals total %v, want 30", s)
	}
	// Per-minute rate over 1 min windows equals the count in each window.
	if s := Summarize(tl.ArrivalRate).Sum; s != 30 {
		t.Errorf("arrivals/min summed over 1-min windows = %v, want 30", s)
	}
	// CPU: the fixture's counter grows by 0.15..0.35 + 0.05/running server every
	// 15 s, so cores are between 0.01 and (0.35+0.05·30)/15 ≈ 0.12.
	for i, c := range tl.CPU {
		if finite(c) && (c < 0.009 || c > 0.125) {
			t.Errorf("CPU window %d = %v cores, outside the fixture's range", i, c)
		}
	}
	if Summarize(tl.Active).Max != 30 || Summarize(tl.Running).Max != 28 {
		t.Errorf("peaks: active %v running %v, want 30 and 28", Summarize(tl.Active).Max, Summarize(tl.Running).Max)
	}
}

// hub_cpu_seconds as a cumulative gauge (the runtime's telemetry) and as a
// k6 Counter of increments give the same cores.
func TestBuildTimelineCPU(t *testing.T) {
	w := NewWindows(t0, at(29), 10*time.Second)
	gauge := resultsOf(t, lines(metricDecl("hub_cpu_seconds", "gauge"),
		point("hub_cpu_seconds", 0, 50, ""), point("hub_cpu_seconds", 10, 51, ""),
		point("hub_cpu_seconds", 20, 53, ""), point("hub_cpu_seconds", 29, 55.7, "")))
	counter := resultsOf(t, lines(metricDecl("hub_cpu_seconds", "counter"),
		point("hub_cpu_seconds", 9, 1, ""), point("hub_cpu_seconds", 19, 2, ""),
		point("hub_cpu_seconds", 29, 3, "")))
	// Gauge: +1 s in window 0, +2 s in window 1, +2.7 s over the 9 s of
	// window 2 that samples cover: 0.1, 0.2 and 0.3 cores.
	// Counter: increments 1, 2, 3 s per 10 s window: 0.1, 0.2, 0.3 cores.
	want := []float64{0.1, 0.2, 0.3}
	for name, res := range map[string]*Results{"gauge": gauge, "counter": counter} {
		got := BuildTimeline(res, w, w).CPU
		for i := range want {
			if !near(got[i], want[i]) {
				t.Errorf("%s: CPU = %v, want %v", name, got, want)
				break
			}
		}
	}
}
