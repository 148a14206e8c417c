package executor

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// base holds what every executor shares: its environment, counters and
// status.
type base struct {
	cfg *BaseConfig
	env *Env

	startedAt   atomic.Pointer[time.Time]
	status      atomic.Int32
	active      atomic.Int64 // VUs running an iteration or looping
	maxVUs      atomic.Int64
	completed   atomic.Int64
	interrupted atomic.Int64
	dropped     atomic.Int64
	errors      atomic.Int64

	segMu sync.Mutex
	seg   *segIndex
}

func newBase(cfg *BaseConfig, env *Env, iterTuple *Tuple) *base {
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if env.State == nil {
		env.State = &State{}
	}
	if env.Sink == nil {
		env.Sink = samples.Discard
	}
	if env.Stop == nil {
		env.Stop = context.Background()
	}
	return &base{cfg: cfg, env: env, seg: &segIndex{t: iterTuple}}
}

// nextIteration hands out iteration numbers striped over the segments.
func (b *base) nextIteration() (int64, int64) {
	b.segMu.Lock()
	defer b.segMu.Unlock()
	return b.seg.next()
}

func (b *base) markStart() time.Time {
	now := time.Now()
	b.startedAt.Store(&now)
	b.status.Store(int32(Running))
	return now
}

func (b *base) elapsed() time.Duration {
	if t := b.startedAt.Load(); t != nil {
		return time.Since(*t)
	}
	return 0
}

// finish sets the final status: interrupted when ctx or the stop signal
// ended the scenario early.
func (b *base) finish(ctx context.Context, early bool) {
	if early || ctx.Err() != nil {
		b.status.Store(int32(Interrupted))
		return
	}
	b.status.Store(int32(Done))
}

func (b *base) scenarioInfo(start time.Time, progress func() float64) *ScenarioInfo {
	return &ScenarioInfo{Name: b.cfg.Name, Executor: b.cfg.Type, StartTime: start, Progress: progress}
}

func (b *base) params(ctx context.Context, info *ScenarioInfo, next func() (int64, int64)) *ActivationParams {
	if next == nil {
		next = b.nextIteration
	}
	return &ActivationParams{
		Context:       ctx,
		Scenario:      info,
		Exec:          b.cfg.ExecName(),
		Env:           b.cfg.Env,
		Tags:          b.cfg.Tags,
		NextIteration: next,
	}
}

// runIteration runs one iteration and counts it. It returns false when the
// iteration was interrupted (ctx done).
func (b *base) runIteration(ctx context.Context, avu ActiveVU) bool {
	err := avu.RunOnce()
	if ctx.Err() != nil {
		b.interrupted.Add(1)
		b.env.State.interrupted.Add(1)
		return false
	}
	if err != nil {
		b.errors.Add(1)
		b.env.Logger.Error(err.Error(), "scenario", b.cfg.Name)
	}
	b.completed.Add(1)
	b.env.State.completed.Add(1)
	return true
}

// activeDelta tracks VUs running iterations for this scenario and the
// instance.
func (b *base) activeDelta(d int64) {
	b.active.Add(d)
	b.env.State.active.Add(d)
}

// drop emits dropped_iterations.
func (b *base) drop(n int64) {
	if n <= 0 {
		return
	}
	b.dropped.Add(n)
	tags := make(map[string]string, len(b.env.Tags)+len(b.cfg.Tags)+1)
	maps.Copy(tags, b.env.Tags)
	maps.Copy(tags, b.cfg.Tags)
	tags["scenario"] = b.cfg.Name
	b.env.Sink.AddSample(samples.Sample{Metric: "dropped_iterations", Time: time.Now(), Value: float64(n), Tags: tags})
}

func (b *base) progress(frac float64, duration time.Duration, detail string) Progress {
	return Progress{
		Scenario:    b.cfg.Name,
		Executor:    b.cfg.Type,
		Status:      Status(b.status.Load()),
		Fraction:    math.Max(0, math.Min(1, frac)),
		Elapsed:     b.elapsed(),
		Duration:    duration,
		VUs:         b.active.Load(),
		MaxVUs:      b.maxVUs.Load(),
		Iterations:  b.completed.Load(),
		Interrupted: b.interrupted.Load(),
		Dropped:     b.dropped.Load(),
		Errors:      b.errors.Load(),
		Detail:      detail,
	}
}

// timeFraction is elapsed/total clamped to [0,1] (1 when total is 0).
func timeFraction(elapsed, total time.Duration) float64 {
	if total <= 0 {
		return 1
	}
	return math.Min(1, float64(elapsed)/float64(total))
}

// phase holds the contexts of a scenario run. reg is done when no new
// iteration may start: at start+regular, or when the stop signal comes.
// max interrupts running iterations: gracefulStop after reg, or when the
// run's context is done.
type phase struct {
	reg, max context.Context
	regEnd   time.Time
	byStop   atomic.Bool
	cancel   func()
}

// open reports whether a new iteration may start. It checks the clock as
// well as the context so that an iteration ending exactly at the deadline
// does not start another one.
func (p *phase) open() bool { return p.reg.Err() == nil && time.Now().Before(p.regEnd) }

// stopped reports whether the stop signal (not the clock) ended the regular
// phase.
func (p *phase) stopped() bool { return p.byStop.Load() }

func newPhase(ctx, stop context.Context, start time.Time, regular, graceful time.Duration) *phase {
	p := &phase{regEnd: start.Add(regular)}
	maxCtx, maxCancel := context.WithDeadline(ctx, start.Add(regular+graceful))
	regCtx, regCancel := context.WithDeadline(maxCtx, p.regEnd)
	p.reg, p.max = regCtx, maxCtx
	var (
		mu       sync.Mutex
		timer    *time.Timer
		released bool
	)
	unregister := context.AfterFunc(stop, func() {
		mu.Lock()
		defer mu.Unlock()
		if released || regCtx.Err() != nil {
			return
		}
		p.byStop.Store(true)
		regCancel()
		timer = time.AfterFunc(graceful, maxCancel)
	})
	// When the regular phase ends by the clock, the outer deadline already
	// bounds the graceful stop.
	p.cancel = func() {
		unregister()
		mu.Lock()
		released = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		regCancel()
		maxCancel()
	}
	return p
}

// waitStart sleeps until startTime has passed since the scheduler started;
// it returns false if the run was stopped or cancelled first.
func waitUntil(ctx, stop context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil && stop.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop.Done():
		return false
	}
}
