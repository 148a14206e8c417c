package executor

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// iterRec is one iteration a fake VU ran.
type iterRec struct {
	vu            uint64
	scenario      string
	local, global int64
	start, end    time.Duration // since the recorder's origin
	interrupted   bool
}

type recorder struct {
	origin time.Time
	mu     sync.Mutex
	iters  []iterRec
	nextID atomic.Uint64
	// work is what one iteration does; by default it sleeps for dur.
	dur time.Duration
}

func newRecorder(dur time.Duration) *recorder { return &recorder{origin: time.Now(), dur: dur} }

func (r *recorder) newVU(context.Context) (VU, error) {
	return &fakeVU{id: r.nextID.Add(1), rec: r}, nil
}

func (r *recorder) all() []iterRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.iters)
}

func (r *recorder) globals(scenario string) []int64 {
	var out []int64
	for _, it := range r.all() {
		if it.scenario == scenario && !it.interrupted {
			out = append(out, it.global)
		}
	}
	slices.Sort(out)
	return out
}

type fakeVU struct {
	id  uint64
	rec *recorder
}

func (v *fakeVU) ID() uint64 { return v.id }

func (v *fakeVU) Activate(p *ActivationParams) ActiveVU { return &fakeActive{vu: v, p: p} }

type fakeActive struct {
	vu *fakeVU
	p  *ActivationParams
}

func (a *fakeActive) RunOnce() error {
	r := a.vu.rec
	local, global := a.p.NextIteration()
	rec := iterRec{vu: a.vu.id, scenario: a.p.Scenario.Name, local: local, global: global, start: time.Since(r.origin)}
	t := time.NewTimer(r.dur)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
	case <-a.p.Context.Done():
		rec.interrupted = true
		err = a.p.Context.Err()
	}
	rec.end = time.Since(r.origin)
	r.mu.Lock()
	r.iters = append(r.iters, rec)
	r.mu.Unlock()
	return err
}

// runOne runs one scenario config to completion and returns its executor.
func runOne(t *testing.T, c Config, rec *recorder, et *Tuple, stop context.Context) (Executor, *samples.Buffer) {
	t.Helper()
	if et == nil {
		et, _ = NewTuple(nil, nil)
	}
	if stop == nil {
		stop = context.Background()
	}
	buf := &samples.Buffer{}
	env := &Env{Tuple: et, Pool: NewPool(rec.newVU), Sink: buf, Stop: stop}
	e := c.NewExecutor(env)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, buf
}

func seq(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

func dropped(buf *samples.Buffer) float64 {
	var n float64
	for _, s := range buf.Samples() {
		if s.Metric == "dropped_iterations" {
			n += s.Value
		}
	}
	return n
}

func TestSharedIterationsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(time.Second)
		c := NewSharedIterationsConfig("s")
		c.VUs, c.Iterations = 3, 10
		e, buf := runOne(t, &c, rec, nil, nil)
		// 10 one-second iterations on 3 VUs take 4 rounds.
		if el := time.Since(rec.origin); el != 4*time.Second {
			t.Errorf("took %v, want 4s", el)
		}
		if got := rec.globals("s"); !slices.Equal(got, seq(10)) {
			t.Errorf("iterations in test %v", got)
		}
		if p := e.Progress(); p.Iterations != 10 || p.Fraction != 1 || p.Status != Done {
			t.Errorf("progress %+v", p)
		}
		if dropped(buf) != 0 {
			t.Error("dropped iterations without reason")
		}
	})
}

func TestSharedIterationsMaxDuration(t *testing.T) {
	for _, c := range []struct {
		name                 string
		graceful             time.Duration
		completed, interrupt int
	}{
		// The third iteration (3s–4.5s) is cut at maxDuration without a
		// graceful stop...
		{"no graceful stop", 0, 2, 1},
		// ...and finishes within a 1s graceful stop.
		{"graceful stop", time.Second, 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(1500 * time.Millisecond)
				cfg := NewSharedIterationsConfig("s")
				cfg.VUs, cfg.Iterations, cfg.MaxDuration, cfg.GracefulStop = 1, 10, 4*time.Second, c.graceful
				e, buf := runOne(t, &cfg, rec, nil, nil)
				p := e.Progress()
				if int(p.Iterations) != c.completed || int(p.Interrupted) != c.interrupt {
					t.Errorf("completed %d interrupted %d, want %d %d", p.Iterations, p.Interrupted, c.completed, c.interrupt)
				}
				if d := dropped(buf); d != 7 {
					t.Errorf("dropped %v, want 7 (never started)", d)
				}
				if p.Status != Interrupted {
					t.Errorf("status %v", p.Status)
				}
			})
		})
	}
}

func TestPerVUIterationsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(time.Second)
		c := NewPerVUIterationsConfig("p")
		c.VUs, c.Iterations = 2, 3
		runOne(t, &c, rec, nil, nil)
		if el := time.Since(rec.origin); el != 3*time.Second {
			t.Errorf("took %v, want 3s", el)
		}
		perVU := map[uint64][]int64{}
		for _, it := range rec.all() {
			perVU[it.vu] = append(perVU[it.vu], it.global)
		}
		if len(perVU) != 2 {
			t.Fatalf("VUs %v", perVU)
		}
		for vu, g := range perVU {
			if len(g) != 3 || g[1] != g[0]+1 || g[2] != g[0]+2 {
				t.Errorf("VU %d ran %v, want 3 consecutive test-wide numbers", vu, g)
			}
		}
		if got := rec.globals("p"); !slices.Equal(got, seq(6)) {
			t.Errorf("iterations in test %v", got)
		}
	})
}

// Two instances running the halves 0:1/2 and 1/2:1 of a test together run
// every iteration exactly once.
func TestSegmentsRunEveryIterationOnce(t *testing.T) {
	type mk func() Config
	cases := map[string]struct {
		cfg   mk
		total int64
	}{
		"shared-iterations": {func() Config {
			c := NewSharedIterationsConfig("s")
			c.VUs, c.Iterations = 3, 11
			return &c
		}, 11},
		"per-vu-iterations": {func() Config {
			c := NewPerVUIterationsConfig("s")
			c.VUs, c.Iterations = 3, 4
			return &c
		}, 12},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var all []int64
				for _, seg := range []string{"0:1/2", "1/2:1"} {
					rec := newRecorder(100 * time.Millisecond)
					runOne(t, c.cfg(), rec, mustTuple(t, seg, "0,1/2,1"), nil)
					g := rec.globals("s")
					if len(g) == 0 || int64(len(g)) == c.total {
						t.Errorf("segment %s ran %v: the work is not split", seg, g)
					}
					all = append(all, g...)
				}
				slices.Sort(all)
				if !slices.Equal(all, seq(c.total)) {
					t.Errorf("together: %v, want each of 0..%d once", all, c.total-1)
				}
			})
		})
	}
}

func TestConstantVUsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(time.Second)
		c := NewConstantVUsConfig("c")
		c.VUs, c.Duration = 3, 10*time.Second
		e, _ := runOne(t, &c, rec, nil, nil)
		p := e.Progress()
		// Iterations start at 0..9s; none starts at the 10s deadline.
		if p.Iterations != 30 || p.Interrupted != 0 {
			t.Errorf("progress %+v", p)
		}
		if got := rec.globals("c"); !slices.Equal(got, seq(30)) {
			t.Errorf("iterations in test %v", got)
		}
	})
}

func TestRampingVUsFollowsStages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(100 * time.Millisecond)
		c := NewRampingVUsConfig("r")
		c.StartVUs, c.Stages, c.GracefulRampDown = 0, []Stage{{4 * time.Second, 4}, {4 * time.Second, 0}}, 0
		env := &Env{Tuple: mustTuple(t, "0:1", ""), Pool: NewPool(rec.newVU)}
		e := c.NewExecutor(env)
		done := make(chan struct{})
		go func() { _ = e.Run(context.Background()); close(done) }()
		var seen []int64
		for _, at := range []time.Duration{500 * time.Millisecond, 1550 * time.Millisecond, 2550 * time.Millisecond, 4050 * time.Millisecond, 6550 * time.Millisecond, 7950 * time.Millisecond} {
			time.Sleep(at - time.Since(rec.origin))
			synctest.Wait()
			seen = append(seen, e.Progress().VUs)
		}
		<-done
		// 0→4 over 4s then 4→0 over 4s, sampled between steps.
		if want := []int64{0, 1, 2, 4, 2, 1}; !slices.Equal(seen, want) {
			t.Errorf("active VUs %v, want %v", seen, want)
		}
	})
}

func TestRampingVUsGracefulRampDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Two VUs with 10s iterations ramp down to 0 over 2s: VU 2 stops
		// starting at 1s and VU 1 at 2s; gracefulRampDown 3s interrupts them
		// at 4s and 5s.
		rec := newRecorder(10 * time.Second)
		c := NewRampingVUsConfig("r")
		c.StartVUs, c.Stages, c.GracefulRampDown, c.GracefulStop = 2, []Stage{{2 * time.Second, 0}, {10 * time.Second, 0}}, 3*time.Second, 0
		e, _ := runOne(t, &c, rec, nil, nil)
		its := rec.all()
		if len(its) != 2 {
			t.Fatalf("iterations %+v", its)
		}
		ends := []time.Duration{its[0].end, its[1].end}
		slices.Sort(ends)
		if !its[0].interrupted || !its[1].interrupted || ends[0] != 4*time.Second || ends[1] != 5*time.Second {
			t.Errorf("iterations %+v", its)
		}
		if p := e.Progress(); p.Interrupted != 2 {
			t.Errorf("progress %+v", p)
		}
	})
}

func TestRampingVUsRestartWhileRampingDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 1 VU dips to 0 for a moment while its 3s iteration runs: the same
		// VU keeps going and is never interrupted.
		rec := newRecorder(3 * time.Second)
		c := NewRampingVUsConfig("r")
		c.StartVUs = 1
		c.Stages = []Stage{{0, 0}, {time.Second, 0}, {0, 1}, {5 * time.Second, 1}}
		c.GracefulRampDown = 10 * time.Second
		e, _ := runOne(t, &c, rec, nil, nil)
		for _, it := range rec.all() {
			if it.interrupted {
				t.Errorf("interrupted %+v", it)
			}
		}
		if p := e.Progress(); p.Iterations < 2 {
			t.Errorf("progress %+v", p)
		}
	})
}

func TestConstantArrivalRateRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(50 * time.Millisecond)
		c := NewConstantArrivalRateConfig("a")
		c.Rate, c.Duration, c.PreAllocatedVUs, c.MaxVUs = 10, 2*time.Second, 2, 2
		e, buf := runOne(t, &c, rec, nil, nil)
		its := rec.all()
		if len(its) != 20 || dropped(buf) != 0 {
			t.Fatalf("%d iterations, %v dropped; want 20, 0", len(its), dropped(buf))
		}
		for i, it := range its {
			if want := time.Duration(i) * 100 * time.Millisecond; it.start != want {
				t.Errorf("iteration %d started at %v, want %v", i, it.start, want)
			}
		}
		if p := e.Progress(); p.Status != Done || p.Iterations != 20 {
			t.Errorf("progress %+v", p)
		}
	})
}

func TestConstantArrivalRateDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 950ms iterations at 10/s on 2 VUs: each VU takes one arrival per
		// second, the 16 other arrivals are dropped.
		rec := newRecorder(950 * time.Millisecond)
		c := NewConstantArrivalRateConfig("a")
		c.Rate, c.Duration, c.PreAllocatedVUs, c.MaxVUs = 10, 2*time.Second, 2, 2
		e, buf := runOne(t, &c, rec, nil, nil)
		if n := len(rec.all()); n != 4 || dropped(buf) != 16 {
			t.Errorf("%d iterations, %v dropped; want 4, 16", n, dropped(buf))
		}
		if p := e.Progress(); p.Dropped != 16 {
			t.Errorf("progress %+v", p)
		}
		// With maxVUs 20 the executor adds VUs and drops fewer.
		rec = newRecorder(950 * time.Millisecond)
		c.MaxVUs = 20
		_, buf = runOne(t, &c, rec, nil, nil)
		if n, d := len(rec.all()), dropped(buf); n+int(d) != 20 || d >= 16 {
			t.Errorf("with extra VUs: %d iterations, %v dropped", n, d)
		}
	})
}

func TestRampingArrivalRateRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(10 * time.Millisecond)
		c := NewRampingArrivalRateConfig("ra")
		c.Stages = []Stage{{5 * time.Second, 1}, {time.Second, 1}, {5 * time.Second, 0}}
		c.PreAllocatedVUs, c.MaxVUs = 1, 1
		runOne(t, &c, rec, nil, nil)
		var starts []time.Duration
		for _, it := range rec.all() {
			starts = append(starts, it.start.Truncate(time.Millisecond))
		}
		ms := time.Millisecond
		// The k6 reference schedule (see TestArrivalPlan); the 11s arrival is
		// at the very end of the stages and does not start.
		if want := []time.Duration{3162 * ms, 4472 * ms, 5500 * ms, 6527 * ms, 7837 * ms}; !slices.Equal(starts, want) {
			t.Errorf("starts %v, want %v", starts, want)
		}
	})
}

