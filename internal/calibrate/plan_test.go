package calibrate

import (
	"math"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/models"
)

func TestStepFromSeed(t *testing.T) {
	for _, c := range []struct {
		name string
		seed models.Seed
		want models.Shape
		plan seed.UserPlan // first user
	}{
		// the baseline: one user, its default row only
		{"baseline", models.Seed{Label: "baseline", Family: models.FamilyBaseline, Users: 1, RowsPerUser: 1}, models.Shape{U: 1, S: 1}, seed.UserPlan{Name: "cal-base"}},
		// one-user k: all rows running in the sweep's terms, but the
		// default row stays stopped, so one fewer server runs: OneUser(k-1)
		{"one-user", models.Seed{Label: "one-user-k10", Family: models.FamilyOneUser, Users: 1, RowsPerUser: 10, RunningPerUser: 10}, models.OneUser(9), seed.UserPlan{Name: "cal-one", Running: 9}},
		// wide: n users × 2 rows, both running → 1 running named server each
		{"wide", models.Seed{Label: "w", Family: models.FamilyWide, Users: 5, RowsPerUser: 2, RunningPerUser: 2}, models.Shape{U: 5, S: 10, R: 5, J: 10}, seed.UserPlan{Name: "cal-wide-0000", Running: 1}},
		// wide-stopped: 4 rows, 2 running: 2 running named, 1 stopped named, the default
		{"wide-stopped", models.Seed{Label: "ws", Family: models.FamilyStopped, Users: 3, RowsPerUser: 4, RunningPerUser: 2}, models.Shape{U: 3, S: 12, R: 6, J: 24}, seed.UserPlan{Name: "cal-wstop-0000", Running: 2, Stopped: 1}},
		// square: n × n, all running → n users with n-1 running named each
		{"square", models.Seed{Label: "sq", Family: models.FamilySquare, Users: 4, RowsPerUser: 4, RunningPerUser: 4}, models.Shape{U: 4, S: 16, R: 12, J: 48}, seed.UserPlan{Name: "cal-sq-0000", Running: 3}},
	} {
		st := stepFromSeed(c.seed)
		if st.Shape != c.want {
			t.Errorf("%s: shape %+v, want %+v", c.name, st.Shape, c.want)
		}
		if len(st.Plan) != c.seed.Users || st.Plan[0] != c.plan {
			t.Errorf("%s: plan %+v, want %d users starting with %+v", c.name, st.Plan, c.seed.Users, c.plan)
		}
		if errs := st.Shape.Validate(); len(errs) > 0 {
			t.Errorf("%s: inconsistent shape: %v", c.name, errs)
		}
	}
}

func TestPlanShapeMatchesSeedOneUser(t *testing.T) {
	// seed.OneUser(name, k) is models.OneUser(k): the two packages agree
	// on what "one user with k servers" loads.
	for _, k := range []int{0, 1, 7, 350} {
		if got, want := planShape(seed.OneUser("x", k)), models.OneUser(k); got != want {
			t.Errorf("k=%d: %+v, want %+v", k, got, want)
		}
	}
}

func TestCoversAndNewRows(t *testing.T) {
	a := seed.Plan{{Name: "u0", Running: 2}, {Name: "u1", Running: 2}}
	b := seed.Plan{{Name: "u0", Running: 3}, {Name: "u1", Running: 1, Stopped: 1}, {Name: "u2", Running: 2}}
	c := seed.Plan{{Name: "u0", Running: 1}}
	if !covers(b, a) {
		t.Error("more users with as many rows each should cover")
	}
	if covers(c, a) {
		t.Error("a plan without u1 cannot be reached by only adding rows")
	}
	if covers(a, b) {
		t.Error("fewer rows for u0 cannot be reached")
	}
	if !covers(a, nil) || !covers(a, a) {
		t.Error("any plan covers the empty database and itself")
	}
	// b over a: u0 +1, u1 +0 (one row changes state), u2 +2
	if n := newRows(b, a); n != 3 {
		t.Errorf("newRows = %d, want 3", n)
	}
}

