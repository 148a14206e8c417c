package executor

import (
	"context"
	"fmt"
	"time"
)

// RampingArrivalRateConfig starts iterations at a rate that ramps linearly
// through stages.
type RampingArrivalRateConfig struct {
	BaseConfig
	StartRate       int64
	TimeUnit        time.Duration
	Stages          []Stage
	PreAllocatedVUs int64
	MaxVUs          int64
}

// NewRampingArrivalRateConfig returns k6's defaults: startRate 0, timeUnit
// 1s, gracefulStop 30s, maxVUs = preAllocatedVUs; stages and
// preAllocatedVUs must be set.
func NewRampingArrivalRateConfig(name string) RampingArrivalRateConfig {
	return RampingArrivalRateConfig{
		BaseConfig:      BaseConfig{Name: name, Type: RampingArrivalRateType, GracefulStop: DefaultGracefulStop},
		TimeUnit:        time.Second,
		PreAllocatedVUs: -1,
	}
}

func (c *RampingArrivalRateConfig) decode(d *decoder) {
	d.int("startRate", &c.StartRate)
	d.duration("timeUnit", &c.TimeUnit)
	if !d.stages("stages", &c.Stages) {
		d.fail("stages", fmt.Errorf("missing; set [{duration, target}, ...]"))
	}
	if !d.int("preAllocatedVUs", &c.PreAllocatedVUs) {
		d.fail("preAllocatedVUs", fmt.Errorf("missing; set how many VUs to initialize before the test"))
	}
	if !d.int("maxVUs", &c.MaxVUs) {
		c.MaxVUs = c.PreAllocatedVUs
	}
}

// Validate reports every problem at once.
func (c *RampingArrivalRateConfig) Validate() []error {
	errs := c.BaseConfig.Validate()
	if c.StartRate < 0 {
		errs = append(errs, fmt.Errorf("startRate: can't be negative"))
	}
	if c.TimeUnit <= 0 {
		errs = append(errs, fmt.Errorf("timeUnit: must be more than 0"))
	}
	errs = append(errs, validateStages(c.Stages)...)
	if len(c.Stages) > 0 && stagesDuration(c.Stages) < minDuration {
		errs = append(errs, fmt.Errorf("stages: the total duration must be at least %s", minDuration))
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

// Requirements: preAllocatedVUs planned, up to maxVUs, for the stages plus
// gracefulStop.
func (c *RampingArrivalRateConfig) Requirements(et *Tuple) Requirements {
	pre, maxV := et.Scale(c.PreAllocatedVUs), et.Scale(c.MaxVUs)
	return Requirements{PlannedVUs: pre, MaxUnplannedVUs: maxV - pre, Duration: stagesDuration(c.Stages) + c.GracefulStop}
}

// HasWork reports whether the segment has VUs.
func (c *RampingArrivalRateConfig) HasWork(et *Tuple) bool { return et.Scale(c.MaxVUs) > 0 }

func (c *RampingArrivalRateConfig) maxRate() int64 {
	m := c.StartRate
	for _, s := range c.Stages {
		m = max(m, s.Target)
	}
	return m
}

// Description is the k6 run-header line.
func (c *RampingArrivalRateConfig) Description(et *Tuple) string {
	pre, maxV := et.Scale(c.PreAllocatedVUs), et.Scale(c.MaxVUs)
	vus := fmt.Sprintf("maxVUs: %d", pre)
	if maxV > pre {
		vus += fmt.Sprintf("-%d", maxV)
	}
	return fmt.Sprintf("Up to %.2f iterations/s for %s over %d stages%s", perSecond(c.maxRate(), c.TimeUnit, et.Segment()),
		FormatDuration(stagesDuration(c.Stages)), len(c.Stages), c.baseInfo(vus))
}

// NewExecutor returns the executor.
func (c *RampingArrivalRateConfig) NewExecutor(env *Env) Executor {
	at, err := env.Tuple.Rescaled(c.MaxVUs)
	if err != nil {
		at = env.Tuple
	}
	return &rampingArrivalRate{base: newBase(&c.BaseConfig, env, at), cfg: c, arrivals: at,
		plan: NewArrivalPlan(c.StartRate, c.TimeUnit, c.Stages)}
}

type rampingArrivalRate struct {
	*base
	cfg      *RampingArrivalRateConfig
	arrivals *Tuple
	plan     *ArrivalPlan
}

func (e *rampingArrivalRate) Progress() Progress {
	total := stagesDuration(e.cfg.Stages)
	el := e.elapsed()
	return e.progress(timeFraction(el, total), total,
		fmt.Sprintf("%d/%d VUs %s/%s", e.active.Load(), e.maxVUs.Load(),
			FormatDuration(min(el, total).Truncate(time.Second)), FormatDuration(total)))
}

func (e *rampingArrivalRate) Run(ctx context.Context) error {
	start := e.markStart()
	total := stagesDuration(e.cfg.Stages)
	ph := newPhase(ctx, e.env.Stop, start, total, e.cfg.GracefulStop)
	defer ph.cancel()
	defer func() { e.finish(ctx, ph.stopped()) }()
	info := e.scenarioInfo(start, func() float64 { return e.Progress().Fraction })
	at := func(k int64) (time.Duration, bool) { return e.plan.At(e.arrivals.Global(k) + 1) }
	return e.runArrivals(ctx, ph, start, info,
		e.env.Tuple.Scale(e.cfg.PreAllocatedVUs), e.env.Tuple.Scale(e.cfg.MaxVUs), at)
}
