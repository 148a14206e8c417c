package executor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// SharedIterationsConfig runs a fixed number of iterations shared by a
// number of VUs: each VU loops, taking the next iteration until all are
// taken or maxDuration passes.
type SharedIterationsConfig struct {
	BaseConfig
	VUs         int64
	Iterations  int64
	MaxDuration time.Duration
}

// NewSharedIterationsConfig returns k6's defaults: 1 VU, 1 iteration,
// maxDuration 10m, gracefulStop 30s.
func NewSharedIterationsConfig(name string) SharedIterationsConfig {
	return SharedIterationsConfig{
		BaseConfig:  BaseConfig{Name: name, Type: SharedIterationsType, GracefulStop: DefaultGracefulStop},
		VUs:         1,
		Iterations:  1,
		MaxDuration: 10 * time.Minute,
	}
}

func (c *SharedIterationsConfig) decode(d *decoder) {
	d.int("vus", &c.VUs)
	d.int("iterations", &c.Iterations)
	d.duration("maxDuration", &c.MaxDuration)
}

// Validate reports every problem at once.
func (c *SharedIterationsConfig) Validate() []error {
	errs := c.BaseConfig.Validate()
	if c.VUs <= 0 {
		errs = append(errs, fmt.Errorf("vus: must be more than 0, got %d", c.VUs))
	}
	if c.Iterations < c.VUs {
		errs = append(errs, fmt.Errorf("iterations: the number of iterations (%d) can't be less than the number of VUs (%d)", c.Iterations, c.VUs))
	}
	if c.MaxDuration < minDuration {
		errs = append(errs, fmt.Errorf("maxDuration: must be at least %s, got %s", minDuration, FormatDuration(c.MaxDuration)))
	}
	return errs
}

// scaled returns this segment's VUs and iterations, and the tuple that
// numbers the iterations.
func (c *SharedIterationsConfig) scaled(et *Tuple) (vus, iters int64, it *Tuple) {
	vus = et.Scale(c.VUs)
	it, err := et.Rescaled(c.VUs)
	if err != nil {
		return vus, 0, et
	}
	return vus, it.Scale(c.Iterations), it
}

// Requirements: the VUs, for maxDuration + gracefulStop.
func (c *SharedIterationsConfig) Requirements(et *Tuple) Requirements {
	vus, _, _ := c.scaled(et)
	return Requirements{PlannedVUs: vus, Duration: c.MaxDuration + c.GracefulStop}
}

// HasWork reports whether the segment has VUs and iterations.
func (c *SharedIterationsConfig) HasWork(et *Tuple) bool {
	vus, iters, _ := c.scaled(et)
	return vus > 0 && iters > 0
}

// Description is the k6 run-header line.
func (c *SharedIterationsConfig) Description(et *Tuple) string {
	vus, iters, _ := c.scaled(et)
	return fmt.Sprintf("%d iterations shared among %d VUs%s", iters, vus,
		c.baseInfo("maxDuration: "+FormatDuration(c.MaxDuration)))
}

// NewExecutor returns the executor.
func (c *SharedIterationsConfig) NewExecutor(env *Env) Executor {
	vus, iters, it := c.scaled(env.Tuple)
	return &sharedIterations{base: newBase(&c.BaseConfig, env, it), cfg: c, vus: vus, iters: iters}
}

type sharedIterations struct {
	*base
	cfg       *SharedIterationsConfig
	vus       int64
	iters     int64
	attempted atomic.Int64
}

func (e *sharedIterations) Progress() Progress {
	done := e.completed.Load() + e.interrupted.Load()
	return e.progress(fraction(done, e.iters), e.cfg.MaxDuration,
		fmt.Sprintf("%d/%d shared iters", done, e.iters))
}

// fraction is done/total clamped to [0,1] (1 when total is 0).
func fraction(done, total int64) float64 {
	if total <= 0 {
		return 1
	}
	return min(1, float64(done)/float64(total))
}

func (e *sharedIterations) Run(ctx context.Context) error {
	start := e.markStart()
	e.maxVUs.Store(e.vus)
	ph := newPhase(ctx, e.env.Stop, start, e.cfg.MaxDuration, e.cfg.GracefulStop)
	defer ph.cancel()
	info := e.scenarioInfo(start, func() float64 { return e.Progress().Fraction })

	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		e.drop(e.iters - min(e.attempted.Load(), e.iters))
		e.finish(ctx, ph.stopped() || !ph.open() && e.attempted.Load() < e.iters)
	}()
	for range e.vus {
		vu, err := e.env.Pool.Get(ctx)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.env.Pool.Put(vu)
			avu := vu.Activate(e.params(ph.max, info, nil))
			e.activeDelta(1)
			defer e.activeDelta(-1)
			for ph.open() {
				if e.attempted.Add(1) > e.iters {
					return
				}
				e.runIteration(ph.max, avu)
			}
		}()
	}
	return nil
}
