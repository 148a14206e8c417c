package executor

import (
	"testing"
	"time"
)

func TestRampingVUsTarget(t *testing.T) {
	s := time.Second
	up := []Stage{{10 * s, 10}}
	cases := []struct {
		name   string
		start  int64
		stages []Stage
		at     time.Duration
		want   int64
	}{
		{"start of a ramp is the start count", 0, up, 0, 0},
		{"VU 1 of 0→10 over 10s is due at 1s, not before", 0, up, s - 1, 0},
		{"VU 1 starts at 1s", 0, up, s, 1},
		{"mid-ramp rounds down", 0, up, 5500 * time.Millisecond, 5},
		{"end of the stage reaches the target", 0, up, 10 * s, 10},
		{"after the last stage the target holds", 0, up, time.Hour, 10},
		{"ramp down loses VU 10 at 1s", 10, []Stage{{10 * s, 0}}, s, 9},
		{"ramp down keeps all VUs until then", 10, []Stage{{10 * s, 0}}, s - 1, 10},
		{"startVUs count before any ramp", 3, []Stage{{10 * s, 3}}, 5 * s, 3},
		{"a zero-length stage jumps", 0, []Stage{{0, 7}, {10 * s, 7}}, 0, 7},
		{"second stage ramps from the first's target", 0, []Stage{{10 * s, 10}, {10 * s, 20}}, 15 * s, 15},
		{"huge counts do not overflow", 0, []Stage{{24 * time.Hour, 1_000_000}}, 12 * time.Hour, 500_000},
	}
	for _, c := range cases {
		if got := RampingVUsTarget(c.start, c.stages, c.at); got != c.want {
			t.Errorf("%s: RampingVUsTarget(%v) = %d, want %d", c.name, c.at, got, c.want)
		}
	}
}

// Every step is the first instant the target takes its value, and the
// steps are all the changes.
func TestRampingVUsStepsAgreeWithTarget(t *testing.T) {
	s := time.Second
	configs := []struct {
		start  int64
		stages []Stage
	}{
		{0, []Stage{{10 * s, 10}, {5 * s, 10}, {10 * s, 0}}},
		{5, []Stage{{3 * s, 1}, {0, 8}, {7 * s, 2}}},
		{1, []Stage{{time.Second, 1000}}},
		{0, []Stage{{10 * s, 3}, {10 * s, 1}}},
	}
	for _, c := range configs {
		steps := RampingVUsSteps(c.start, c.stages)
		if steps[0].At != 0 || steps[0].VUs != RampingVUsTarget(c.start, c.stages, 0) {
			t.Errorf("%v: first step %+v", c, steps[0])
		}
		for i, st := range steps {
			if got := RampingVUsTarget(c.start, c.stages, st.At); got != st.VUs {
				t.Errorf("%v: step %d %+v but target there is %d", c, i, st, got)
			}
			if i > 0 {
				if got := RampingVUsTarget(c.start, c.stages, st.At-1); got != steps[i-1].VUs {
					t.Errorf("%v: step %d %+v is not the first instant (target just before is %d, previous step %d)", c, i, st, got, steps[i-1].VUs)
				}
			}
		}
		// Sampled: target between steps never changes.
		total := stagesDuration(c.stages)
		for at := time.Duration(0); at <= total; at += 37 * time.Millisecond {
			want := steps[0].VUs
			for _, st := range steps {
				if st.At <= at {
					want = st.VUs
				}
			}
			if got := RampingVUsTarget(c.start, c.stages, at); got != want {
				t.Fatalf("%v at %v: target %d, steps say %d", c, at, got, want)
			}
		}
	}
}

func TestLocalStepsSplitVUs(t *testing.T) {
	// Halves: test-wide 0→4 VUs gives each half 2, at alternating steps.
	steps := RampingVUsSteps(0, []Stage{{4 * time.Second, 4}})
	a := localSteps(steps, mustTuple(t, "0:1/2", "0,1/2,1"))
	b := localSteps(steps, mustTuple(t, "1/2:1", "0,1/2,1"))
	want := func(got []VUStep, ats []time.Duration) {
		t.Helper()
		if len(got) != len(ats) {
			t.Fatalf("got %+v", got)
		}
		for i := range ats {
			if got[i].At != ats[i] || got[i].VUs != int64(i) {
				t.Errorf("got %+v", got)
			}
		}
	}
	want(a, []time.Duration{0, 1 * time.Second, 3 * time.Second}) // VUs 1 and 3 of the test
	want(b, []time.Duration{0, 2 * time.Second, 4 * time.Second}) // VUs 2 and 4
}

