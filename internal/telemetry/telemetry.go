// Package telemetry follows a JupyterHub during a load test and turns what
// it sees into samples on the run's stream, so that a report can put the
// attendees' latencies and the hub's memory on one time axis.
//
// A [Collector] reads three sources, each on its own interval and goroutine
// so that a slow one never holds up another:
//
//   - GET /hub/metrics (every MetricsInterval, default 5 s): the hub process's
//     RSS and CPU, running servers, users, active users, the request rate and
//     p95 duration and the event-loop interval over the last interval (from
//     the histograms' increments), the start-up and init_spawners durations;
//     and hub_up, 1 while the hub answers, 0 when it does not.
//   - the REST user listing (every ShapeInterval, default 30 s): the database
//     shape U, S, R, J that drives the restart cost, and the largest user's
//     share of J. The listing (include_stopped_servers) makes the hub build a
//     User object, and a default spawner row, for every user: it perturbs a
//     hub a little, which is why it runs less often.
//   - /proc/PID of a local hub (every ProcInterval, default MetricsInterval):
//     RSS, its peak VmHWM and CPU, also while the hub is starting and does
//     not serve /hub/metrics yet.
//
// The collector never fails a run: a failed scrape is a hub_scrape_errors
// sample tagged with its source and kind, logged once per kind with what to
// do (a 403 names the missing scope read:metrics). Samples use the metric
// names the report reads (the Metric… constants, which also say which
// source writes hub_rss_bytes and hub_cpu_seconds); every value is finite.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Defaults of Config.
const (
	DefaultMetricsInterval = 5 * time.Second
	DefaultShapeInterval   = 30 * time.Second
	// DefaultScrapeTimeout bounds one /hub/metrics scrape, retries included.
	DefaultScrapeTimeout = 10 * time.Second
	// shapeTimeout bounds one listing of every user (paginated).
	shapeTimeout = 2 * time.Minute
)

// Sentinel errors.
var (
	// ErrConfig: the configuration is invalid (New lists every problem).
	ErrConfig = errors.New("telemetry: invalid configuration")
	// ErrRunning: Run was called while the collector already runs.
	ErrRunning = errors.New("telemetry: collector already running")
)

// Config configures a Collector.
type Config struct {
	// Client reads /hub/metrics and lists users. Its token needs read:metrics
	// (unless the hub sets authenticate_prometheus = False), list:users and
	// read:servers. Its own request samples (jupyterhub_api_duration with
	// phase metrics and list_users) go to its Sink: give the collector a
	// client whose Sink is samples.Discard if the run's latency figures
	// should hold only the attendees' requests. Nil: /proc only.
	Client *hubapi.Client
	// MetricsInterval is the /hub/metrics period (default 5 s; negative: off).
	MetricsInterval time.Duration
	// ShapeInterval is the DB shape period (default 30 s; negative: off).
	ShapeInterval time.Duration
	// ProcInterval is the /proc period (default MetricsInterval, or 5 s).
	ProcInterval time.Duration
	// ScrapeTimeout bounds one /hub/metrics scrape with its retries (default
	// 10 s). A hub that does not answer in time counts as down.
	ScrapeTimeout time.Duration
	// LocalPID returns the PID of the local hub process, 0 when unknown (e.g.
	// while it restarts). It is called before every /proc reading, since a
	// restart changes it. Nil: the hub is not local. When set, /proc is the
	// source of hub_rss_bytes and hub_cpu_seconds (see MetricRSS).
	LocalPID func() int
	// Sink receives the samples; it must be safe for concurrent use. Nil
	// discards.
	Sink samples.Sink
	// Tags are added to every sample.
	Tags map[string]string
	// Now is the clock of the sample times (default time.Now).
	Now func() time.Time
	// Logger receives one message per kind of failure and the hub's up/down
	// transitions. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() []error {
	var errs []error
	if c.Client == nil && c.LocalPID == nil {
		errs = append(errs, fmt.Errorf("%w: neither Client nor LocalPID is set: nothing to collect", ErrConfig))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ScrapeTimeout", c.ScrapeTimeout}, {"ProcInterval", c.ProcInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s is negative (%s)", ErrConfig, d.name, d.v))
		}
	}
	if c.Client != nil && c.MetricsInterval < 0 && c.ShapeInterval < 0 && c.LocalPID == nil {
		errs = append(errs, fmt.Errorf("%w: MetricsInterval and ShapeInterval are both off and there is no LocalPID", ErrConfig))
	}
	return errs
}

