package executor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ConstantVUsConfig keeps a fixed number of VUs looping for a duration.
type ConstantVUsConfig struct {
	BaseConfig
	VUs      int64
	Duration time.Duration
}

// NewConstantVUsConfig returns k6's defaults: 1 VU, gracefulStop 30s; the
// duration must be set.
func NewConstantVUsConfig(name string) ConstantVUsConfig {
	return ConstantVUsConfig{
		BaseConfig: BaseConfig{Name: name, Type: ConstantVUsType, GracefulStop: DefaultGracefulStop},
		VUs:        1,
	}
}

func (c *ConstantVUsConfig) decode(d *decoder) {
	d.int("vus", &c.VUs)
	if !d.duration("duration", &c.Duration) {
		d.fail("duration", fmt.Errorf("missing; set how long the VUs loop, e.g. \"30s\""))
	}
}

// Validate reports every problem at once.
func (c *ConstantVUsConfig) Validate() []error {
	errs := c.BaseConfig.Validate()
	if c.VUs <= 0 {
		errs = append(errs, fmt.Errorf("vus: must be more than 0, got %d", c.VUs))
	}
	if c.Duration < minDuration {
		errs = append(errs, fmt.Errorf("duration: must be at least %s, got %s", minDuration, FormatDuration(c.Duration)))
	}
	return errs
}

// Requirements: the segment's VUs for duration + gracefulStop.
func (c *ConstantVUsConfig) Requirements(et *Tuple) Requirements {
	return Requirements{PlannedVUs: et.Scale(c.VUs), Duration: c.Duration + c.GracefulStop}
}

// HasWork reports whether the segment has VUs.
func (c *ConstantVUsConfig) HasWork(et *Tuple) bool { return et.Scale(c.VUs) > 0 }

// Description is the k6 run-header line.
func (c *ConstantVUsConfig) Description(et *Tuple) string {
	return fmt.Sprintf("%d looping VUs for %s%s", et.Scale(c.VUs), FormatDuration(c.Duration), c.baseInfo())
}

// NewExecutor returns the executor.
func (c *ConstantVUsConfig) NewExecutor(env *Env) Executor {
	return &constantVUs{base: newBase(&c.BaseConfig, env, env.Tuple), cfg: c, vus: env.Tuple.Scale(c.VUs)}
}

type constantVUs struct {
	*base
	cfg *ConstantVUsConfig
	vus int64
}

func (e *constantVUs) Progress() Progress {
	el := e.elapsed()
	return e.progress(timeFraction(el, e.cfg.Duration), e.cfg.Duration,
		fmt.Sprintf("%d VUs %s/%s", e.vus, FormatDuration(min(el, e.cfg.Duration).Truncate(time.Second)), FormatDuration(e.cfg.Duration)))
}

func (e *constantVUs) Run(ctx context.Context) error {
	start := e.markStart()
	e.maxVUs.Store(e.vus)
	ph := newPhase(ctx, e.env.Stop, start, e.cfg.Duration, e.cfg.GracefulStop)
	defer ph.cancel()
	info := e.scenarioInfo(start, func() float64 { return e.Progress().Fraction })
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		e.finish(ctx, ph.stopped())
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
				e.runIteration(ph.max, avu)
			}
		}()
	}
	return nil
}
