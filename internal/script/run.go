package script

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/loadhttp"
	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/internal/output"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Options configure Run; the CLI fills them from flags.
type Options struct {
	// Script is the path of the main module.
	Script string
	// Source, when set, is the main module's text (k6 run -), and Script
	// only names it: imports and open() resolve from its directory.
	Source []byte
	// Env adds to __ENV (-e KEY=VALUE); with IncludeSystemEnv the
	// process environment is included first, as k6 does by default.
	Env              map[string]string
	IncludeSystemEnv bool
	// Overrides replace the script's vus/duration/iterations.
	Overrides Overrides
	// Segment and SegmentSequence override the options' execution segment.
	Segment, SegmentSequence string
	// Tags are added to every sample (--tag NAME=VALUE).
	Tags map[string]string
	// JSONOut, when set, receives k6's NDJSON stream (.gz compresses).
	JSONOut string
	// Outputs receive every sample too (k6's --out csv=..., Prometheus
	// remote write); Run starts and stops them.
	Outputs []Output
	// SummaryExport, when set, receives k6's JSON summary export.
	SummaryExport string
	// NoSummary disables the end-of-test summary and handleSummary.
	NoSummary bool
	// NoColor disables colors in the summary.
	NoColor bool
	// NoThresholds skips the thresholds (k6 --no-thresholds).
	NoThresholds bool
	// SummaryFull is --summary-mode=full: every metric in the summary.
	SummaryFull bool
	// LogOutput, when set, receives the log lines instead of Stderr (k6
	// --log-output); progress stays on Stderr.
	LogOutput io.Writer
	// Quiet leaves out the run header.
	Quiet bool
	// Stdout receives the summary; Stderr logs and progress.
	Stdout, Stderr io.Writer
	// Progress chooses the live progress display; ProgressInterval is the
	// period of plain progress lines (default 10s).
	Progress         ProgressMode
	ProgressInterval time.Duration
	// Collectors push their samples into the run's stream.
	Collectors []Collector
	// HubStatus, when set, gives the progress display a one-line status of
	// the target hub (e.g. from hub telemetry).
	HubStatus func() string
	// Kill, when closed, stops everything at once (a second Ctrl-C): running
	// iterations are interrupted, teardown and handleSummary are skipped,
	// the summary and outputs are still written.
	Kill <-chan struct{}
	// Debug prints debug logs.
	Debug bool
}

// Output is a sample output besides --out json (k6's other --out kinds).
type Output interface {
	samples.Sink
	// Description names the output in the run header, e.g. "csv (r.csv)".
	Description() string
	// Start is called before the test, once the metrics are declared,
	// with their lookup by name.
	Start(lookup func(name string) (samples.Metric, bool)) error
	// Stop sends what is left and releases the output, at the end.
	Stop() error
}

// Result is what a run measured.
type Result struct {
	ExitCode int
	Snapshot *metrics.Snapshot
	Options  *TestOptions
	// Duration is the test run time (setup to teardown).
	Duration time.Duration
}

// fanout forwards samples to every sink.
type fanout struct {
	sinks atomic.Pointer[[]samples.Sink]
}

func (f *fanout) AddSample(s samples.Sample) {
	if p := f.sinks.Load(); p != nil {
		for _, k := range *p {
			k.AddSample(s)
		}
	}
}

func (f *fanout) set(sinks ...samples.Sink) { f.sinks.Store(&sinks) }

// thresholdTick is how often thresholds are evaluated during the run.
const thresholdTick = 2 * time.Second

