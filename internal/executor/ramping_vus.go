package executor

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"time"
)

// RampingVUsConfig ramps the number of looping VUs through stages.
type RampingVUsConfig struct {
	BaseConfig
	StartVUs         int64
	Stages           []Stage
	GracefulRampDown time.Duration
}

// NewRampingVUsConfig returns k6's defaults: startVUs 1, gracefulStop and
// gracefulRampDown 30s; stages must be set.
func NewRampingVUsConfig(name string) RampingVUsConfig {
	return RampingVUsConfig{
		BaseConfig:       BaseConfig{Name: name, Type: RampingVUsType, GracefulStop: DefaultGracefulStop},
		StartVUs:         1,
		GracefulRampDown: DefaultGracefulStop,
	}
}

func (c *RampingVUsConfig) decode(d *decoder) {
	d.int("startVUs", &c.StartVUs)
	d.stages("stages", &c.Stages)
	d.duration("gracefulRampDown", &c.GracefulRampDown)
}

// Validate reports every problem at once.
func (c *RampingVUsConfig) Validate() []error {
	errs := c.BaseConfig.Validate()
	if c.StartVUs < 0 {
		errs = append(errs, fmt.Errorf("startVUs: can't be negative, got %d", c.StartVUs))
	}
	errs = append(errs, validateStages(c.Stages)...)
	if c.GracefulRampDown < 0 {
		errs = append(errs, fmt.Errorf("gracefulRampDown: can't be negative"))
	}
	if len(c.Stages) > 0 && stagesDuration(c.Stages) == 0 {
		errs = append(errs, fmt.Errorf("stages: the total duration must be more than 0"))
	}
	if c.maxTarget() == 0 && len(c.Stages) > 0 {
		errs = append(errs, fmt.Errorf("stages: startVUs and every target are 0, so no VU would run"))
	}
	return errs
}

func (c *RampingVUsConfig) maxTarget() int64 {
	m := c.StartVUs
	for _, s := range c.Stages {
		m = max(m, s.Target)
	}
	return m
}

// Requirements: the peak VUs of the segment, for the stages plus the
// graceful periods.
func (c *RampingVUsConfig) Requirements(et *Tuple) Requirements {
	return Requirements{
		PlannedVUs: et.Scale(c.maxTarget()),
		Duration:   stagesDuration(c.Stages) + max(c.GracefulRampDown, c.GracefulStop),
	}
}

// HasWork reports whether the segment ever has a VU.
func (c *RampingVUsConfig) HasWork(et *Tuple) bool { return et.Scale(c.maxTarget()) > 0 }

// Description is the k6 run-header line.
func (c *RampingVUsConfig) Description(et *Tuple) string {
	return fmt.Sprintf("Up to %d looping VUs for %s over %d stages%s", et.Scale(c.maxTarget()),
		FormatDuration(stagesDuration(c.Stages)), len(c.Stages),
		c.baseInfo("gracefulRampDown: "+FormatDuration(c.GracefulRampDown)))
}

// mulDiv returns a·b/c rounded down, for non-negative a, b and positive c,
// without overflowing int64 intermediates.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c { // result does not fit; saturate
		return ^uint64(0) >> 1
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// mulDivCeil returns ⌈a·b/c⌉.
func mulDivCeil(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return ^uint64(0) >> 1
	}
	q, r := bits.Div64(hi, lo, c)
	if r != 0 {
		q++
	}
	return q
}

// RampingVUsTarget returns the test-wide number of VUs a ramping-vus
// scenario wants at elapsed time. Within a stage going from a to b VUs over
// d, at offset x it is a + ⌊(b−a)·x/d⌋ when ramping up and a − ⌊(a−b)·x/d⌋
// when ramping down, so VU a+j starts at ⌈j·d/(b−a)⌉ (k6's schedule). A
// zero-length stage jumps to its target. After the last stage the target
// stays at the last stage's.
func RampingVUsTarget(startVUs int64, stages []Stage, elapsed time.Duration) int64 {
	from := startVUs
	var stageStart time.Duration
	for _, s := range stages {
		if elapsed < stageStart+s.Duration {
			x := uint64(elapsed - stageStart)
			d := uint64(s.Duration)
			if s.Target >= from {
				return from + int64(mulDiv(uint64(s.Target-from), x, d))
			}
			return from - int64(mulDiv(uint64(from-s.Target), x, d))
		}
		stageStart += s.Duration
		from = s.Target
	}
	return from
}

// VUStep is a change of a ramping scenario's VU count.
type VUStep struct {
	At  time.Duration
	VUs int64
}

// RampingVUsSteps lists every change of RampingVUsTarget in time order,
// starting with the count at 0. Each entry is the first instant at which the
// target has the new value.
func RampingVUsSteps(startVUs int64, stages []Stage) []VUStep {
	steps := []VUStep{{At: 0, VUs: startVUs}}
	add := func(at time.Duration, v int64) {
		if last := &steps[len(steps)-1]; last.At == at {
			last.VUs = v
			if len(steps) > 1 && steps[len(steps)-2].VUs == v {
				steps = steps[:len(steps)-1]
			}
			return
		}
		if steps[len(steps)-1].VUs != v {
			steps = append(steps, VUStep{At: at, VUs: v})
		}
	}
	from := startVUs
	var stageStart time.Duration
	for _, s := range stages {
		diff := s.Target - from
		switch {
		case diff == 0:
		case s.Duration == 0:
			add(stageStart, s.Target)
		default:
			n := diff
			sign := int64(1)
			if n < 0 {
				n, sign = -n, -1
			}
			for j := int64(1); j <= n; j++ {
				at := stageStart + time.Duration(mulDivCeil(uint64(j), uint64(s.Duration), uint64(n)))
				add(at, from+sign*j)
			}
		}
		stageStart += s.Duration
		from = s.Target
	}
	return steps
}

