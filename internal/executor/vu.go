package executor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// VU is an initialized virtual user.
type VU interface {
	// ID is the VU's number in this instance, from 1.
	ID() uint64
	// Activate prepares the VU to run a scenario's iterations.
	Activate(p *ActivationParams) ActiveVU
}

// ActiveVU runs iterations for one scenario.
type ActiveVU interface {
	// RunOnce runs one iteration of the scenario's exec function. It returns
	// when the iteration ends, or soon after the activation context is done.
	RunOnce() error
}

// ActivationParams tell a VU what to run.
type ActivationParams struct {
	// Context interrupts the running iteration when done.
	Context  context.Context
	Scenario *ScenarioInfo
	Exec     string
	Env      map[string]string
	Tags     map[string]string
	// NextIteration returns the iteration's number in this instance's part
	// of the scenario and in the whole test (see Tuple).
	NextIteration func() (inInstance, inTest int64)
}

// ScenarioInfo describes the running scenario to scripts (k6/execution).
type ScenarioInfo struct {
	Name      string
	Executor  string
	StartTime time.Time
	// Progress returns the scenario's completion fraction.
	Progress func() float64
}

// ErrNoVU is returned when no VU can be obtained.
var ErrNoVU = errors.New("no VU available")

// Pool holds initialized VUs not currently used by a scenario.
type Pool struct {
	mu          sync.Mutex
	free        []VU
	newVU       func(ctx context.Context) (VU, error)
	initialized atomic.Int64
}

// NewPool returns a pool that initializes VUs with newVU.
func NewPool(newVU func(ctx context.Context) (VU, error)) *Pool {
	return &Pool{newVU: newVU}
}

// Init initializes n VUs, up to parallel at a time, stopping at the first
// error.
func (p *Pool) Init(ctx context.Context, n int64, parallel int) error {
	if parallel < 1 {
		parallel = 1
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			vu, err := p.New(ctx)
			if err != nil {
				cancel(err)
				return
			}
			p.Put(vu)
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// New initializes a new VU (an "unplanned" VU in k6's words).
func (p *Pool) New(ctx context.Context) (VU, error) {
	vu, err := p.newVU(ctx)
	if err != nil {
		return nil, err
	}
	p.initialized.Add(1)
	return vu, nil
}

// Get takes a free VU, initializing one if none is free.
func (p *Pool) Get(ctx context.Context) (VU, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		vu := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return vu, nil
	}
	p.mu.Unlock()
	return p.New(ctx)
}

// Put returns a VU to the pool.
func (p *Pool) Put(vu VU) {
	p.mu.Lock()
	p.free = append(p.free, vu)
	p.mu.Unlock()
}

// Initialized is the number of VUs initialized so far (vus_max).
func (p *Pool) Initialized() int64 { return p.initialized.Load() }

// State holds instance-wide counters, read by k6/execution and the
// progress display.
type State struct {
	Pool        *Pool
	start       atomic.Pointer[time.Time]
	active      atomic.Int64
	completed   atomic.Int64
	interrupted atomic.Int64
}

// VUsActive is the number of VUs running iterations (instance.vusActive).
func (s *State) VUsActive() int64 { return s.active.Load() }

// IterationsCompleted counts full iterations in this instance.
func (s *State) IterationsCompleted() int64 { return s.completed.Load() }

// IterationsInterrupted counts interrupted iterations in this instance.
func (s *State) IterationsInterrupted() int64 { return s.interrupted.Load() }

// Elapsed is the time since the scheduler started (0 before).
func (s *State) Elapsed() time.Duration {
	if t := s.start.Load(); t != nil {
		return time.Since(*t)
	}
	return 0
}

// StartTime is when the scheduler started (zero before).
func (s *State) StartTime() time.Time {
	if t := s.start.Load(); t != nil {
		return *t
	}
	return time.Time{}
}