// Run compiles and runs a test script the way `k6 run` does. Cancelling ctx
// is the first Ctrl-C: no new iterations start, running ones get their
// scenario's gracefulStop, teardown runs and the summary is written. The
// returned error, if any, maps to an exit code with ExitCode; Result is
// non-nil whenever the test got to run.
//
// The steps, in order: prepare (compile, contexts), initFirstVU (the
// options and declared metrics), configure (options, thresholds, segment),
// openOutputs, newScheduler, initVUs, startBackground (collectors,
// thresholds, progress), setup, scenarios, teardown, and finish (summary,
// outputs, exit code).
func Run(ctx context.Context, o Options) (res *Result, err error) {
	res = &Result{}
	defer func() { res.ExitCode = ExitCode(err) }()
	r := &runner{ctx: ctx, o: o, res: res}
	if err := r.prepare(); err != nil {
		return res, err
	}
	defer r.killCancel(nil)
	defer r.hardCancel(nil)
	defer r.initCancel()
	defer context.AfterFunc(ctx, r.initCancel)()
	if err := r.initFirstVU(); err != nil {
		return res, err
	}
	if err := r.configure(); err != nil {
		return res, err
	}
	if err := r.openOutputs(); err != nil {
		return res, err
	}
	if r.jsonOut != nil {
		defer r.jsonOut.Close()
	}
	defer r.stopOutputs()
	if err := r.newScheduler(); err != nil {
		return res, err
	}
	if err := r.sched.Init(r.initCtx); err != nil {
		return res, r.initError(err)
	}
	start := time.Now()
	r.start = start
	r.sh.start.Store(&start)
	stopBackground := r.startBackground()
	defer stopBackground()

	setupOK := r.setup()
	if setupOK && ctx.Err() == nil {
		if err := r.sched.Run(r.hardCtx, ctx); err != nil {
			r.log.print("error", err.Error())
		}
	}
	if setupOK {
		r.teardown()
	}
	res.Duration = time.Since(start)
	stopBackground()
	return res, r.finish()
}

// runner holds the state of one Run between its steps.
type runner struct {
	ctx context.Context
	o   Options
	res *Result

	t    *term
	log  *logger
	prog *Program

	// Contexts: kill stops everything; hard also ends on test.abort() and
	// on a failing abortOnFail threshold; ctx (the caller's) stops
	// gracefully; init bounds the VUs' init contexts.
	killCtx    context.Context
	killCancel context.CancelCauseFunc
	hardCtx    context.Context
	hardCancel context.CancelCauseFunc
	initCtx    context.Context
	initCancel context.CancelFunc

	abortReason    atomic.Pointer[abortError]
	thresholdAbort atomic.Bool

	fan     *fanout
	reg     *metrics.Registry
	sh      *shared
	vu0     *vu
	topts   *TestOptions
	tuple   *executor.Tuple
	engine  *metrics.Engine
	jsonOut *output.JSON
	outputs []string
	started []Output
	sched   *executor.Scheduler
	start   time.Time

	phaseErr error
}

// prepare fills in defaults, compiles the script and makes the contexts.
func (r *runner) prepare() error {
	o := &r.o
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 10 * time.Second
	}
	tty := isTerminal(o.Stderr)
	if o.Progress == ProgressAuto {
		o.Progress = ProgressPlain
		if tty {
			o.Progress = ProgressTerminal
		}
	}
	r.t = &term{w: o.Stderr, tty: tty}
	logTerm := r.t
	if o.LogOutput != nil {
		logTerm = &term{w: o.LogOutput}
	}
	r.log = &logger{t: logTerm, start: time.Now(), debug: o.Debug}

	var prog *Program
	var err error
	if o.Source != nil {
		prog, err = CompileSource(o.Script, o.Source)
	} else {
		prog, err = Compile(o.Script)
	}
	if err != nil {
		return err
	}
	r.prog = prog
	r.killCtx, r.killCancel = context.WithCancelCause(context.Background())
	if o.Kill != nil {
		go func() {
			select {
			case <-o.Kill:
				r.killCancel(ErrInterrupted)
			case <-r.killCtx.Done():
			}
		}()
	}
	r.hardCtx, r.hardCancel = context.WithCancelCause(r.killCtx)
	r.initCtx, r.initCancel = context.WithCancel(r.hardCtx)
	return nil
}

