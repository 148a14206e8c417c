package executor

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"sync"
	"time"
)

// arrivalVUs is the VU pool of an arrival-rate executor: idle VUs wait in a
// queue, an arrival hands one iteration to an idle VU, or is dropped.
type arrivalVUs struct {
	e     *base
	ctx   context.Context // interrupts running iterations
	info  *ScenarioInfo
	idle  chan *arrivalVU
	mu    sync.Mutex
	all   []*arrivalVU
	wg    sync.WaitGroup
	limit int64
}

type arrivalVU struct{ job chan struct{} }

func newArrivalVUs(e *base, ctx context.Context, info *ScenarioInfo, maxVUs int64) *arrivalVUs {
	return &arrivalVUs{e: e, ctx: ctx, info: info, idle: make(chan *arrivalVU, max(maxVUs, 1)), limit: maxVUs}
}

// add activates vu and makes it available to arrivals.
func (p *arrivalVUs) add(vu VU) {
	s := &arrivalVU{job: make(chan struct{}, 1)}
	p.mu.Lock()
	p.all = append(p.all, s)
	p.mu.Unlock()
	p.e.maxVUs.Add(1)
	avu := vu.Activate(p.e.params(p.ctx, p.info, nil))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.e.env.Pool.Put(vu)
		for range s.job {
			p.e.activeDelta(1)
			p.e.runIteration(p.ctx, avu)
			p.e.activeDelta(-1)
			p.idle <- s // never blocks: capacity is the VU limit
		}
	}()
	p.idle <- s
}

// try starts one iteration on an idle VU; false when all are busy.
func (p *arrivalVUs) try() bool {
	select {
	case s := <-p.idle:
		s.job <- struct{}{}
		return true
	default:
		return false
	}
}

// close lets running iterations finish (bounded by ctx) and returns the VUs.
func (p *arrivalVUs) close() {
	p.mu.Lock()
	for _, s := range p.all {
		close(s.job)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// runArrivals starts iterations at the offsets given by at(k) for the
// segment's k-th arrival (false: no more arrivals), until the regular
// phase ends.
// Arrivals finding no idle VU are dropped, and an extra VU is initialized
// while fewer than maxVUs exist.
func (e *base) runArrivals(ctx context.Context, ph *phase, start time.Time, info *ScenarioInfo,
	preAllocated, maxVUs int64, at func(k int64) (time.Duration, bool),
) error {
	pool := newArrivalVUs(e, ph.max, info, maxVUs)
	defer pool.close()
	for range preAllocated {
		vu, err := e.env.Pool.Get(ctx)
		if err != nil {
			return err
		}
		pool.add(vu)
	}
	remaining := maxVUs - preAllocated
	want := make(chan struct{})
	var initWG sync.WaitGroup
	defer func() { close(want); initWG.Wait() }()
	initWG.Add(1)
	go func() {
		defer initWG.Done()
		for range want {
			vu, err := e.env.Pool.New(ph.max)
			if err != nil {
				if ph.max.Err() == nil {
					e.env.Logger.Error("initializing an extra VU failed", "scenario", e.cfg.Name, "error", err)
				}
				continue
			}
			pool.add(vu)
		}
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	warned := false
	for k := int64(0); ; k++ {
		off, ok := at(k)
		if !ok {
			break
		}
		if d := time.Until(start.Add(off)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ph.reg.Done():
				return nil
			}
		}
		if !ph.open() {
			return nil
		}
		if pool.try() {
			continue
		}
		e.drop(1)
		if remaining <= 0 {
			if !warned {
				e.env.Logger.Warn(fmt.Sprintf("insufficient VUs, reached %d active VUs and cannot initialize more; raise maxVUs", maxVUs), "scenario", e.cfg.Name)
				warned = true
			}
			continue
		}
		select {
		case want <- struct{}{}:
			remaining--
		default: // one is already being initialized
		}
	}
	<-ph.reg.Done()
	return nil
}

// ConstantArrivalOffset is when the i-th arrival (from 0) of a constant
// arrival rate of rate iterations per timeUnit is due: i·timeUnit/rate,
// computed exactly (rounded down to the nanosecond). rate must be positive.
func ConstantArrivalOffset(i, rate int64, timeUnit time.Duration) time.Duration {
	return time.Duration(mulDiv(uint64(i), uint64(timeUnit), uint64(rate)))
}

// ArrivalPlan is the schedule of a ramping arrival rate: the rate goes
// linearly from one stage's target to the next.
type ArrivalPlan struct {
	startRate int64
	timeUnit  time.Duration
	stages    []Stage
	// ends[j] is 2·timeUnit times the cumulative arrival count at the end
	// of stage j, exact.
	ends []*big.Int
}

// NewArrivalPlan prepares the schedule.
func NewArrivalPlan(startRate int64, timeUnit time.Duration, stages []Stage) *ArrivalPlan {
	p := &ArrivalPlan{startRate: startRate, timeUnit: timeUnit, stages: stages}
	sum := new(big.Int)
	from := startRate
	for _, s := range stages {
		// count of a stage = (from+to)/2 · duration/timeUnit
		c := new(big.Int).Mul(big.NewInt(from+s.Target), big.NewInt(int64(s.Duration)))
		sum = new(big.Int).Add(sum, c)
		p.ends = append(p.ends, sum)
		from = s.Target
	}
	return p
}

// Total is the number of arrivals of the whole plan (rounded down).
func (p *ArrivalPlan) Total() int64 {
	if len(p.ends) == 0 {
		return 0
	}
	q := new(big.Int).Quo(p.ends[len(p.ends)-1], big.NewInt(2*int64(p.timeUnit)))
	return q.Int64()
}

// At returns when the i-th arrival (from 1) is due, false when the plan ends
// before it. Arrival i falls in the first stage whose cumulative count
// reaches i; within a stage from rate f to g (per nanosecond) over D, the
// count by offset x is N(x) = f·x + (g−f)·x²/(2D), so the k-th arrival of the
// stage is at x = 2k / (f + √(f² + 2k(g−f)/D)), the numerically stable root
// of N(x) = k (it reduces to k/f for a constant rate). This matches k6's
// ramping-arrival-rate schedule.
func (p *ArrivalPlan) At(i int64) (time.Duration, bool) {
	if i < 1 {
		return 0, false
	}
	want := new(big.Int).Mul(big.NewInt(i), big.NewInt(2*int64(p.timeUnit)))
	from := p.startRate
	var stageStart time.Duration
	prev := new(big.Int)
	for j, s := range p.stages {
		if s.Duration > 0 && want.Cmp(p.ends[j]) <= 0 {
			// k = i − count before the stage
			kRat := new(big.Rat).SetFrac(new(big.Int).Sub(want, prev), big.NewInt(2*int64(p.timeUnit)))
			k, _ := kRat.Float64()
			f := float64(from) / float64(p.timeUnit)
			g := float64(s.Target) / float64(p.timeUnit)
			d := float64(s.Duration)
			disc := f*f + 2*k*(g-f)/d
			if disc < 0 {
				disc = 0
			}
			x := 2 * k / (f + math.Sqrt(disc))
			if x > d {
				x = d
			}
			return stageStart + time.Duration(math.Round(x)), true
		}
		prev = p.ends[j]
		stageStart += s.Duration
		from = s.Target
	}
	return 0, false
}
