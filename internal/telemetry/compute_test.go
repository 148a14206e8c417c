package telemetry

import (
	"math"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

const tol = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

var t0 = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

func TestCPUCores(t *testing.T) {
	cases := []struct {
		name       string
		cpu0, cpu1 float64
		dt         time.Duration
		want       float64
		ok         bool
	}{
		// 2.5 CPU seconds in 5 wall seconds: half a core.
		{"half a core", 100, 102.5, 5 * time.Second, 0.5, true},
		// a multi-threaded process can use more than one core.
		{"two cores", 100, 110, 5 * time.Second, 2, true},
		// an idle process.
		{"idle", 42, 42, 5 * time.Second, 0, true},
		// the counter went down: the process restarted, no utilisation.
		{"restart", 100, 3, 5 * time.Second, 0, false},
		// readings at the same instant say nothing.
		{"no elapsed time", 1, 2, 0, 0, false},
		// out-of-order readings are refused, not negative.
		{"negative elapsed time", 1, 2, -time.Second, 0, false},
		// a hub without process metrics exports NaN.
		{"not exported", math.NaN(), 2, time.Second, 0, false},
		{"infinite", 1, math.Inf(1), time.Second, 0, false},
	}
	for _, c := range cases {
		got, ok := CPUCores(c.cpu0, t0, c.cpu1, t0.Add(c.dt))
		if ok != c.ok || ok && !near(got, c.want) {
			t.Errorf("%s: CPUCores = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// hist builds a cumulative histogram from (bound, cumulative count) pairs;
// the count is the +Inf bucket's.
func hist(sum float64, pairs ...float64) hubapi.Histogram {
	h := hubapi.Histogram{Sum: sum}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Buckets = append(h.Buckets, hubapi.Bucket{UpperBound: pairs[i], Count: pairs[i+1]})
	}
	if n := len(h.Buckets); n > 0 {
		h.Count = h.Buckets[n-1].Count
	}
	return h
}

var inf = math.Inf(1)

func TestDeltaQuantile(t *testing.T) {
	prev := hist(10, 0.1, 10, 0.5, 20, 1, 25, inf, 25)
	cases := []struct {
		name      string
		q         float64
		prev, cur hubapi.Histogram
		want      float64
		ok        bool
	}{
		// Δ buckets {0.1:0, 0.5:10, 1:20, +Inf:21}; rank 0.95·21 = 19.95 falls
		// in (0.5, 1] holding ranks 10..20: 0.5 + 0.5·(19.95−10)/10 = 0.9975.
		// (The cumulative histogram's own p95 would be 0.9567: the interval's
		// slow requests would be diluted by the hub's whole history.)
		{"interval only", 0.95, prev, hist(30, 0.1, 10, 0.5, 30, 1, 45, inf, 46), 0.9975, true},
		// Δ {0.1:4, 0.5:4, 1:4, +Inf:4}: rank 2 in the first bucket,
		// interpolated from 0: 0.1·2/4 = 0.05.
		{"first bucket from zero", 0.5, prev, hist(11, 0.1, 14, 0.5, 24, 1, 29, inf, 29), 0.05, true},
		// Δ {1: 1, +Inf: 10}: rank 9.5 lies in +Inf, which gives the highest
		// finite bound, 1 (as histogram_quantile).
		{"rank in +Inf", 0.95, prev, hist(90, 0.1, 10, 0.5, 20, 1, 26, inf, 35), 1, true},
		// nothing observed in between: no value rather than 0.
		{"no observation", 0.95, prev, prev, 0, false},
		// the count went down: the hub restarted, and cur itself is what the
		// new process saw: {0.1:1, 0.5:3, 1:4, +Inf:4}, rank 3.8 in (0.5,1]
		// holding 3..4: 0.5 + 0.5·0.8 = 0.9.
		{"restart", 0.95, prev, hist(2, 0.1, 1, 0.5, 3, 1, 4, inf, 4), 0.9, true},
		// other bounds: the increments cannot be placed, no quantile.
		{"bounds changed", 0.95, prev, hist(30, 0.2, 10, 0.5, 30, 1, 45, inf, 46), 0, false},
		// a histogram not exported at all.
		{"empty", 0.95, hubapi.Histogram{}, hubapi.Histogram{}, 0, false},
	}
	for _, c := range cases {
		got, ok := DeltaQuantile(c.q, c.prev, c.cur)
		if ok != c.ok || ok && !near(got, c.want) {
			t.Errorf("%s: DeltaQuantile = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestDeltaHistogram(t *testing.T) {
	prev := hist(10, 0.1, 10, 0.5, 20, inf, 25)
	// a normal interval: differences of counts, sum and every bucket.
	d, reset := DeltaHistogram(prev, hist(13, 0.1, 12, 0.5, 25, inf, 31))
	want := hist(3, 0.1, 2, 0.5, 5, inf, 6)
	if reset || !near(d.Count, want.Count) || !near(d.Sum, want.Sum) || len(d.Buckets) != 3 {
		t.Fatalf("DeltaHistogram = %+v, reset %v; want %+v", d, reset, want)
	}
	for i, b := range want.Buckets {
		if d.Buckets[i] != b {
			t.Errorf("bucket %d = %+v, want %+v", i, d.Buckets[i], b)
		}
	}
	// a bucket went down while the count did not (a restart that saw more
	// requests than before in one bucket and fewer in another): reset.
	cur := hist(40, 0.1, 9, 0.5, 30, inf, 40)
	if d, reset := DeltaHistogram(prev, cur); !reset || d.Count != cur.Count {
		t.Errorf("bucket decrease: reset %v, count %v; want reset with cur's count %v", reset, d.Count, cur.Count)
	}
	// bounds differ: the count difference is kept, buckets are not.
	if d, reset := DeltaHistogram(prev, hist(20, 0.2, 12, 0.5, 25, inf, 30)); reset || d.Count != 5 || d.Buckets != nil {
		t.Errorf("bounds changed: %+v reset %v; want count 5 and no buckets", d, reset)
	}
	// mean of the interval: 3 s over 6 observations.
	if m, ok := DeltaMean(prev, hist(13, 0.1, 12, 0.5, 25, inf, 31)); !ok || !near(m, 0.5) {
		t.Errorf("DeltaMean = %v, %v; want 0.5", m, ok)
	}
	if _, ok := DeltaMean(prev, prev); ok {
		t.Error("DeltaMean without observations should not be ok")
	}
}

func TestTopUser(t *testing.T) {
	cases := []struct {
		name  string
		shape shape.Shape
		user  string
		share float64
		ok    bool
	}{
		// alice: 2 running of 4 rows → 8 joined rows; bob 1×2 = 2; J = 10.
		{"dominant user", shape.Shape{J: 10, Users: []shape.User{
			{Name: "alice", S: 4, R: 2, J: 8}, {Name: "bob", S: 2, R: 1, J: 2}}}, "alice", 0.8, true},
		// a user with many stopped rows but nothing running weighs nothing.
		{"stopped rows do not join", shape.Shape{J: 3, Users: []shape.User{
			{Name: "hoarder", S: 1000, R: 0}, {Name: "carol", S: 3, R: 1, J: 3}}}, "carol", 1, true},
		// ties go to the first name.
		{"tie", shape.Shape{J: 4, Users: []shape.User{
			{Name: "a", S: 2, R: 1, J: 2}, {Name: "b", S: 2, R: 1, J: 2}}}, "a", 0.5, true},
		// nothing running: J = 0, no share.
		{"no running servers", shape.Shape{U: 2, S: 2, Users: []shape.User{
			{Name: "a", S: 1}, {Name: "b", S: 1}}}, "", 0, false},
	}
	for _, c := range cases {
		u, share, ok := TopUser(c.shape)
		if u != c.user || ok != c.ok || !near(share, c.share) {
			t.Errorf("%s: TopUser = %q, %v, %v; want %q, %v, %v", c.name, u, share, ok, c.user, c.share, c.ok)
		}
	}
}
