package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Scheduler runs a test's scenarios: it initializes the VUs they need,
// starts each at its startTime, and emits the vus and vus_max metrics.
type Scheduler struct {
	configs []Config
	execs   []Executor
	env     Env
	state   *State
	planned int64
	maxVUs  int64
	maxDur  time.Duration

	stopCtx    context.Context
	stopCancel context.CancelFunc
	// VUTick is how often vus and vus_max are emitted (default 1s).
	VUTick time.Duration
	// InitParallelism bounds concurrent VU initializations (default
	// GOMAXPROCS).
	InitParallelism int
}

// SchedulerOptions configure NewScheduler.
type SchedulerOptions struct {
	Tuple  *Tuple // nil: the whole test
	NewVU  func(ctx context.Context) (VU, error)
	Sink   samples.Sink
	Tags   map[string]string // run tags for executor samples
	Logger *slog.Logger
}

// NewScheduler prepares the scenarios that have work in the segment.
func NewScheduler(configs []Config, opts SchedulerOptions) (*Scheduler, error) {
	if opts.Tuple == nil {
		t, err := NewTuple(nil, nil)
		if err != nil {
			return nil, err
		}
		opts.Tuple = t
	}
	if opts.Sink == nil {
		opts.Sink = samples.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pool := NewPool(opts.NewVU)
	state := &State{Pool: pool}
	stopCtx, stopCancel := context.WithCancel(context.Background())
	s := &Scheduler{
		state:  state,
		VUTick: time.Second,
		env: Env{Tuple: opts.Tuple, Pool: pool, State: state, Sink: opts.Sink, Tags: opts.Tags,
			Logger: opts.Logger, Stop: stopCtx},
		InitParallelism: runtime.GOMAXPROCS(0),
		stopCtx:         stopCtx,
		stopCancel:      stopCancel,
	}
	for _, c := range configs {
		if !c.HasWork(opts.Tuple) {
			opts.Logger.Debug("scenario has no work in this execution segment", "scenario", c.Base().Name)
			continue
		}
		s.configs = append(s.configs, c)
	}
	sort.SliceStable(s.configs, func(i, j int) bool {
		return s.configs[i].Base().StartTime < s.configs[j].Base().StartTime
	})
	s.planned, s.maxVUs, s.maxDur = requirements(s.configs, opts.Tuple)
	s.execs = make([]Executor, len(s.configs))
	for i, c := range s.configs {
		env := s.env
		s.execs[i] = c.NewExecutor(&env)
	}
	return s, nil
}

// requirements sweeps the scenarios' [startTime, startTime+duration)
// windows: planned is the peak of overlapping planned VUs, maxVUs the peak
// including unplanned ones, maxDur the end of the last window.
func requirements(configs []Config, et *Tuple) (planned, maxVUs int64, maxDur time.Duration) {
	type event struct {
		at        time.Duration
		dPlan, dU int64
	}
	var evs []event
	for _, c := range configs {
		r := c.Requirements(et)
		st := c.Base().StartTime
		evs = append(evs, event{st, r.PlannedVUs, r.MaxUnplannedVUs}, event{st + r.Duration, -r.PlannedVUs, -r.MaxUnplannedVUs})
		maxDur = max(maxDur, st+r.Duration)
	}
	// Ends before starts at the same instant: windows are half-open.
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].dPlan < evs[j].dPlan
	})
	var p, u int64
	for _, e := range evs {
		p += e.dPlan
		u += e.dU
		planned = max(planned, p)
		maxVUs = max(maxVUs, p+u)
	}
	return planned, maxVUs, maxDur
}

// Configs returns the scenarios that run in this segment, by startTime.
func (s *Scheduler) Configs() []Config { return s.configs }

// Tuple returns the execution segment tuple.
func (s *Scheduler) Tuple() *Tuple { return s.env.Tuple }

// PlannedVUs is the number of VUs initialized before the test starts.
func (s *Scheduler) PlannedVUs() int64 { return s.planned }

// MaxVUs is the most VUs the test may use.
func (s *Scheduler) MaxVUs() int64 { return s.maxVUs }

// MaxDuration is the longest the test may take, graceful stops included.
func (s *Scheduler) MaxDuration() time.Duration { return s.maxDur }

// State returns the instance-wide counters.
func (s *Scheduler) State() *State { return s.state }

// Init initializes the planned VUs.
func (s *Scheduler) Init(ctx context.Context) error {
	if err := s.env.Pool.Init(ctx, s.planned, s.InitParallelism); err != nil {
		return err
	}
	s.emitVUs(time.Now())
	return nil
}

// Run runs every scenario and returns when all are done. Cancelling ctx
// interrupts everything at once; stop being done stops gracefully: no new
// iterations or scenarios start, and running iterations get each scenario's
// gracefulStop to finish.
func (s *Scheduler) Run(ctx, stop context.Context) error {
	if stop != nil {
		defer context.AfterFunc(stop, s.stopCancel)()
	}
	defer s.stopCancel()
	stop = s.stopCtx
	now := time.Now()
	s.state.start.Store(&now)

	tickDone := make(chan struct{})
	tickCtx, tickCancel := context.WithCancel(context.Background())
	go func() {
		defer close(tickDone)
		t := time.NewTicker(s.VUTick)
		defer t.Stop()
		for {
			select {
			case at := <-t.C:
				s.emitVUs(at)
			case <-tickCtx.Done():
				return
			}
		}
	}()
	defer func() {
		tickCancel()
		<-tickDone
		s.emitVUs(time.Now())
	}()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, c := range s.configs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !waitUntil(ctx, stop, now.Add(c.Base().StartTime)) {
				return
			}
			if err := s.execs[i].Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("scenario %s: %w", c.Base().Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Scheduler) emitVUs(at time.Time) {
	tags := maps.Clone(s.env.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	s.env.Sink.AddSample(samples.Sample{Metric: "vus", Time: at, Value: float64(s.state.VUsActive()), Tags: tags})
	s.env.Sink.AddSample(samples.Sample{Metric: "vus_max", Time: at, Value: float64(s.env.Pool.Initialized()), Tags: maps.Clone(tags)})
}

// Progress reports every scenario (waiting ones too), in startTime order.
func (s *Scheduler) Progress() []Progress {
	out := make([]Progress, 0, len(s.configs))
	for _, e := range s.execs {
		out = append(out, e.Progress())
	}
	return out
}