// Status is the latest of what the collector saw, for a live display.
type Status struct {
	// Answered is true once a /hub/metrics scrape has finished; Up says
	// whether the hub answered the last one, since Changed.
	Answered, Up bool
	Changed      time.Time
	// RSSBytes is the last hub_rss_bytes (NaN before the first), at RSSTime.
	RSSBytes float64
	RSSTime  time.Time
	// RunningServers is the last hub_running_servers (NaN before the first).
	RunningServers float64
	// Shape is the last DB shape, read at ShapeTime (zero time: none yet).
	Shape     shape.Shape
	ShapeTime time.Time
}

// Collector scrapes a hub and emits samples. Create it with New.
type Collector struct {
	cfg     Config
	running atomic.Bool

	mu     sync.Mutex
	logged map[string]bool
	status Status

	// state owned by the metrics loop
	prevMetrics *metricsReading
	upState     int // -1 unknown, 0 down, 1 up
	// state owned by the proc loop
	prevProc *procReading
}

// New validates cfg, fills in the defaults and returns a collector.
func New(cfg Config) (*Collector, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.MetricsInterval == 0 {
		cfg.MetricsInterval = DefaultMetricsInterval
	}
	if cfg.ShapeInterval == 0 {
		cfg.ShapeInterval = DefaultShapeInterval
	}
	if cfg.ProcInterval == 0 {
		cfg.ProcInterval = cfg.MetricsInterval
		if cfg.ProcInterval < 0 {
			cfg.ProcInterval = DefaultMetricsInterval
		}
	}
	if cfg.ScrapeTimeout == 0 {
		cfg.ScrapeTimeout = DefaultScrapeTimeout
	}
	if cfg.Sink == nil {
		cfg.Sink = samples.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tags := make(map[string]string, len(cfg.Tags))
	for k, v := range cfg.Tags {
		tags[k] = v
	}
	cfg.Tags = tags
	return &Collector{
		cfg:     cfg,
		logged:  map[string]bool{},
		upState: -1,
		status:  Status{RSSBytes: nan, RunningServers: nan},
	}, nil
}

// Metrics describes every metric the collector emits (see the package
// function Metrics).
func (c *Collector) Metrics() []samples.Metric { return Metrics() }

// Status returns the latest of what the collector saw.
func (c *Collector) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Shape.Users = append([]shape.User(nil), s.Shape.Users...)
	return s
}

// Run collects until ctx is done, then returns nil. Each source is read
// once at the start and then on its interval; a tick that comes while the
// previous read still runs is skipped. Scrape failures never end Run (see
// the package doc); it fails only with ErrRunning when already running.
func (c *Collector) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, step func(context.Context)) {
		if every <= 0 {
			return
		}
		wg.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				c.safely(ctx, name, step)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	if c.cfg.Client != nil {
		loop(SourceMetrics, c.cfg.MetricsInterval, c.scrapeMetrics)
		loop(SourceAPI, c.cfg.ShapeInterval, c.scrapeShape)
	}
	if c.cfg.LocalPID != nil {
		loop(SourceProc, c.cfg.ProcInterval, c.readProc)
	}
	wg.Wait()
	return nil
}

// safely runs one step; a panic is logged and counted instead of taking the
// whole run down with it.
func (c *Collector) safely(ctx context.Context, source string, step func(context.Context)) {
	if ctx.Err() != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.errorSample(source, "panic")
			c.cfg.Logger.Error("hub telemetry: internal error; this source goes on",
				"source", source, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	step(ctx)
}

func (c *Collector) emit(ss []samples.Sample) {
	for _, s := range ss {
		c.cfg.Sink.AddSample(s)
	}
}

func (c *Collector) errorSample(source, kind string) {
	b := &builder{t: c.cfg.Now(), tags: c.cfg.Tags}
	b.add(MetricScrapeErrors, 1, TagSource, source, "kind", kind)
	c.emit(b.out)
}

// scrapeMetrics reads /hub/metrics once.
func (c *Collector) scrapeMetrics(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, c.cfg.ScrapeTimeout)
	defer cancel()
	m, err := c.cfg.Client.Metrics(sctx)
	if ctx.Err() != nil {
		return // the run is ending: no verdict on the hub
	}
	now := c.cfg.Now()
	if err != nil {
		kind, down := classify(err)
		c.errorSample(SourceMetrics, kind)
		c.setUp(!down, now, err)
		if !down || kind == "timeout" {
			c.logOnce(SourceMetrics, kind, err)
		}
		return
	}
	c.setUp(true, now, nil)
	cur := newMetricsReading(now, m)
	c.emit(metricsSamples(c.prevMetrics, cur, c.cfg.Tags, c.cfg.LocalPID != nil))
	c.prevMetrics = &cur
	c.mu.Lock()
	if c.cfg.LocalPID == nil && finite(m.RSSBytes) {
		c.status.RSSBytes, c.status.RSSTime = m.RSSBytes, now
	}
	if finite(m.RunningServers) {
		c.status.RunningServers = m.RunningServers
	}
	c.mu.Unlock()
}

