package executor

import (
	"context"
	"fmt"
	"math/big"
	"time"
)

// ConstantArrivalRateConfig starts iterations at a fixed rate, whatever
// their duration, from a pool of VUs.
type ConstantArrivalRateConfig struct {
	BaseConfig
	Rate            int64
	TimeUnit        time.Duration
	Duration        time.Duration
	PreAllocatedVUs int64
	MaxVUs          int64
}

// NewConstantArrivalRateConfig returns k6's defaults: timeUnit 1s,
// gracefulStop 30s, maxVUs = preAllocatedVUs; rate, duration and
// preAllocatedVUs must be set.
func NewConstantArrivalRateConfig(name string) ConstantArrivalRateConfig {
	return ConstantArrivalRateConfig{
		BaseConfig:      BaseConfig{Name: name, Type: ConstantArrivalType, GracefulStop: DefaultGracefulStop},
		TimeUnit:        time.Second,
		PreAllocatedVUs: -1,
	}
}

func (c *ConstantArrivalRateConfig) decode(d *decoder) {
	if !d.int("rate", &c.Rate) {
		d.fail("rate", fmt.Errorf("missing; set how many iterations start per timeUnit"))
	}
	d.duration("timeUnit", &c.TimeUnit)
	if !d.duration("duration", &c.Duration) {
		d.fail("duration", fmt.Errorf("missing; set how long iterations keep starting, e.g. \"1m\""))
	}
	if !d.int("preAllocatedVUs", &c.PreAllocatedVUs) {
		d.fail("preAllocatedVUs", fmt.Errorf("missing; set how many VUs to initialize before the test"))
	}
	if !d.int("maxVUs", &c.MaxVUs) {
		c.MaxVUs = c.PreAllocatedVUs
	}
}

// Validate reports every problem at once.
func (c *ConstantArrivalRateConfig) Validate() []error {
	errs := c.BaseConfig.Validate()
	if c.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate: must be more than 0, got %d", c.Rate))
	}
	if c.TimeUnit <= 0 {
		errs = append(errs, fmt.Errorf("timeUnit: must be more than 0"))
	}
	if c.Duration < minDuration {
		errs = append(errs, fmt.Errorf("duration: must be at least %s, got %s", minDuration, FormatDuration(c.Duration)))
	}
	if c.PreAllocatedVUs < 0 {
		errs = append(errs, fmt.Errorf("preAllocatedVUs: can't be negative"))
	}
	if c.MaxVUs < c.PreAllocatedVUs {
		errs = append(errs, fmt.Errorf("maxVUs: can't be less than preAllocatedVUs (%d < %d)", c.MaxVUs, c.PreAllocatedVUs))
	}
	if c.MaxVUs == 0 {
		errs = append(errs, fmt.Errorf("maxVUs: at least one VU is needed"))
	}
	return errs
}

// Requirements: preAllocatedVUs planned, up to maxVUs, for duration +
// gracefulStop.
func (c *ConstantArrivalRateConfig) Requirements(et *Tuple) Requirements {
	pre, maxV := et.Scale(c.PreAllocatedVUs), et.Scale(c.MaxVUs)
	return Requirements{PlannedVUs: pre, MaxUnplannedVUs: maxV - pre, Duration: c.Duration + c.GracefulStop}
}

// HasWork reports whether the segment has VUs.
func (c *ConstantArrivalRateConfig) HasWork(et *Tuple) bool { return et.Scale(c.MaxVUs) > 0 }

// perSecond is the segment's arrival rate per second.
func perSecond(rate int64, timeUnit time.Duration, seg *Segment) float64 {
	r := new(big.Rat).SetFrac64(rate*int64(time.Second), int64(timeUnit))
	r.Mul(r, seg.Length())
	f, _ := r.Float64()
	return f
}

// Description is the k6 run-header line.
func (c *ConstantArrivalRateConfig) Description(et *Tuple) string {
	pre, maxV := et.Scale(c.PreAllocatedVUs), et.Scale(c.MaxVUs)
	vus := fmt.Sprintf("maxVUs: %d", pre)
	if maxV > pre {
		vus += fmt.Sprintf("-%d", maxV)
	}
	return fmt.Sprintf("%.2f iterations/s for %s%s", perSecond(c.Rate, c.TimeUnit, et.Segment()),
		FormatDuration(c.Duration), c.baseInfo(vus))
}

// NewExecutor returns the executor.
func (c *ConstantArrivalRateConfig) NewExecutor(env *Env) Executor {
	at, err := env.Tuple.Rescaled(c.MaxVUs)
	if err != nil {
		at = env.Tuple
	}
	return &constantArrivalRate{base: newBase(&c.BaseConfig, env, at), cfg: c, arrivals: at}
}

type constantArrivalRate struct {
	*base
	cfg      *ConstantArrivalRateConfig
	arrivals *Tuple
}

func (e *constantArrivalRate) Progress() Progress {
	el := e.elapsed()
	return e.progress(timeFraction(el, e.cfg.Duration), e.cfg.Duration,
		fmt.Sprintf("%.2f iters/s, %d/%d VUs %s/%s", perSecond(e.cfg.Rate, e.cfg.TimeUnit, e.env.Tuple.Segment()),
			e.active.Load(), e.maxVUs.Load(), FormatDuration(min(el, e.cfg.Duration).Truncate(time.Second)), FormatDuration(e.cfg.Duration)))
}

func (e *constantArrivalRate) Run(ctx context.Context) error {
	start := e.markStart()
	ph := newPhase(ctx, e.env.Stop, start, e.cfg.Duration, e.cfg.GracefulStop)
	defer ph.cancel()
	defer func() { e.finish(ctx, ph.stopped()) }()
	info := e.scenarioInfo(start, func() float64 { return e.Progress().Fraction })
	at := func(k int64) (time.Duration, bool) {
		off := ConstantArrivalOffset(e.arrivals.Global(k), e.cfg.Rate, e.cfg.TimeUnit)
		return off, off < e.cfg.Duration
	}
	return e.runArrivals(ctx, ph, start, info,
		e.env.Tuple.Scale(e.cfg.PreAllocatedVUs), e.env.Tuple.Scale(e.cfg.MaxVUs), at)
}