func TestSweepStepsSkipsMeasured(t *testing.T) {
	opts := models.SweepOptions{MaxJoinedRows: 100_000, MaxRunning: 500}
	all, err := sweepSteps(12, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 10 {
		t.Fatalf("only %d steps for a budget of 12", len(all))
	}
	rest, err := sweepSteps(12, opts, all[:3])
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != len(all)-3 {
		t.Errorf("%d steps left after measuring 3 of %d", len(rest), len(all))
	}
	fam := map[string]bool{}
	for _, st := range all {
		fam[st.Family] = true
		if st.Shape.J > opts.MaxJoinedRows || st.Shape.R > float64(opts.MaxRunning) {
			t.Errorf("%s: %+v over the caps", st.Label, st.Shape)
		}
	}
	if len(fam) != 5 {
		t.Errorf("families %v, want all five", fam)
	}
}

func TestCostModelPessimistic(t *testing.T) {
	var c costModel
	// before any measurement: a guess, growing with the shape
	small, big := models.OneUser(10), models.OneUser(1000)
	if !(c.peak(big) > c.peak(small)) || !(c.cycle(big) > c.cycle(small)) {
		t.Errorf("estimates do not grow with the shape: peak %v→%v, cycle %v→%v", c.peak(small), c.peak(big), c.cycle(small), c.cycle(big))
	}
	// a quadratic release, 7 KiB per joined row (5.3.0 on this machine):
	// the estimate of a shape 10× bigger is at least the extrapolation
	base := 111.0 * (1 << 20)
	peakOf := func(s models.Shape) float64 { return base + 7*1024*s.J + 20*1024*s.R }
	for _, s := range []models.Shape{{U: 1, S: 1}, models.OneUser(100), models.Even(100, 2), models.OneUser(200)} {
		c.observe(s, peakOf(s), 5+30e-6*s.J)
	}
	far := models.OneUser(700)
	if est, truth := c.peak(far), peakOf(far); est < truth {
		t.Errorf("peak estimate %.0f below the extrapolated %.0f", est, truth)
	}
	if est := c.cycle(far); est < 5+30e-6*far.J {
		t.Errorf("cycle estimate %.1fs below the trend", est)
	}
	c.observeSeed(10, 1)
	c.observeSeed(1000, 3)
	if s := c.seedTime(2000); s < 2000*3.0/1000 {
		t.Errorf("seed estimate %.1fs below the measured rate", s)
	}
}

func TestNNLSFitRecovers(t *testing.T) {
	// y = 3 + 2·R exactly: the fit finds it (scaled columns, unscaled result)
	var shapes []models.Shape
	var y []float64
	for _, r := range []float64{0, 10, 100, 1000} {
		shapes = append(shapes, models.Shape{U: 1, R: r, S: r})
		y = append(y, 3+2*r)
	}
	x := nnlsFit(shapes, y, []models.Term{models.TermConst, models.TermR})
	if math.Abs(x[0]-3) > 1e-6 || math.Abs(x[1]-2) > 1e-9 {
		t.Errorf("fit %v, want [3 2]", x)
	}
	if x := nnlsFit(nil, nil, []models.Term{models.TermConst}); x[0] != 0 {
		t.Errorf("empty fit %v, want zeros", x)
	}
}

// The probe's shape, made from a known per-row content, solves back to it.
func TestContentFromProbe(t *testing.T) {
	want := models.RowContent{RunBytes: 900, RunPy: 2400, StoppedBytes: 300, StoppedPy: 800}
	u := want.User("probe", probeRun+probeStop, probeRun)
	u.S++ // the empty default row
	sh, err := models.ShapeOf([]models.UserShape{u})
	if err != nil {
		t.Fatal(err)
	}
	got := contentFromProbe(sh, probeRun, probeStop)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"RunPy", got.RunPy, want.RunPy}, {"StoppedPy", got.StoppedPy, want.StoppedPy},
		{"RunBytes", got.RunBytes, want.RunBytes}, {"StoppedBytes", got.StoppedBytes, want.StoppedBytes}} {
		if math.Abs(c.got-c.want) > 1e-6*c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