// initFirstVU runs the script's init context once to read its options and
// declares the metrics of the modules it imports and of the collectors.
// The first instance later runs setup, teardown and handleSummary (as
// k6's __VU 0).
func (r *runner) initFirstVU() error {
	r.fan = &fanout{}
	r.reg = metrics.NewRegistry()
	// k6 declares its HTTP metrics whatever the script imports, so that
	// thresholds on them are always valid.
	for _, m := range loadhttp.Metrics() {
		if err := r.reg.Register(m); err != nil {
			return err
		}
	}
	r.sh = &shared{prog: r.prog, reg: r.reg, sink: r.fan, env: buildEnv(r.o), log: r.log}
	r.sh.abort = func(reason string) {
		ae := &abortError{reason: reason}
		r.abortReason.CompareAndSwap(nil, ae)
		r.log.print("error", ae.Error(), "source=script")
		r.hardCancel(ae)
	}
	vu0, err := newVU(r.initCtx, r.sh, 0)
	if err != nil {
		return r.initError(err)
	}
	r.vu0 = vu0
	for _, g := range r.prog.goModules() {
		if d, ok := g.m.(MetricsDeclarer); ok {
			for _, m := range d.Metrics() {
				if err := r.reg.Register(m); err != nil {
					return fmt.Errorf("%w: module %s: %w", ErrScript, g.path, err)
				}
			}
		}
	}
	for _, c := range r.o.Collectors {
		for _, m := range c.Metrics() {
			if err := r.reg.Register(m); err != nil {
				return fmt.Errorf("collector: %w", err)
			}
		}
	}
	return nil
}

// configure reads and checks the options, the execution segment and the
// thresholds, reporting every problem at once.
func (r *runner) configure() error {
	raw, order, optsJS, err := exportedOptions(r.vu0)
	if err != nil {
		return err
	}
	r.sh.optsJS = optsJS
	raw = withOverrides(raw, r.o.Overrides)
	r.sh.rawOpts.Store(&raw)
	topts, errs := ParseOptions(raw, order, r.o.Overrides)
	if r.o.NoThresholds {
		topts.Thresholds = nil
	}
	r.topts = topts
	cons := consolidatedJSON(raw, topts)
	r.sh.consolidated.Store(&cons)
	r.res.Options = topts
	errs = append(errs, validateExec(topts.Scenarios, r.vu0.exported)...)
	segS, seqS := topts.Segment, topts.SegmentSequence
	if r.o.Segment != "" {
		segS = r.o.Segment
	}
	if r.o.SegmentSequence != "" {
		seqS = r.o.SegmentSequence
	}
	tuple, terr := tupleOf(segS, seqS)
	if terr != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidOptions, terr))
	}
	engine, eerrs := metrics.NewEngine(r.reg, topts.Thresholds)
	for _, e := range eerrs {
		errs = append(errs, fmt.Errorf("%w: options.%w", ErrInvalidOptions, e))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.tuple, r.engine = tuple, engine
	r.sh.tuple.Store(tuple)
	for _, w := range topts.Warnings {
		r.log.print("warn", w)
	}
	var unknownOnce sync.Map
	engine.OnUnknownMetric = func(name string) {
		if _, dup := unknownOnce.LoadOrStore(name, true); !dup {
			r.log.print("warn", fmt.Sprintf("samples of metric %q are dropped: it was never declared; declare it with new Trend(%q) (or Counter, Gauge, Rate) in the init context", name, name))
		}
	}
	r.sh.tags = maps.Clone(topts.Tags)
	if r.sh.tags == nil {
		r.sh.tags = map[string]string{}
	}
	maps.Copy(r.sh.tags, r.o.Tags)
	r.vu0.tags = maps.Clone(r.sh.tags)
	return nil
}

// openOutputs opens --out and routes samples to the engine and outputs.
func (r *runner) openOutputs() error {
	sinks := []samples.Sink{r.engine}
	if r.o.JSONOut != "" {
		j, err := output.OpenJSON(r.o.JSONOut, describer(r.reg, r.topts.Thresholds))
		if err != nil {
			return err
		}
		r.jsonOut = j
		sinks = append(sinks, j)
		r.outputs = append(r.outputs, fmt.Sprintf("json (%s)", r.o.JSONOut))
	}
	for _, out := range r.o.Outputs {
		if err := out.Start(r.reg.Get); err != nil {
			return fmt.Errorf("%w: %s: %w", output.ErrOutput, out.Description(), err)
		}
		r.started = append(r.started, out)
		sinks = append(sinks, out)
		r.outputs = append(r.outputs, out.Description())
	}
	r.fan.set(sinks...)
	return nil
}