// localSteps maps test-wide steps to this segment's VU counts, dropping
// steps that do not change the local count.
func localSteps(global []VUStep, et *Tuple) []VUStep {
	var out []VUStep
	for _, s := range global {
		v := et.Scale(s.VUs)
		if len(out) > 0 && out[len(out)-1].VUs == v {
			continue
		}
		out = append(out, VUStep{At: s.At, VUs: v})
	}
	return out
}

// NewExecutor returns the executor.
func (c *RampingVUsConfig) NewExecutor(env *Env) Executor {
	return &rampingVUs{base: newBase(&c.BaseConfig, env, env.Tuple), cfg: c}
}

type rampingVUs struct {
	*base
	cfg    *RampingVUsConfig
	target sync.Mutex
	cur    int64
}

func (e *rampingVUs) Progress() Progress {
	total := stagesDuration(e.cfg.Stages)
	el := e.elapsed()
	e.target.Lock()
	cur := e.cur
	e.target.Unlock()
	return e.progress(timeFraction(el, total), total,
		fmt.Sprintf("%d/%d VUs %s/%s", e.active.Load(), cur, FormatDuration(min(el, total).Truncate(time.Second)), FormatDuration(total)))
}

func (e *rampingVUs) Run(ctx context.Context) error {
	start := e.markStart()
	total := stagesDuration(e.cfg.Stages)
	ph := newPhase(ctx, e.env.Stop, start, total, e.cfg.GracefulStop)
	defer ph.cancel()
	info := e.scenarioInfo(start, func() float64 { return e.Progress().Fraction })
	steps := localSteps(RampingVUsSteps(e.cfg.StartVUs, e.cfg.Stages), e.env.Tuple)
	maxLocal := e.env.Tuple.Scale(e.cfg.maxTarget())
	e.maxVUs.Store(maxLocal)

	handles := make([]*vuHandle, 0, maxLocal)
	defer func() {
		for _, h := range handles {
			h.stop(-1) // no new iterations; ph.max bounds the running ones
		}
		for _, h := range handles {
			h.wait()
			e.env.Pool.Put(h.vu)
		}
		e.finish(ctx, ph.stopped())
	}()
	for range maxLocal {
		vu, err := e.env.Pool.Get(ctx)
		if err != nil {
			return err
		}
		handles = append(handles, &vuHandle{e: e.base, vu: vu, parent: ph.max, info: info, open: ph.open})
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for _, st := range steps {
		if d := time.Until(start.Add(st.At)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ph.reg.Done():
				return nil
			}
		}
		if ph.reg.Err() != nil {
			return nil
		}
		e.target.Lock()
		e.cur = st.VUs
		e.target.Unlock()
		for i, h := range handles {
			if int64(i) < st.VUs {
				h.start()
			} else {
				h.stop(e.cfg.GracefulRampDown)
			}
		}
	}
	<-ph.reg.Done()
	return nil
}

// vuHandle runs one VU slot of a ramping scenario, which may be started,
// gracefully stopped, and restarted while it still finishes an iteration.
type vuHandle struct {
	e      *base
	vu     VU
	parent context.Context
	info   *ScenarioInfo
	open   func() bool // the scenario's regular phase is on

	mu        sync.Mutex
	wantRun   bool
	running   bool
	cancelled bool
	cancel    context.CancelFunc
	timer     *time.Timer
	done      chan struct{}
}

// start makes the slot loop iterations.
func (h *vuHandle) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wantRun = true
	if h.running && !h.cancelled {
		if h.timer == nil {
			return // already looping
		}
		if h.timer.Stop() {
			h.timer = nil
			return // ramp-down cancelled before its grace period ran out
		}
		h.timer = nil
		h.cancelled = true
	}
	prev := h.done
	ctx, cancel := context.WithCancel(h.parent)
	done := make(chan struct{})
	h.cancel, h.done, h.running, h.cancelled = cancel, done, true, false
	go h.loop(ctx, cancel, prev, done)
}

// stop lets the running iteration finish within grace, then interrupts it;
// a negative grace never interrupts (the caller's context bounds it).
func (h *vuHandle) stop(grace time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.wantRun {
		return
	}
	h.wantRun = false
	if !h.running || h.cancelled || grace < 0 {
		return
	}
	if grace == 0 {
		h.cancelled = true
		h.cancel()
		return
	}
	cancel := h.cancel
	h.timer = time.AfterFunc(grace, func() {
		h.mu.Lock()
		h.cancelled = true
		h.mu.Unlock()
		cancel()
	})
}

func (h *vuHandle) wait() {
	h.mu.Lock()
	done := h.done
	h.mu.Unlock()
	if done != nil {
		<-done
	}
}

func (h *vuHandle) loop(ctx context.Context, cancel context.CancelFunc, prev <-chan struct{}, done chan struct{}) {
	defer close(done)
	defer cancel()
	if prev != nil {
		<-prev // the VU finishes its previous activation first
	}
	defer func() {
		h.mu.Lock()
		if h.done == done {
			h.running = false
			if h.timer != nil {
				h.timer.Stop()
				h.timer = nil
			}
		}
		h.mu.Unlock()
	}()
	avu := h.vu.Activate(h.e.params(ctx, h.info, nil))
	h.e.activeDelta(1)
	defer h.e.activeDelta(-1)
	for {
		h.mu.Lock()
		run := h.wantRun && h.done == done && ctx.Err() == nil && h.open()
		h.mu.Unlock()
		if !run {
			return
		}
		h.e.runIteration(ctx, avu)
	}
}
