package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

func TestParseExpression(t *testing.T) {
	cases := []struct {
		src     string
		agg     string
		p       float64
		op      string
		value   float64
		wantErr bool
	}{
		{src: "p(95)<500", agg: "p", p: 95, op: "<", value: 500},            // the common latency SLO
		{src: " p(99.9) <= 1e3 ", agg: "p", p: 99.9, op: "<=", value: 1000}, // spaces, fractional percentile, exponent
		{src: "rate<0.01", agg: "rate", op: "<", value: 0.01},               // error rate
		{src: "count>=10", agg: "count", op: ">=", value: 10},               // >= must not parse as >
		{src: "value===3", agg: "value", op: "===", value: 3},               // === must not parse as ==
		{src: "med==2", agg: "med", op: "==", value: 2},                     // loose equality
		{src: "avg!=0", agg: "avg", op: "!=", value: 0},                     // inequality
		{src: "max>-5", agg: "max", op: ">", value: -5},                     // negative values
		{src: "p(95)", wantErr: true},                                       // no operator
		{src: "p(95)<", wantErr: true},                                      // no value
		{src: "mean<3", wantErr: true},                                      // unknown aggregation
		{src: "p(101)<3", wantErr: true},                                    // percentile out of range
		{src: "p(-1)<3", wantErr: true},                                     // negative percentile
		{src: "avg<abc", wantErr: true},                                     // value not a number
		{src: "avg<NaN", wantErr: true},                                     // NaN never compares
		{src: "", wantErr: true},                                            // empty
		{src: "<5", wantErr: true},                                          // no aggregation
	}
	for _, c := range cases {
		e, err := ParseExpression(c.src)
		if c.wantErr {
			if err == nil || !errors.Is(err, ErrThresholdSyntax) {
				t.Errorf("%q: want ErrThresholdSyntax, got %v (%+v)", c.src, err, e)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if e.Agg != c.agg || e.P != c.p || e.Op != c.op || e.Value != c.value {
			t.Errorf("%q parsed as %+v", c.src, e)
		}
	}
}

func TestExpressionEval(t *testing.T) {
	values := map[string]float64{"p(95)": 480, "avg": 100, "rate": 0.02, "count": 10}
	cases := []struct {
		src  string
		want bool
	}{
		{"p(95)<500", true},  // below the limit passes
		{"p(95)<480", false}, // strict: equal fails
		{"p(95)<=480", true}, // non-strict: equal passes
		{"rate<0.01", false}, // error rate too high
		{"count>9", true},
		{"count==10", true},
		{"count!=10", false},
		{"avg>=100", true},
		{"p(99)<1", true}, // aggregation not computed: passes, as in k6
	}
	for _, c := range cases {
		e, err := ParseExpression(c.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Eval(values); got != c.want {
			t.Errorf("%s on %v = %v, want %v", c.src, values, got, c.want)
		}
	}
}

func TestParseMetricKey(t *testing.T) {
	cases := []struct {
		in      string
		name    string
		tags    map[string]string
		wantErr bool
	}{
		{in: "http_req_duration", name: "http_req_duration"},
		{in: "checks{check:status is 200}", name: "checks", tags: map[string]string{"check": "status is 200"}},
		{in: "group_duration{group:::login::spawn}", name: "group_duration", tags: map[string]string{"group": "::login::spawn"}},
		{in: "t{scenario:'a', kind : \"b\"}", name: "t", tags: map[string]string{"scenario": "a", "kind": "b"}},
		{in: "t{", wantErr: true},
		{in: "t}", wantErr: true},
		{in: "t{a:b}x", wantErr: true},
		{in: "t{}", wantErr: true},
		{in: "{a:b}", wantErr: true},
		{in: "t{novalue}", wantErr: true},
	}
	for _, c := range cases {
		k, err := ParseMetricKey(c.in)
		if c.wantErr {
			if err == nil {
				t.Errorf("%q: want error, got %+v", c.in, k)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if k.Name != c.name || len(k.Tags) != len(c.tags) {
			t.Errorf("%q parsed as %+v", c.in, k)
		}
		for tk, tv := range c.tags {
			if k.Tags[tk] != tv {
				t.Errorf("%q: tag %s = %q, want %q", c.in, tk, k.Tags[tk], tv)
			}
		}
	}
}

func TestEvaluateAbortPolicy(t *testing.T) {
	set, errs := NewThresholdSet("errors", []ThresholdConfig{
		{Threshold: "rate<0.1", AbortOnFail: true, DelayAbortEval: 30 * time.Second},
		{Threshold: "rate<0.5"},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	failing := map[string]float64{"rate": 0.2}
	// Before delayAbortEval a failing abortOnFail threshold does not abort.
	r := Evaluate(set, failing, 10*time.Second)
	if r[0].OK || r[0].Abort || !r[1].OK {
		t.Errorf("at 10s: %+v", r)
	}
	// After it, it does.
	r = Evaluate(set, failing, 30*time.Second)
	if !r[0].Abort {
		t.Errorf("at 30s: %+v", r)
	}
	// A passing threshold never aborts.
	r = Evaluate(set, map[string]float64{"rate": 0}, time.Hour)
	if !r[0].OK || r[0].Abort {
		t.Errorf("passing: %+v", r)
	}
}

func TestNewThresholdSetReportsEveryProblem(t *testing.T) {
	_, errs := NewThresholdSet("x{", []ThresholdConfig{{Threshold: "p(95)"}, {Threshold: "avg<1", DelayAbortEval: -1}, {Threshold: "bogus<1"}})
	if len(errs) != 4 {
		t.Fatalf("want 4 errors (key, 2 syntax, negative delay), got %d: %v", len(errs), errs)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), `"x{"`) {
			t.Errorf("error does not name the key: %v", err)
		}
	}
}

func TestEngineThresholdValidation(t *testing.T) {
	reg := NewRegistry()
	mk := func(key string, srcs ...string) *ThresholdSet {
		var cfgs []ThresholdConfig
		for _, s := range srcs {
			cfgs = append(cfgs, ThresholdConfig{Threshold: s})
		}
		set, errs := NewThresholdSet(key, cfgs)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return set
	}
	_, errs := NewEngine(reg, []*ThresholdSet{
		mk("nope", "avg<1"),                  // unknown metric
		mk("checks", "p(95)<1"),              // rate has no percentiles
		mk("iterations", "count>1", "avg<3"), // counter has no avg
		mk("iteration_duration", "p(95)<1"),  // fine
	})
	if len(errs) != 3 {
		t.Fatalf("want 3 errors, got %v", errs)
	}
	if !errors.Is(errs[0], ErrUnknownMetric) || !errors.Is(errs[1], ErrAggregation) {
		t.Errorf("wrong sentinels: %v", errs)
	}
}

func TestEngineSubmetricsGroupsChecks(t *testing.T) {
	reg := NewRegistry()
	if err := reg.Register(samples.Metric{Name: "login", Kind: samples.Trend, Contains: samples.Time}); err != nil {
		t.Fatal(err)
	}
	set, _ := NewThresholdSet("login{scenario:b}", []ThresholdConfig{{Threshold: "max<100"}})
	set2, _ := NewThresholdSet("checks", []ThresholdConfig{{Threshold: "rate>0.9"}})
	e, errs := NewEngine(reg, []*ThresholdSet{set, set2})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var unknown []string
	e.OnUnknownMetric = func(n string) { unknown = append(unknown, n) }
	now := time.Now()
	add := func(metric string, v float64, tags map[string]string) {
		e.AddSample(samples.Sample{Metric: metric, Time: now, Value: v, Tags: tags})
	}
	add("login", 50, map[string]string{"scenario": "a", "group": ""})
	add("login", 500, map[string]string{"scenario": "a", "group": ""})
	add("login", 20, map[string]string{"scenario": "b", "group": ""})
	add("checks", 1, map[string]string{"check": "ok", "group": "::outer::inner"})
	add("checks", 0, map[string]string{"check": "ok", "group": "::outer::inner"})
	add("checks", 1, map[string]string{"check": "top", "group": ""})
	add("undeclared", 1, nil)
	add("undeclared", 1, nil)

	snap := e.Snapshot(10*time.Second, nil)
	sub, ok := snap.Metric("login{scenario:b}")
	if !ok || sub.Values["max"] != 20 || sub.Parent != "login" {
		t.Errorf("submetric = %+v", sub)
	}
	if len(sub.Thresholds) != 1 || !sub.Thresholds[0].OK {
		t.Errorf("submetric threshold = %+v", sub.Thresholds)
	}
	whole, _ := snap.Metric("login")
	if whole.Values["max"] != 500 {
		t.Errorf("parent metric = %+v", whole)
	}
	checks, _ := snap.Metric("checks")
	if checks.Thresholds[0].OK || snap.ThresholdsFailed != 1 {
		t.Errorf("checks rate 2/3 must fail rate>0.9: %+v", checks)
	}
	if len(unknown) != 1 || unknown[0] != "undeclared" {
		t.Errorf("unknown metric hook called with %v, want once with undeclared", unknown)
	}
	root := snap.Root
	if len(root.Checks) != 1 || root.Checks[0].Name != "top" || root.Checks[0].Passes != 1 {
		t.Errorf("root checks = %+v", root.Checks)
	}
	if len(root.Groups) != 1 || root.Groups[0].Path != "::outer" || len(root.Groups[0].Groups) != 1 {
		t.Fatalf("group tree = %+v", root.Groups)
	}
	inner := root.Groups[0].Groups[0]
	if inner.Path != "::outer::inner" || inner.Checks[0].Passes != 1 || inner.Checks[0].Fails != 1 ||
		inner.Checks[0].Path != "::outer::inner::ok" || inner.ID != md5hex("::outer::inner") {
		t.Errorf("inner group = %+v %+v", inner, inner.Checks[0])
	}
	// Metrics are ordered with submetrics after their parent.
	var names []string
	for _, m := range snap.Metrics {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "checks,login,login{scenario:b}" {
		t.Errorf("order = %v", names)
	}
}

func TestEngineThresholdsSkipEmptyDuringRun(t *testing.T) {
	reg := NewRegistry()
	set, _ := NewThresholdSet("iterations", []ThresholdConfig{{Threshold: "count>5", AbortOnFail: true}})
	e, _ := NewEngine(reg, []*ThresholdSet{set})
	if rs, abort := e.Thresholds(time.Second, true); len(rs) != 0 || abort {
		t.Errorf("empty sink evaluated during the run: %+v", rs)
	}
	if rs, abort := e.Thresholds(time.Second, false); len(rs) != 1 || rs[0].OK || !abort {
		t.Errorf("at the end an empty counter has count 0: %+v", rs)
	}
}

func FuzzParseExpression(f *testing.F) {
	for _, s := range []string{"p(95)<500", "rate<0.01", "count>=10", "value===3", "p(99.9) <= 1e3", "avg!=", "p(", "med==-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpression(src)
		if err != nil {
			if !errors.Is(err, ErrThresholdSyntax) {
				t.Fatalf("error without ErrThresholdSyntax: %v", err)
			}
			return
		}
		// A parsed expression must have a known aggregation and operator, and
		// its key must be accepted as a trend stat or aggregation name.
		switch e.Agg {
		case "avg", "min", "max", "med", "count", "rate", "value":
		case "p":
			if e.P < 0 || e.P > 100 {
				t.Fatalf("percentile %v out of range from %q", e.P, src)
			}
			if len(ValidateTrendStats([]string{e.Key()})) != 0 {
				t.Fatalf("key %q of %q not a valid trend stat", e.Key(), src)
			}
		default:
			t.Fatalf("aggregation %q from %q", e.Agg, src)
		}
		found := false
		for _, op := range operators {
			found = found || op == e.Op
		}
		if !found {
			t.Fatalf("operator %q from %q", e.Op, src)
		}
		_ = e.Eval(map[string]float64{e.Key(): e.Value})
	})
}

func FuzzParseMetricKey(f *testing.F) {
	for _, s := range []string{"a", "a{b:c}", "a{group:::x::y}", "a{'b':\"c\",d:e}", "{", "a{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseMetricKey(s)
		if err != nil {
			if !errors.Is(err, ErrMetricKey) {
				t.Fatalf("error without ErrMetricKey: %v", err)
			}
			return
		}
		if k.Name == "" || strings.ContainsAny(k.Name, "{}") && k.Tags == nil {
			t.Fatalf("bad name %q from %q", k.Name, s)
		}
		if k.Tags != nil && !k.Matches(k.Tags) {
			t.Fatalf("key %q does not match its own tags", s)
		}
	})
}

// TestEmptyRateThresholdPasses: a rate without samples has no rate, and
// its thresholds pass at the end of the test, as in k6 (its #2520); an
// empty trend is still evaluated.
func TestEmptyRateThresholdPasses(t *testing.T) {
	reg := NewRegistry()
	_ = reg.Register(samples.Metric{Name: "r", Kind: samples.Rate})
	_ = reg.Register(samples.Metric{Name: "tr", Kind: samples.Trend})
	rs, _ := NewThresholdSet("r{type:read}", []ThresholdConfig{{Threshold: "rate>0.9"}})
	ts, _ := NewThresholdSet("tr", []ThresholdConfig{{Threshold: "avg>10"}})
	e, errs := NewEngine(reg, []*ThresholdSet{rs, ts})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, r := range mustResults(e) {
		if want := r.Key == "r{type:read}"; r.OK != want {
			t.Errorf("%s %s: OK=%v, want %v", r.Key, r.Source, r.OK, want)
		}
	}
}

func mustResults(e *Engine) []ThresholdResult {
	res, _ := e.Thresholds(time.Second, false)
	return res
}