// stopOutputs stops the started outputs; their errors, like the JSON
// output's, fail the run after the summary.
func (r *runner) stopOutputs() error {
	var errs []error
	for _, out := range r.started {
		if err := out.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	r.started = nil
	return errors.Join(errs...)
}

// newScheduler makes the scenarios' scheduler and prints the run header.
func (r *runner) newScheduler() error {
	var nextID atomic.Uint64
	sched, err := executor.NewScheduler(r.topts.Scenarios, executor.SchedulerOptions{
		Tuple: r.tuple,
		NewVU: func(ctx context.Context) (executor.VU, error) {
			v, err := newVU(ctx, r.sh, nextID.Add(1))
			if err != nil {
				return nil, err
			}
			v.tags = maps.Clone(r.sh.tags)
			return v, nil
		},
		Sink:   r.fan,
		Tags:   r.sh.tags,
		Logger: slog.New(&slogHandler{l: r.log}),
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	r.sched = sched
	r.sh.state.Store(sched.State())
	if !r.o.Quiet {
		r.t.line(output.RenderHeader(headerInfo(r.o, r.prog, sched, r.outputs)))
	}
	return nil
}

// startBackground runs the collectors, the threshold evaluation and the
// progress display until the returned function is called.
func (r *runner) startBackground() (stop func()) {
	bgCtx, bgCancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	for _, c := range r.o.Collectors {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := c.Run(bgCtx, r.fan); err != nil && bgCtx.Err() == nil {
				r.log.print("warn", "collector stopped: "+err.Error())
			}
		}()
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		tick := time.NewTicker(thresholdTick)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if _, abort := r.engine.Thresholds(time.Since(r.start), true); abort && r.thresholdAbort.CompareAndSwap(false, true) {
					r.log.print("error", "a threshold with abortOnFail failed; stopping the test")
					r.hardCancel(ErrThresholdsFailed)
				}
			case <-bgCtx.Done():
				return
			}
		}
	}()
	stopping := func() bool { return r.ctx.Err() != nil || r.hardCtx.Err() != nil }
	bg.Add(1)
	go func() {
		defer bg.Done()
		progressLoop(bgCtx, r.t, r.o.Progress, r.o.ProgressInterval, func() output.ProgressState {
			st := r.sched.State()
			return output.ProgressState{
				Elapsed: time.Since(r.start), VUs: st.VUsActive(), MaxVUs: st.Pool.Initialized(),
				Completed: st.IterationsCompleted(), Interrupted: st.IterationsInterrupted(),
				Stopping: stopping(), Scenarios: r.sched.Progress(), Width: termWidth(),
				Hub: hubStatus(r.o.HubStatus),
			}
		})
	}()
	return sync.OnceFunc(func() { bgCancel(); bg.Wait() })
}

// setup runs setup() under setupTimeout and keeps its data as JSON; it
// reports whether the scenarios may run.
func (r *runner) setup() bool {
	if !r.vu0.exported("setup") {
		return true
	}
	vu0, err := r.phaseVU(r.hardCtx)
	if err != nil {
		r.phaseErr = err
		return false
	}
	vu0.group = "::setup"
	sctx, cancel := context.WithTimeout(r.hardCtx, r.topts.SetupTimeout)
	defer cancel()
	ret, err := vu0.call(sctx, "setup", "setup")
	vu0.emitData(time.Now(), vu0.Tags())
	vu0.group = ""
	if err != nil {
		r.phaseErr = phaseError(err, sctx, ErrSetupTimeout, r.topts.SetupTimeout, "setup")
		return false
	}
	s, err := stringify(vu0, ret)
	if err != nil {
		r.phaseErr = fmt.Errorf("%w: setup() returned data that can't be passed to the VUs as JSON: %w", ErrScript, err)
		return false
	}
	r.sh.setupMu.Lock()
	r.sh.setupJSON = s
	r.sh.setupMu.Unlock()
	return true
}

// phaseVU makes a fresh VU (__VU 0) for setup, teardown or handleSummary,
// as k6 does: its globals and tags start from the init context.
func (r *runner) phaseVU(ctx context.Context) (*vu, error) {
	v, err := newVU(ctx, r.sh, 0)
	if err != nil {
		return nil, r.initError(err)
	}
	v.tags = maps.Clone(r.sh.tags)
	return v, nil
}

// initError converts an error of a VU's init context; test.abort() there
// is the abort (exit 108), not an interruption.
func (r *runner) initError(err error) error {
	if ae := r.abortReason.Load(); ae != nil {
		return ae
	}
	return initError(err, r.ctx)
}