func TestConstantArrivalOffset(t *testing.T) {
	cases := []struct {
		i, rate int64
		unit    time.Duration
		want    time.Duration
	}{
		{0, 10, time.Second, 0},                             // the first arrival is at the start
		{1, 10, time.Second, 100 * time.Millisecond},        // 10/s is one every 100ms
		{3, 3, time.Second, time.Second},                    // exact after a whole unit
		{1, 3, time.Second, 333333333},                      // rounded down to the ns
		{7, 1, time.Minute, 7 * time.Minute},                // per-minute rates
		{1_000_000_000, 3, time.Second, 333333333333333333}, // no overflow on long runs
	}
	for _, c := range cases {
		if got := ConstantArrivalOffset(c.i, c.rate, c.unit); got != c.want {
			t.Errorf("offset(%d, %d/%v) = %v, want %v", c.i, c.rate, c.unit, got, c.want)
		}
	}
}

func TestArrivalPlan(t *testing.T) {
	ms := time.Millisecond
	// Reference: k6's TestRampingArrivalRateCal (lib/executor): 0→1/s over
	// 5s, 1/s for 1s, 1→0/s over 5s gives arrivals at 3.162s, 4.472s, 5.5s,
	// 6.527s, 7.837s and 11s (k6 lists them truncated to the ms).
	plan := NewArrivalPlan(0, time.Second, []Stage{{5 * time.Second, 1}, {time.Second, 1}, {5 * time.Second, 0}})
	want := []time.Duration{3162 * ms, 4472 * ms, 5500 * ms, 6527 * ms, 7837 * ms, 11000 * ms}
	for i, w := range want {
		got, ok := plan.At(int64(i + 1))
		if !ok || got.Truncate(ms) != w {
			t.Errorf("arrival %d at %v (%v), want %v", i+1, got, ok, w)
		}
	}
	if _, ok := plan.At(7); ok {
		t.Error("a 7th arrival beyond the plan")
	}
	if plan.Total() != 6 {
		t.Errorf("total %d, want 6", plan.Total())
	}
	// k6's same test with segment 0:1/3 (no sequence) keeps arrivals 2 and
	// 5: 4.472s and 7.837s.
	tu := mustTuple(t, "0:1/3", "")
	for k, w := range []time.Duration{4472 * ms, 7837 * ms} {
		got, ok := plan.At(tu.Global(int64(k)) + 1)
		if !ok || got.Truncate(ms) != w {
			t.Errorf("segment arrival %d at %v, want %v", k, got, w)
		}
	}

	// 0→10/s over 10s: the k-th arrival is at √(2k) s; 50 in all.
	ramp := NewArrivalPlan(0, time.Second, []Stage{{10 * time.Second, 10}})
	for k, w := range map[int64]time.Duration{2: 2 * time.Second, 8: 4 * time.Second, 50: 10 * time.Second} {
		if got, _ := ramp.At(k); (got - w).Abs() > time.Microsecond {
			t.Errorf("ramp arrival %d at %v, want %v", k, got, w)
		}
	}
	// A constant rate in stages is k/rate: 2/s for 3s, arrival 1 at 0.5s.
	flat := NewArrivalPlan(2, time.Second, []Stage{{3 * time.Second, 2}})
	if got, _ := flat.At(1); got != 500*ms {
		t.Errorf("flat arrival 1 at %v", got)
	}
	if got, ok := flat.At(6); !ok || got != 3*time.Second {
		t.Errorf("flat arrival 6 at %v %v", got, ok)
	}
	// Arrival times never go backwards.
	var prev time.Duration
	for i := int64(1); i <= ramp.Total(); i++ {
		at, _ := ramp.At(i)
		if at < prev {
			t.Fatalf("arrival %d at %v before %v", i, at, prev)
		}
		prev = at
	}
}