// setUp emits hub_up and logs transitions.
func (c *Collector) setUp(up bool, now time.Time, err error) {
	v := 0
	if up {
		v = 1
	}
	b := &builder{t: now, tags: c.cfg.Tags}
	b.add(MetricUp, float64(v))
	c.emit(b.out)
	prev := c.upState
	c.upState = v
	c.mu.Lock()
	c.status.Answered, c.status.Up = true, up
	if prev != v {
		c.status.Changed = now
	}
	c.mu.Unlock()
	switch {
	case prev == v:
	case !up:
		c.cfg.Logger.Warn("hub telemetry: the hub does not answer; hub_up=0 until it does",
			"url", c.cfg.Client.BaseURL(), "error", err.Error())
	case prev == 0:
		c.cfg.Logger.Info("hub telemetry: the hub answers again; hub_up=1", "url", c.cfg.Client.BaseURL())
	}
}

// scrapeShape lists every user once and emits the DB shape.
func (c *Collector) scrapeShape(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, max(shapeTimeout, c.cfg.ScrapeTimeout))
	defer cancel()
	s, err := c.cfg.Client.Shape(sctx)
	if ctx.Err() != nil {
		return
	}
	now := c.cfg.Now()
	if err != nil {
		kind, down := classify(err)
		c.errorSample(SourceAPI, kind)
		if !down { // the metrics source reports the hub's outages
			c.logOnce(SourceAPI, kind, err)
		}
		return
	}
	c.emit(shapeSamples(now, s, c.cfg.Tags))
	c.mu.Lock()
	c.status.Shape, c.status.ShapeTime = s, now
	c.mu.Unlock()
}

// readProc reads /proc/PID of the local hub once.
func (c *Collector) readProc(context.Context) {
	pid := c.cfg.LocalPID()
	if pid <= 0 {
		return // not known now (e.g. restarting): nothing to read
	}
	st, err := proc.ReadStat(pid)
	var mem proc.Mem
	if err == nil {
		if st.State == 'Z' {
			err = fmt.Errorf("process %d has exited (zombie): %w", pid, proc.ErrNoProcess)
		} else {
			mem, err = proc.ReadMem(pid)
		}
	}
	now := c.cfg.Now()
	if err != nil {
		kind := "read"
		if errors.Is(err, proc.ErrNoProcess) {
			kind = "gone"
		}
		c.errorSample(SourceProc, kind)
		c.logOnce(SourceProc, kind, err)
		return
	}
	cur := procReading{t: now, pid: pid, start: st.StartTime, mem: mem, cpu: st.CPU()}
	c.emit(procSamples(c.prevProc, cur, c.cfg.Tags))
	c.prevProc = &cur
	c.mu.Lock()
	c.status.RSSBytes, c.status.RSSTime = float64(mem.RSS), now
	c.mu.Unlock()
}

// logOnce logs the first failure of each source and kind, with a hint.
func (c *Collector) logOnce(source, kind string, err error) {
	key := source + "/" + kind
	c.mu.Lock()
	seen := c.logged[key]
	c.logged[key] = true
	c.mu.Unlock()
	if seen {
		return
	}
	c.cfg.Logger.Warn(failureMessage(source, kind, err), "source", source, "kind", kind, "error", err.Error())
}

// ProgressLine renders st for a live progress display: up or down, the
// last RSS, running servers and the DB shape when known. Pure.
func ProgressLine(st Status) string {
	if !st.Answered && math.IsNaN(st.RSSBytes) {
		return "waiting for the first reading"
	}
	var parts []string
	if st.Answered {
		if st.Up {
			parts = append(parts, "up")
		} else {
			parts = append(parts, "DOWN")
		}
	}
	if !math.IsNaN(st.RSSBytes) {
		parts = append(parts, "RSS "+bytesize.Format(int64(st.RSSBytes)))
	}
	if !math.IsNaN(st.RunningServers) {
		parts = append(parts, fmt.Sprintf("%d servers running", int64(st.RunningServers)))
	}
	if !st.ShapeTime.IsZero() {
		parts = append(parts, fmt.Sprintf("S=%d R=%d J=%d", st.Shape.S, st.Shape.R, st.Shape.J))
	}
	return strings.Join(parts, ", ")
}