// teardown runs teardown(data) under teardownTimeout, unless killed.
func (r *runner) teardown() {
	if !r.vu0.exported("teardown") || r.killCtx.Err() != nil {
		return
	}
	vu0, err := r.phaseVU(r.killCtx)
	if err != nil {
		if r.phaseErr == nil {
			r.phaseErr = err
		}
		return
	}
	vu0.group = "::teardown"
	tctx, cancel := context.WithTimeout(r.killCtx, r.topts.TeardownTimeout)
	defer cancel()
	data, derr := vu0.setupValue()
	if derr == nil {
		_, derr = vu0.call(tctx, "teardown", "teardown", data)
	}
	vu0.emitData(time.Now(), vu0.Tags())
	vu0.group = ""
	if derr != nil && r.phaseErr == nil {
		r.phaseErr = phaseError(derr, tctx, ErrTeardownTimeout, r.topts.TeardownTimeout, "teardown")
	}
}

// finish writes the summaries and closes the outputs, and returns the
// run's error: the first of these that applies.
func (r *runner) finish() error {
	snap := r.engine.Snapshot(r.res.Duration, r.topts.SummaryTrendStats)
	r.res.Snapshot = snap
	sumOpts := output.SummaryOptions{TrendStats: r.topts.SummaryTrendStats, TimeUnit: r.topts.SummaryTimeUnit,
		Color: !r.o.NoColor && isTerminal(r.o.Stdout), Full: r.o.SummaryFull}
	// A Ctrl-C during handleSummary ends it (the first, unless one came
	// before: then the second).
	hsCtx := r.killCtx
	if r.ctx.Err() == nil {
		c, cancel := context.WithCancel(r.killCtx)
		defer cancel()
		defer context.AfterFunc(r.ctx, cancel)()
		hsCtx = c
	}
	summaryErr := r.writeSummaries(hsCtx, snap, sumOpts)
	var outErr error
	if r.jsonOut != nil {
		outErr = r.jsonOut.Close()
	}
	if err := r.stopOutputs(); err != nil && outErr == nil {
		outErr = err
	}
	err := r.outcome(snap, summaryErr, outErr)
	if outErr != nil && !errors.Is(err, outErr) {
		r.log.print("error", outErr.Error()) // another error sets the exit code; say this one too
	}
	return err
}

// outcome is the run's error, the first of these that applies. Results that
// could not be written completely (--out on a full disk) fail the run, after
// the summary.
func (r *runner) outcome(snap *metrics.Snapshot, summaryErr, outErr error) error {
	phaseErr := r.phaseErr
	switch {
	case phaseErr != nil && !errors.Is(phaseErr, ErrAborted):
		if se := new(ScriptError); errors.As(phaseErr, &se) {
			r.log.print("error", phaseErr.Error(), "source=stacktrace")
			return errSilent{phaseErr}
		}
		return phaseErr
	case r.abortReason.Load() != nil:
		return r.abortReason.Load()
	case r.killCtx.Err() != nil || r.ctx.Err() != nil:
		return fmt.Errorf("%w by the user (Ctrl-C)", ErrInterrupted)
	case summaryErr != nil:
		return summaryErr
	case outErr != nil:
		return outErr
	case snap.ThresholdsFailed > 0 || r.thresholdAbort.Load():
		return fmt.Errorf("%w on metrics %s", ErrThresholdsFailed, failedMetrics(snap))
	case r.sh.failed.Load() != nil:
		if reason := *r.sh.failed.Load(); reason != "" {
			return fmt.Errorf("%w: %s", ErrMarkedAsFailed, reason)
		}
		return ErrMarkedAsFailed
	}
	return nil
}

// errSilent is an error already logged with its details; Error keeps the
// first line only.
type errSilent struct{ err error }

func (e errSilent) Error() string {
	first, _, _ := strings.Cut(e.err.Error(), "\n")
	return first
}
func (e errSilent) Unwrap() error { return e.err }

func initError(err error, ctx context.Context) error {
	var ae *abortError
	switch {
	case errors.As(err, &ae):
		return ae
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, errInterruptedIteration):
		return fmt.Errorf("%w during initialization", ErrInterrupted)
	}
	var se *ScriptError
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrScript, err)
}

