package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

const tol = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestTrendPercentiles(t *testing.T) {
	cases := []struct {
		name   string
		values []float64
		q      float64
		want   float64 // reference: numpy.percentile(values, 100*q) (method="linear")
	}{
		{"empty sink gives 0", nil, 0.95, 0},
		{"one value is every percentile", []float64{7}, 0.95, 7},
		{"p95 of 1..10 interpolates", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0.95, 9.55},
		{"p90 of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.90, 9.1},
		{"median of an even count is the midpoint", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5, 5.5},
		{"p40 of the numpy docs' example", []float64{15, 20, 35, 40, 50}, 0.4, 29},
		{"p100 is the max", []float64{3, 1, 2}, 1, 3},
		{"p0 is the min", []float64{3, 1, 2}, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s TrendSink
			for _, v := range c.values {
				s.Add(v)
			}
			if got := s.P(c.q); !near(got, c.want) {
				t.Errorf("P(%v) = %v, want %v", c.q, got, c.want)
			}
		})
	}
}

func TestTrendValuesAfterMoreSamples(t *testing.T) {
	// Adding after a percentile was computed must re-sort.
	var s TrendSink
	for _, v := range []float64{5, 1, 3} {
		s.Add(v)
	}
	if got := s.P(0.5); got != 3 {
		t.Fatalf("med = %v, want 3", got)
	}
	s.Add(0)
	s.Add(0)
	v := s.Values(0, []string{"p(90)"})
	if v["med"] != 1 || v["min"] != 0 || v["max"] != 5 || v["count"] != 5 || !near(v["avg"], 9.0/5) {
		t.Errorf("values = %v", v)
	}
	// numpy.percentile([0,0,1,3,5], 90) = 4.2
	if !near(v["p(90)"], 4.2) {
		t.Errorf("p(90) = %v, want 4.2", v["p(90)"])
	}
}

func TestCounterGaugeRate(t *testing.T) {
	c := NewSink(samples.Counter)
	c.Add(3)
	c.Add(7)
	if v := c.Values(5*time.Second, nil); v["count"] != 10 || v["rate"] != 2 {
		t.Errorf("counter values = %v, want count 10 rate 2/s", v)
	}
	g := NewSink(samples.Gauge)
	for _, x := range []float64{4, -1, 9, 2} {
		g.Add(x)
	}
	if v := g.Values(0, nil); v["value"] != 2 || v["min"] != -1 || v["max"] != 9 {
		t.Errorf("gauge values = %v, want last 2, min -1, max 9", v)
	}
	r := NewSink(samples.Rate)
	if !r.Empty() {
		t.Error("new rate sink not empty")
	}
	for _, x := range []float64{1, 0, 1, 1} {
		r.Add(x)
	}
	if v := r.Values(0, nil); v["rate"] != 0.75 || v["passes"] != 3 || v["fails"] != 1 {
		t.Errorf("rate values = %v", v)
	}
}

func TestValidateTrendStats(t *testing.T) {
	if errs := ValidateTrendStats([]string{"avg", "p(99.9)", "count"}); len(errs) != 0 {
		t.Errorf("valid stats refused: %v", errs)
	}
	if errs := ValidateTrendStats([]string{"mean", "p(101)", "p(x)"}); len(errs) != 3 {
		t.Errorf("want 3 errors, got %v", errs)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if _, ok := r.Get(IterationDuration); !ok {
		t.Fatal("builtin iteration_duration missing")
	}
	m := samples.Metric{Name: "login_time", Kind: samples.Trend, Contains: samples.Time}
	if err := r.Register(m); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(m); err != nil {
		t.Errorf("re-registering the same metric (each VU's init) must be fine: %v", err)
	}
	if err := r.Register(samples.Metric{Name: "login_time", Kind: samples.Counter}); err == nil {
		t.Error("re-registering with another kind must fail")
	}
	for _, bad := range []string{"", "1abc", "has space", "dash-name", string(make([]byte, 129))} {
		if err := r.Register(samples.Metric{Name: bad}); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}