// The first Ctrl-C stops new iterations and gives running ones gracefulStop.
func TestGracefulStopSignal(t *testing.T) {
	for _, c := range []struct {
		name                 string
		graceful             time.Duration
		completed, interrupt int64
	}{
		{"iterations finish within gracefulStop", 5 * time.Second, 4, 0},
		{"iterations cut after gracefulStop", time.Second, 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(3 * time.Second)
				cfg := NewConstantVUsConfig("c")
				cfg.VUs, cfg.Duration, cfg.GracefulStop = 2, time.Minute, c.graceful
				stop, cancel := context.WithCancel(context.Background())
				time.AfterFunc(4*time.Second, cancel)
				e, _ := runOne(t, &cfg, rec, nil, stop)
				p := e.Progress()
				if p.Iterations != c.completed || p.Interrupted != c.interrupt || p.Status != Interrupted {
					t.Errorf("progress %+v", p)
				}
				if el := time.Since(rec.origin); el != min(6*time.Second, 4*time.Second+c.graceful) {
					t.Errorf("stopped after %v", el)
				}
			})
		})
	}
}

func TestHardCancelInterruptsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(time.Hour)
		cfg := NewConstantVUsConfig("c")
		cfg.VUs, cfg.Duration = 2, time.Minute
		et, _ := NewTuple(nil, nil)
		e := cfg.NewExecutor(&Env{Tuple: et, Pool: NewPool(rec.newVU)})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(2*time.Second, cancel)
		_ = e.Run(ctx)
		if el := time.Since(rec.origin); el != 2*time.Second {
			t.Errorf("took %v", el)
		}
		if p := e.Progress(); p.Interrupted != 2 {
			t.Errorf("progress %+v", p)
		}
	})
}

func TestSchedulerStartTimesAndVUMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(1500 * time.Millisecond)
		a := NewPerVUIterationsConfig("a")
		a.VUs, a.Iterations = 2, 2
		b := NewPerVUIterationsConfig("b")
		b.VUs, b.Iterations, b.StartTime = 3, 1, 5*time.Second
		late := NewPerVUIterationsConfig("late") // stopped before it starts
		late.StartTime = time.Hour
		buf := &samples.Buffer{}
		s, err := NewScheduler([]Config{&b, &a, &late}, SchedulerOptions{NewVU: rec.newVU, Sink: buf, Tags: map[string]string{"testid": "x"}})
		if err != nil {
			t.Fatal(err)
		}
		// a holds 2 VUs for up to 10m30s, overlapping b's 3: 5 planned.
		if s.PlannedVUs() != 5 || s.MaxVUs() != 5 {
			t.Errorf("planned %d max %d", s.PlannedVUs(), s.MaxVUs())
		}
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		stop, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Second, cancel)
		if err := s.Run(context.Background(), stop); err != nil {
			t.Fatal(err)
		}
		for _, it := range rec.all() {
			if it.scenario == "b" && it.start != 5*time.Second {
				t.Errorf("b started at %v", it.start)
			}
			if it.scenario == "late" {
				t.Error("late scenario ran after the stop")
			}
		}
		if n := len(rec.globals("a")) + len(rec.globals("b")); n != 7 {
			t.Errorf("%d iterations, want 7", n)
		}
		if s.State().IterationsCompleted() != 7 {
			t.Errorf("completed %d", s.State().IterationsCompleted())
		}
		var vus, vusMax []float64
		for _, smp := range buf.Samples() {
			if smp.Tags["testid"] != "x" {
				t.Errorf("sample without run tags: %+v", smp)
			}
			switch smp.Metric {
			case "vus":
				vus = append(vus, smp.Value)
			case "vus_max":
				vusMax = append(vusMax, smp.Value)
			}
		}
		// Emitted at init, every second for 10s, and at the end.
		if len(vus) < 10 || slices.Max(vusMax) != 5 || slices.Max(vus) != 3 {
			t.Errorf("vus %v vus_max %v", vus, vusMax)
		}
		progress := s.Progress()
		if len(progress) != 3 || progress[2].Scenario != "late" || progress[2].Status != Waiting {
			t.Errorf("progress %+v", progress)
		}
	})
}