func phaseError(err error, ctx context.Context, timeout error, limit time.Duration, phase string) error {
	var ae *abortError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %s() took longer than %s; raise options.%sTimeout", timeout, phase, executor.FormatDuration(limit), phase)
	case errors.Is(err, context.Canceled) || errors.Is(err, errInterruptedIteration):
		return fmt.Errorf("%w during %s()", ErrInterrupted, phase)
	}
	return err
}

func failedMetrics(snap *metrics.Snapshot) string {
	var names []string
	for _, m := range snap.Metrics {
		for _, t := range m.Thresholds {
			if !t.OK {
				names = append(names, "'"+m.Name+"'")
				break
			}
		}
	}
	return strings.Join(names, ", ")
}

func buildEnv(o Options) map[string]string {
	env := map[string]string{}
	if o.IncludeSystemEnv {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	maps.Copy(env, o.Env)
	return env
}

func tupleOf(seg, seq string) (*executor.Tuple, error) {
	s, err := executor.ParseSegment(seg)
	if err != nil {
		return nil, err
	}
	q, err := executor.ParseSequence(seq)
	if err != nil {
		return nil, err
	}
	return executor.NewTuple(s, q)
}

// exportedOptions reads `export const options` as JSON, with the key order
// of options.scenarios.
func exportedOptions(v *vu) (map[string]any, []string, string, error) {
	val, ok := v.exports["options"]
	if !ok || val == nil || sobek.IsUndefined(val) || sobek.IsNull(val) {
		return map[string]any{}, nil, "", nil
	}
	js, err := stringify(v, val)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: options can't be turned into JSON: %w", ErrInvalidOptions, err)
	}
	raw := map[string]any{}
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		return nil, nil, "", fmt.Errorf("%w: options must be an object: %w", ErrInvalidOptions, err)
	}
	var order []string
	if sc := val.ToObject(v.rt).Get("scenarios"); sc != nil && !sobek.IsUndefined(sc) && !sobek.IsNull(sc) {
		if o, ok := sc.(*sobek.Object); ok {
			order = o.Keys()
		}
	}
	return raw, order, js, nil
}

// stringify is JSON.stringify in v's runtime ("" for undefined).
func stringify(v *vu, val sobek.Value) (string, error) {
	if val == nil || sobek.IsUndefined(val) {
		return "", nil
	}
	fn, _ := sobek.AssertFunction(v.rt.Get("JSON").ToObject(v.rt).Get("stringify"))
	var out sobek.Value
	err := v.catch(func() {
		r, err := fn(sobek.Undefined(), val)
		if err != nil {
			panic(err)
		}
		out = r
	})
	if err != nil {
		return "", err
	}
	if out == nil || sobek.IsUndefined(out) {
		return "", nil
	}
	return out.String(), nil
}

// describer tells the JSON output each metric's kind, thresholds and
// submetrics.
func describer(reg *metrics.Registry, sets []*metrics.ThresholdSet) func(string) (output.MetricMeta, bool) {
	return func(name string) (output.MetricMeta, bool) {
		m, ok := reg.Get(name)
		if !ok {
			return output.MetricMeta{}, false
		}
		meta := output.MetricMeta{Metric: m}
		for _, s := range sets {
			if s.Key.Name != name {
				continue
			}
			if s.Key.Tags == nil {
				for _, t := range s.Thresholds {
					meta.Thresholds = append(meta.Thresholds, t.Source)
				}
				continue
			}
			_, suffix, _ := strings.Cut(s.Key.Raw, "{")
			meta.Submetrics = append(meta.Submetrics, output.Submetric{Name: s.Key.Raw, Suffix: strings.TrimSuffix(suffix, "}"), Tags: s.Key.Tags})
		}
		return meta, true
	}
}

func headerInfo(o Options, prog *Program, s *executor.Scheduler, outputs []string) output.HeaderInfo {
	script := o.Script
	if rel, err := filepath.Rel(".", prog.Path); err == nil && !strings.HasPrefix(rel, "..") {
		script = rel
	}
	seg := s.Tuple().Segment()
	pct, _ := seg.Length().Float64()
	h := output.HeaderInfo{Script: script, Outputs: outputs, Segment: seg.String(), Percent: pct * 100,
		MaxVUs: s.MaxVUs(), MaxDuration: s.MaxDuration()}
	for _, c := range s.Configs() {
		h.Scenarios = append(h.Scenarios, output.ScenarioLine{Name: c.Base().Name, Description: c.Description(s.Tuple())})
	}
	return h
}

func termWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return n
	}
	return 80
}

// writeSummaries calls handleSummary in a fresh VU (unless killed; the
// default summary when it returns nothing, fails or times out) or prints
// the default summary, and writes --summary-export.
func (r *runner) writeSummaries(ctx context.Context, snap *metrics.Snapshot, opts output.SummaryOptions) error {
	o, t, log := r.o, r.t, r.log
	var errOut error
	if o.SummaryExport != "" {
		var b bytes.Buffer
		if err := output.SummaryExport(&b, snap, opts); err != nil {
			errOut = err
		} else if err := writeFile(o.SummaryExport, b.Bytes()); err != nil {
			errOut = fmt.Errorf("%w: --summary-export: %w", output.ErrOutput, err)
			log.print("error", errOut.Error())
		}
	}
	if o.NoSummary {
		return errOut
	}
	if r.vu0.exported("handleSummary") && ctx.Err() == nil {
		data := output.SummaryData(snap, opts, output.RunState{
			IsStdOutTTY: isTerminal(o.Stdout), IsStdErrTTY: isTerminal(o.Stderr), NoColor: o.NoColor,
			SetupData: r.sh.setupData(),
		})
		files, err := r.callHandleSummary(ctx, data)
		if err == nil && files != nil {
			for _, name := range sortedKeys(files) {
				var werr error
				switch name {
				case "stdout":
					_, werr = o.Stdout.Write(files[name])
				case "stderr":
					t.mu.Lock()
					_, werr = o.Stderr.Write(files[name])
					t.mu.Unlock()
				default:
					werr = writeFile(name, files[name])
				}
				if werr != nil {
					log.print("error", fmt.Sprintf("handleSummary: writing %s: %v", name, werr))
					errOut = fmt.Errorf("%w: handleSummary output %s: %w", output.ErrOutput, name, werr)
				}
			}
			return errOut
		}
		if err != nil {
			log.print("error", "handleSummary() failed: "+err.Error(), "source=stacktrace")
			errOut = errSilent{err}
		}
	}
	_, werr := io.WriteString(o.Stdout, output.TextSummary(snap, opts))
	if werr != nil && errOut == nil {
		errOut = fmt.Errorf("%w: summary: %w", output.ErrOutput, werr)
	}
	return errOut
}

func writeFile(name string, b []byte) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(name, b, 0o644)
}

// callHandleSummary runs handleSummary(data) in a fresh VU under
// handleSummaryTimeout and returns its outputs: file name (or
// "stdout"/"stderr") to content; nil when it returned nothing.
func (r *runner) callHandleSummary(parent context.Context, data map[string]any) (map[string][]byte, error) {
	limit := r.topts.HandleSummaryTimeout
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	v, err := r.phaseVU(ctx)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	parse, _ := sobek.AssertFunction(v.rt.Get("JSON").ToObject(v.rt).Get("parse"))
	arg, err := parse(sobek.Undefined(), v.rt.ToValue(string(b)))
	if err != nil {
		return nil, err
	}
	ret, err := v.call(ctx, "handleSummary", "handleSummary", arg)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, fmt.Errorf("handleSummary() took longer than %s; raise options.handleSummaryTimeout", executor.FormatDuration(limit))
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w during handleSummary()", ErrInterrupted)
		}
		return nil, err
	}
	if ret == nil || sobek.IsUndefined(ret) || sobek.IsNull(ret) {
		return nil, nil
	}
	obj, ok := ret.(*sobek.Object)
	if !ok {
		return nil, fmt.Errorf("%w: handleSummary() must return an object of file name to content", ErrScript)
	}
	out := map[string][]byte{}
	for _, k := range obj.Keys() {
		val := obj.Get(k)
		switch x := val.Export().(type) {
		case string:
			out[k] = []byte(x)
		case sobek.ArrayBuffer:
			out[k] = x.Bytes()
		case []byte:
			out[k] = x
		default:
			s, err := stringify(v, val)
			if err != nil {
				return nil, err
			}
			out[k] = []byte(s)
		}
	}
	return out, nil
}

func hubStatus(f func() string) string {
	if f == nil {
		return ""
	}
	return f()
}
