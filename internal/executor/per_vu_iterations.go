package executor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// PerVUIterationsConfig makes each VU run the same number of iterations.
type PerVUIterationsConfig struct {
	BaseConfig
	VUs         int64
	Iterations  int64 // per VU
	MaxDuration time.Duration
}

// NewPerVUIterationsConfig returns k6's defaults: 1 VU, 1 iteration,
// maxDuration 10m, gracefulStop 30s.
func NewPerVUIterationsConfig(name string) PerVUIterationsConfig {
	return PerVUIterationsConfig{
		BaseConfig:  BaseConfig{Name: name, Type: PerVUIterationsType, GracefulStop: DefaultGracefulStop},
		VUs:         1,
		Iterations:  1,
		MaxDuration: 10 * time.Minute,
	}
}

func (c *PerVUIterationsConfig) decode(d *decoder) {
	d.int("vus", &c.VUs)
	d.int("iterations", &c.Iterations)
	d.duration("maxDuration", &c.MaxDuration)
}

// Validate reports every problem at once.
func (c *PerVUIterationsConfig) Validate() []error {
	errs := c.BaseConfig.Validate()
	if c.VUs <= 0 {
		errs = append(errs, fmt.Errorf("vus: must be more than 0, got %d", c.VUs))
	}
	if c.Iterations <= 0 {
		errs = append(errs, fmt.Errorf("iterations: must be more than 0, got %d", c.Iterations))
	}
	if c.MaxDuration < minDuration {
		errs = append(errs, fmt.Errorf("maxDuration: must be at least %s, got %s", minDuration, FormatDuration(c.MaxDuration)))
	}
	return errs
}

// Requirements: the segment's VUs for maxDuration + gracefulStop.
func (c *PerVUIterationsConfig) Requirements(et *Tuple) Requirements {
	return Requirements{PlannedVUs: et.Scale(c.VUs), Duration: c.MaxDuration + c.GracefulStop}
}

// HasWork reports whether the segment has VUs.
func (c *PerVUIterationsConfig) HasWork(et *Tuple) bool {
	return et.Scale(c.VUs) > 0 && c.Iterations > 0
}

// Description is the k6 run-header line.
func (c *PerVUIterationsConfig) Description(et *Tuple) string {
	return fmt.Sprintf("%d iterations for each of %d VUs%s", c.Iterations, et.Scale(c.VUs),
		c.baseInfo("maxDuration: "+FormatDuration(c.MaxDuration)))
}

// NewExecutor returns the executor.
func (c *PerVUIterationsConfig) NewExecutor(env *Env) Executor {
	return &perVUIterations{base: newBase(&c.BaseConfig, env, env.Tuple), cfg: c, vus: env.Tuple.Scale(c.VUs)}
}

type perVUIterations struct {
	*base
	cfg *PerVUIterationsConfig
	vus int64
}

func (e *perVUIterations) Progress() Progress {
	total := e.vus * e.cfg.Iterations
	done := e.completed.Load() + e.interrupted.Load()
	return e.progress(fraction(done, total), e.cfg.MaxDuration,
		fmt.Sprintf("%d/%d iters, %d per VU", done, total, e.cfg.Iterations))
}

// PerVUIterationInTest numbers iteration i of the VU whose test-wide index
// in the scenario is vu (both from 0), so that the iterations of every
// instance of a segmented test are numbered 0..vus·iterations−1 without
// overlap.
func PerVUIterationInTest(vu, i, iterations int64) int64 { return vu*iterations + i }

func (e *perVUIterations) Run(ctx context.Context) error {
	start := e.markStart()
	e.maxVUs.Store(e.vus)
	ph := newPhase(ctx, e.env.Stop, start, e.cfg.MaxDuration, e.cfg.GracefulStop)
	defer ph.cancel()
	info := e.scenarioInfo(start, func() float64 { return e.Progress().Fraction })

	var wg sync.WaitGroup
	var dropped bool
	var mu sync.Mutex
	defer func() {
		wg.Wait()
		e.finish(ctx, ph.stopped() || dropped)
	}()
	for k := range e.vus {
		vu, err := e.env.Pool.Get(ctx)
		if err != nil {
			return err
		}
		globalVU := e.env.Tuple.Global(k)
		var local int64
		next := func() (int64, int64) {
			l, _ := e.nextIteration()
			i := local
			local++
			return l, PerVUIterationInTest(globalVU, i, e.cfg.Iterations)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.env.Pool.Put(vu)
			avu := vu.Activate(e.params(ph.max, info, next))
			e.activeDelta(1)
			defer e.activeDelta(-1)
			for i := range e.cfg.Iterations {
				if !ph.open() {
					e.drop(e.cfg.Iterations - i)
					mu.Lock()
					dropped = true
					mu.Unlock()
					return
				}
				e.runIteration(ph.max, avu)
			}
		}()
	}
	return nil
}
