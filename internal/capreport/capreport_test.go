package capreport

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// jOnlyModel is peak = 100 MiB + 2 KiB·J with a tight band: easy to invert
// by hand.
func jOnlyModel(t testing.TB) *models.Model {
	t.Helper()
	m, err := models.NewModel(models.Fit{Target: models.TargetPeakRSS, Weighting: "none", Terms: []string{"1", "J"},
		Coef: []float64{100 << 20, 2048}, StdErr: []float64{0, 0}, Sigma: 1 << 20, DoF: 10,
		CovUnscaled: [][]float64{{1e-3, 0}, {0, 1e-12}}, Level: 0.95, N: 12})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFamilyShapes(t *testing.T) {
	params := map[string]string{ParamAttendees: "700", ParamSecondServerFraction: "0.25", ParamUsers: "3", ParamServersPerUser: "1000"}
	att, err := FamilyOf(FamilyAttendees, nil, params)
	if err != nil {
		t.Fatal(err)
	}
	// 75 % of attendees: default row + 1 running named server (J_u = 1·2);
	// 25 %: default + 2 running (J_u = 2·3). Per attendee J = 0.75·2 + 0.25·6 = 3.
	if got, want := att.Shape(100), (models.Shape{U: 100, S: 225, R: 125, J: 300}); got != want {
		t.Errorf("attendees Shape(100) = %+v, want %+v", got, want)
	}
	if att.DefaultPlanned != 700 {
		t.Errorf("attendees default planned = %v, want the scenario's 700", att.DefaultPlanned)
	}
	srv, err := FamilyOf(FamilyServers, nil, params)
	if err != nil {
		t.Fatal(err)
	}
	// The incident's shape: 3 users × (1000 running + default) → J = 3·1000·1001.
	if got, want := srv.Shape(1000), (models.Shape{U: 3, S: 3003, R: 3000, J: 3003000}); got != want {
		t.Errorf("servers Shape(1000) = %+v, want %+v", got, want)
	}
	if _, err := FamilyOf("galaxies", nil, nil); !errors.Is(err, ErrBadInputs) {
		t.Errorf("unknown family: err = %v, want ErrBadInputs", err)
	}
	// Without parameters, the hub database at its peak of running servers
	// gives one attendee's shape (the fixture: S = U + R, J = 2.3·R).
	res := readRunFixture(t)
	db, err := FamilyOf(FamilyAttendees, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	one := db.Shape(1)
	if !(one.R > 0.5 && one.R < 1.5) || math.Abs(one.S-(1+one.R)) > 1e-9 || math.Abs(one.J-2.3*one.R) > 1e-9 {
		t.Errorf("per-user shape from the DB telemetry = %+v, want S = 1 + R, J = 2.3·R, R near 1", one)
	}
	if !strings.Contains(db.Describe, "hub database") {
		t.Errorf("describe %q does not say the shape came from the hub database", db.Describe)
	}
}

func TestEquivalentSize(t *testing.T) {
	m := jOnlyModel(t)
	att, _ := FamilyOf(FamilyAttendees, nil, map[string]string{ParamSecondServerFraction: "0"}) // J = 2 per attendee
	cases := []struct {
		name  string
		shape models.Shape
		want  float64
		ok    bool
	}{
		// One user with 1000 servers joins 1,001,000 rows: as many as 500,500 attendees.
		{"one heavy user", models.OneUser(1000), 500500, true},
		{"empty hub sits at 0", models.Shape{}, 0, true},
		// Beyond DefaultMaxK attendees: not drawable on this axis.
		{"beyond the search bound", models.Shape{U: 1, S: 1e9, R: 1e9, J: 1e18}, 0, false},
	}
	for _, c := range cases {
		got, ok := equivalentSize(m, att, c.shape)
		if ok != c.ok || (ok && math.Abs(got-c.want) > 1e-6*math.Max(1, c.want)) {
			t.Errorf("%s: equivalentSize = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestBuildModelThreshold(t *testing.T) {
	m := jOnlyModel(t)
	srv, _ := FamilyOf(FamilyServers, nil, map[string]string{ParamUsers: "1"})
	const limit = 3 << 30
	v := BuildModel(m, nil, srv, 1000, limit)
	k := v.Threshold
	// The threshold is the largest size whose upper band is within the limit.
	if !(k > 0) || m.Predict(srv.Shape(k)).Upper > limit || m.Predict(srv.Shape(k+1)).Upper <= limit {
		t.Fatalf("threshold %v: upper(k) = %v, upper(k+1) = %v, limit %v", k, m.Predict(srv.Shape(k)).Upper,
			m.Predict(srv.Shape(k+1)).Upper, float64(limit))
	}
	// By hand: 100 MiB + 2 KiB·k(k+1) = 3 GiB at k(k+1) = 2,972·512 =
	// 1,521,664, k ≈ 1,233; the upper band (+4.2 MiB: t₁₀ = 2.228, σ = 1 MiB,
	// sqrt(1 + x₀ᵀCx₀) ≈ 1.89) takes about one server off.
	if k < 1228 || k > 1233 {
		t.Errorf("threshold %v, want about 1,232 servers", k)
	}
	if v.PlannedPeak.Upper <= 0 || v.Model.ThresholdSize != k {
		t.Errorf("planned peak %v, model threshold %v", v.PlannedPeak, v.Model.ThresholdSize)
	}
	// The curve covers the threshold and the plan.
	last := v.Model.Fitted[len(v.Model.Fitted)-1].Size
	if last < k {
		t.Errorf("curve ends at %v before the threshold %v", last, k)
	}
	// No limit: no threshold; an impossible limit: threshold 0 and a note.
	if v := BuildModel(m, nil, srv, 10, 0); v.Threshold != 0 || v.Model.ThresholdSize != 0 {
		t.Errorf("no limit: threshold %v", v.Threshold)
	}
	if v := BuildModel(m, nil, srv, 10, 50<<20); v.Threshold != 0 || len(v.Notes) == 0 {
		t.Errorf("limit below an empty hub: threshold %v, notes %v", v.Threshold, v.Notes)
	}
	// A limit the family never reaches within the search bound: +Inf.
	att, _ := FamilyOf(FamilyAttendees, nil, map[string]string{ParamSecondServerFraction: "0"})
	if v := BuildModel(m, nil, att, 10, 1<<50); !math.IsInf(v.Threshold, 1) {
		t.Errorf("unreachable limit: threshold %v, want +Inf", v.Threshold)
	}
}

// A calibration restart is drawn at the size with its predicted load, so its
// height above the curve there is its residual.
func TestMeasuredPointsSitOnTheirResidual(t *testing.T) {
	cal := loadCalFixture(t)
	m, err := cal.PeakModel()
	if err != nil {
		t.Fatal(err)
	}
	fam, _ := FamilyOf(FamilyAttendees, nil, map[string]string{ParamSecondServerFraction: "0.2"})
	v := BuildModel(m, cal.Samples, fam, 700, 3<<30)
	if len(v.Model.Measured) != len(cal.Samples) {
		t.Fatalf("%d of %d restarts drawn", len(v.Model.Measured), len(cal.Samples))
	}
	for i, p := range v.Model.Measured {
		s := cal.Samples[i]
		atCurve := m.Predict(fam.Shape(p.Size)).Point
		if want := m.Predict(s.Shape).Point; math.Abs(atCurve-want) > 1e-6*want {
			t.Errorf("restart %d drawn at %v: curve %v there, its own prediction %v", i, p.Size, atCurve, want)
		}
		if p.Bytes != s.PeakRSS {
			t.Errorf("restart %d: drawn %v bytes, measured %v", i, p.Bytes, s.PeakRSS)
		}
	}
}

func statusFixture(t *testing.T, mutate func([]samples.Sample) []samples.Sample, truncate bool) *reports.Results {
	t.Helper()
	b := fixtureWith(t, mutate)
	if truncate {
		b = b[:len(b)-20]
	}
	res, err := reports.ReadNDJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// fixtureWith re-encodes the run fixture with its samples changed.
func fixtureWith(t *testing.T, mutate func([]samples.Sample) []samples.Sample) []byte {
	t.Helper()
	res := readRunFixture(t)
	var all []samples.Sample
	for _, s := range res.Series {
		for _, p := range s.Points {
			all = append(all, samples.Sample{Metric: s.Metric, Time: p.Time, Value: p.Value, Tags: s.Tags})
		}
	}
	all = mutate(all)
	sortSamples(all)
	var buf bytes.Buffer
	w := newJSON(&buf)
	for _, s := range all {
		w.AddSample(s)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func withoutMarker(all []samples.Sample) []samples.Sample {
	out := all[:0]
	for _, s := range all {
		if s.Metric != reports.MetricRunStatus {
			out = append(out, s)
		}
	}
	return out
}

// hubDiesAt sets hub_up to 0 from the given offset, with attendees'
// errors after it, and no status marker: what a run whose hub died leaves.
func hubDiesAt(off time.Duration) func([]samples.Sample) []samples.Sample {
	return func(all []samples.Sample) []samples.Sample {
		all = withoutMarker(all)
		at := fixtureStart.Add(off)
		for i := range all {
			if all[i].Metric == MetricHubUp && !all[i].Time.Before(at) {
				all[i].Value = 0
			}
		}
		return append(all, samples.Sample{Metric: "jupyterhub_errors", Time: at.Add(20 * time.Second), Value: 1,
			Tags: map[string]string{"phase": "execute", "status": "0"}})
	}
}

func TestRunStatus(t *testing.T) {
	cases := []struct {
		name     string
		res      *reports.Results
		given    string
		want     string
		cutShort bool
	}{
		{"marker stands", readRunFixture(t), "", reports.StatusCompleted, false},
		{"no marker: cut short", statusFixture(t, withoutMarker, false), "", "", true},
		{"no marker, runner says interrupted", statusFixture(t, withoutMarker, false), reports.StatusInterrupted, reports.StatusInterrupted, true},
		{"truncated last line", statusFixture(t, func(s []samples.Sample) []samples.Sample { return s }, true), "", "", true},
		{"hub died mid-run", statusFixture(t, hubDiesAt(3*time.Minute), false), reports.StatusInterrupted, reports.StatusHubDied, true},
		// A local hub stopped after the run is down at the end, with no
		// traffic after: not a death.
		{"hub stopped after the run", statusFixture(t, func(all []samples.Sample) []samples.Sample {
			return append(all, samples.Sample{Metric: MetricHubUp, Time: fixtureStart.Add(9*time.Minute + 2*time.Second), Value: 0})
		}, false), "", reports.StatusCompleted, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := withStatus(c.res, c.given)
			if got.Status != c.want || got.CutShort() != c.cutShort {
				t.Errorf("status %q cut short %v, want %q %v", got.Status, got.CutShort(), c.want, c.cutShort)
			}
		})
	}
}

// Reports of interrupted runs render and say so.
func TestCutShortRunsRender(t *testing.T) {
	killed := fixtureWith(t, withoutMarker)
	for name, b := range map[string][]byte{
		"killed":   killed[:len(killed)-7], // mid-line, as a killed runner leaves it
		"hub died": fixtureWith(t, hubDiesAt(150*time.Second)),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.ndjson")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			in := fixtureInputs(t)
			in.ResultsPath = path
			r, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "report.html")
			if err := r.WriteFile(out); err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Assessment.CutShort || !strings.Contains(strings.ToLower(string(page)), "cut short") {
				t.Errorf("the report does not say the run was cut short (assessment %+v)", r.Assessment)
			}
			if name == "hub died" && (r.Assessment.Level != reports.Fail || !strings.Contains(string(page), "the hub died")) {
				t.Errorf("a hub that died mid-run: level %v, want FAIL and the page saying so", r.Assessment.Level)
			}
		})
	}
}

func TestThresholdsFromResults(t *testing.T) {
	res := readRunFixture(t)
	d := res.Metrics
	got := evaluateDeclared(d, res)
	byKey := map[string]reports.Threshold{}
	for _, th := range got {
		byKey[th.Metric+" "+th.Expr] = th
	}
	// The fixture: 1 failed check of 79 (98.7 %), 1 error, spawns ≤ 12 s.
	for key, want := range map[string]bool{"checks rate>0.95": true, "jupyterhub_errors count<2": true, "jupyterhub_spawn_duration p(95)<30000": true} {
		if th, ok := byKey[key]; !ok || th.OK != want {
			t.Errorf("%s: %+v, want OK=%v", key, th, want)
		}
	}
	if o := byKey["checks rate>0.95"].Observed; o != "98.7%" {
		t.Errorf("checks observed %q, want 98.7%%", o)
	}
	// The same thresholds made stricter fail.
	d["jupyterhub_errors"] = reports.Metric{Type: "counter", Thresholds: []string{"count<1"}}
	d["jupyterhub_spawn_duration"] = reports.Metric{Type: "trend", Contains: "time", Thresholds: []string{"p(95)<1000", "p(95)<"}}
	for _, th := range evaluateDeclared(d, res) {
		if th.Metric != "checks" && th.OK {
			t.Errorf("%s %s held; want it to fail", th.Metric, th.Expr)
		}
	}
}

func TestParseSummary(t *testing.T) {
	res := readRunFixture(t)
	for _, c := range []struct {
		file string
		want map[string]bool
		obs  map[string]string
	}{
		// Legacy export: true means FAILED.
		{"testdata/summary-export.json",
			map[string]bool{"checks rate>0.95": true, "jupyterhub_spawn_duration p(95)<30000": true, "jupyterhub_spawn_duration{phase:spawn} p(95)<5000": false},
			map[string]string{"checks rate>0.95": "98.7%", "jupyterhub_spawn_duration p(95)<30000": "9.40 s"}},
		// handleSummary's data: {"ok": …}.
		{"testdata/summary-data.json",
			map[string]bool{"checks rate>0.95": true, "jupyterhub_errors count<2": false},
			map[string]string{"jupyterhub_errors count<2": "3"}},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		ths, err := ParseSummary(b, res)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if len(ths) != len(c.want) {
			t.Errorf("%s: %d thresholds, want %d: %+v", c.file, len(ths), len(c.want), ths)
		}
		for _, th := range ths {
			key := th.Metric + " " + th.Expr
			if want, ok := c.want[key]; !ok || th.OK != want {
				t.Errorf("%s: %s OK=%v, want %v (known: %v)", c.file, key, th.OK, want, ok)
			}
			if o, ok := c.obs[key]; ok && th.Observed != o {
				t.Errorf("%s: %s observed %q, want %q", c.file, key, th.Observed, o)
			}
		}
	}
	for _, bad := range []string{`[]`, `{}`, `{"metrics":{"x":{"thresholds":[1]}}}`, `{"metrics":{"x":{"thresholds":{"a<1":{}}}}}`} {
		if _, err := ParseSummary([]byte(bad), nil); !errors.Is(err, ErrSummary) {
			t.Errorf("%s: err = %v, want ErrSummary", bad, err)
		}
	}
}

func TestThresholdsFromSnapshot(t *testing.T) {
	snap := &metrics.Snapshot{Metrics: []metrics.MetricSummary{
		{Name: "jupyterhub_spawn_duration", Metric: samples.Metric{Kind: samples.Trend, Contains: samples.Time},
			Values: map[string]float64{"p(95)": 31500}, Thresholds: []metrics.ThresholdResult{{Key: "jupyterhub_spawn_duration", Source: "p(95)<30000"}}},
		{Name: "vus", Metric: samples.Metric{Kind: samples.Gauge}, Values: map[string]float64{"value": 3}},
	}}
	got := ThresholdsFromSnapshot(snap)
	want := []reports.Threshold{{Metric: "jupyterhub_spawn_duration", Expr: "p(95)<30000", OK: false, Observed: "31.5 s"}}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := ThresholdsFromSnapshot(nil); got == nil || len(got) != 0 {
		t.Errorf("nil snapshot: %#v, want an empty non-nil list", got)
	}
}

func TestValidate(t *testing.T) {
	in := Inputs{Planned: -1, LimitBytes: math.NaN(), Headroom: 1.5, Family: "x", Status: "done"}
	errs := in.Validate()
	if len(errs) != 6 {
		t.Errorf("%d problems reported, want 6 (results, planned, limit, headroom, family, status): %v", len(errs), errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrBadInputs) {
			t.Errorf("%v does not wrap ErrBadInputs", err)
		}
	}
	if _, err := Build(Inputs{ResultsPath: filepath.Join(t.TempDir(), "missing.ndjson")}); !errors.Is(err, ErrResults) {
		t.Errorf("missing results: err = %v, want ErrResults", err)
	}
}

// Defaults come from what the scenario recorded: planned size, release,
// and the memory limit of its HUB_MEMORY_LIMIT.
func TestDefaultsFromScenario(t *testing.T) {
	b := fixtureWith(t, func(all []samples.Sample) []samples.Sample {
		for i := range all {
			if all[i].Metric == MetricScenarioInfo {
				tags := map[string]string{ParamMemoryLimit: "2Gi"}
				for k, v := range all[i].Tags {
					tags[k] = v
				}
				all[i].Tags = tags
			}
		}
		return all
	})
	path := filepath.Join(t.TempDir(), "r.ndjson")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Build(Inputs{ResultsPath: path, EChartsJS: placeholderJS})
	if err != nil {
		t.Fatal(err)
	}
	v := r.Input.Verdict
	if v.PlannedSize != 40 || v.MemoryLimitBytes != 2<<30 || r.Input.Env.Release != "5.3.0" {
		t.Errorf("planned %v, limit %v, release %q; want the scenario's 40, 2 GiB, 5.3.0", v.PlannedSize, v.MemoryLimitBytes, r.Input.Env.Release)
	}
	if r.Input.Model != nil {
		t.Error("a model without a calibration")
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "hubcap calibrate --hub local:5.3.0") {
		t.Errorf("notes %q do not say how to calibrate", r.Notes)
	}
}
