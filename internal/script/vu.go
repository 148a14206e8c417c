package script

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// shared is what the VUs of one run share.
type shared struct {
	prog   *Program
	reg    *metrics.Registry
	sink   samples.Sink
	env    map[string]string // base __ENV
	tags   map[string]string // options.tags
	log    *logger
	abort  func(reason string)
	failed atomic.Pointer[string] // test.fail()'s reason
	state  atomic.Pointer[executor.State]
	start  atomic.Pointer[time.Time]
	optsJS string // the script's options as JSON, for exec.test.options
	// rawOpts are the options with the overrides' applied, decoded.
	rawOpts atomic.Pointer[map[string]any]
	// consolidated is exec.test.options as JSON: the options with
	// overrides, defaults and the scenarios the shortcuts make.
	consolidated atomic.Pointer[string]
	tuple        atomic.Pointer[executor.Tuple]

	setupMu   sync.RWMutex
	setupJSON string // setup()'s result as JSON
}

func (s *shared) setupData() string {
	s.setupMu.RLock()
	defer s.setupMu.RUnlock()
	return s.setupJSON
}

// vu is one virtual user: a sobek runtime with the script instantiated.
type vu struct {
	sh          *shared
	id          uint64
	rt          *sobek.Runtime
	loop        *eventLoop
	goInstances map[*goModule]*goModuleInstance
	exports     map[string]sobek.Value

	ctx      context.Context
	inInit   bool
	env      map[string]string
	tags     map[string]string // base tags of the activation, without group
	userTags map[string]string // set from exec.vu.tags
	group    string
	scenario string

	iteration    int64
	scenarioIter map[string]int64
	params       *executor.ActivationParams
	scLocal      int64
	scGlobal     int64

	sent, recv atomic.Int64

	setupVal   sobek.Value
	rejections []*sobek.Promise
	timers     map[int64]*timer
	nextTimer  int64

	cjsExports  map[string]*sobek.Object // CommonJS module objects by path
	requireMods map[string]sobek.Value   // require()d Go modules
}

var (
	_ VU          = (*vu)(nil)
	_ executor.VU = (*vu)(nil)
)

// errInterruptedIteration is the interrupt value of an iteration stopped by
// its context.
var errInterruptedIteration = errors.New("iteration interrupted")

// abortError is the interrupt value of test.abort().
type abortError struct{ reason string }

func (e *abortError) Error() string {
	if e.reason == "" {
		return "test aborted"
	}
	return "test aborted: " + e.reason
}

func (e *abortError) Unwrap() error { return ErrAborted }

// newVU creates a VU and runs the script's init context in it.
func newVU(ctx context.Context, sh *shared, id uint64) (*vu, error) {
	rt := sobek.New()
	rt.SetFieldNameMapper(sobek.UncapFieldNameMapper())
	v := &vu{
		sh: sh, id: id, rt: rt, loop: newEventLoop(),
		goInstances:  make(map[*goModule]*goModuleInstance),
		exports:      make(map[string]sobek.Value),
		ctx:          ctx,
		inInit:       true,
		env:          sh.env,
		tags:         maps.Clone(sh.tags),
		iteration:    -1,
		scenarioIter: make(map[string]int64),
		timers:       make(map[int64]*timer),
	}
	sh.prog.vus.Store(rt, v)
	rt.SetPromiseRejectionTracker(func(p *sobek.Promise, op sobek.PromiseRejectionOperation) {
		switch op {
		case sobek.PromiseRejectionReject:
			v.rejections = append(v.rejections, p)
		case sobek.PromiseRejectionHandle:
			for i, q := range v.rejections {
				if q == p {
					v.rejections = append(v.rejections[:i], v.rejections[i+1:]...)
					break
				}
			}
		}
	})
	if err := v.setGlobals(); err != nil {
		return nil, err
	}
	if err := v.init(ctx); err != nil {
		sh.prog.vus.Delete(rt)
		return nil, err
	}
	v.inInit = false
	return v, nil
}

func (v *vu) setGlobals() error {
	rt := v.rt
	for name, val := range map[string]any{
		"__VU":          v.id,
		"open":          v.open,
		"console":       v.console(),
		"setTimeout":    v.setTimeout,
		"clearTimeout":  v.clearTimeout,
		"setInterval":   v.setInterval,
		"clearInterval": v.clearTimeout,
		"require":       v.globalRequire,
	} {
		if err := rt.Set(name, val); err != nil {
			return err
		}
	}
	return v.setEnv(v.env)
}

// setEnv makes __ENV: an object over env (shared by the VUs, never
// written), whose properties are made when read, so that a VU does not
// hold its own copy of the environment; what the script sets or deletes
// stays in the VU.
func (v *vu) setEnv(env map[string]string) error {
	return v.rt.Set("__ENV", v.rt.NewDynamicObject(&envObject{rt: v.rt, env: env}))
}

// envObject is __ENV.
type envObject struct {
	rt   *sobek.Runtime
	env  map[string]string      // shared, read-only
	own  map[string]sobek.Value // set by the script
	gone map[string]bool        // keys of env the script deleted
}

var _ sobek.DynamicObject = (*envObject)(nil)

func (e *envObject) Get(key string) sobek.Value {
	if v, ok := e.own[key]; ok {
		return v
	}
	if s, ok := e.env[key]; ok && !e.gone[key] {
		return e.rt.ToValue(s)
	}
	return nil
}

func (e *envObject) Set(key string, val sobek.Value) bool {
	if e.own == nil {
		e.own = make(map[string]sobek.Value)
	}
	e.own[key] = val
	return true
}

func (e *envObject) Has(key string) bool {
	if _, ok := e.own[key]; ok {
		return true
	}
	_, ok := e.env[key]
	return ok && !e.gone[key]
}

func (e *envObject) Delete(key string) bool {
	delete(e.own, key)
	if _, ok := e.env[key]; ok {
		if e.gone == nil {
			e.gone = make(map[string]bool)
		}
		e.gone[key] = true
	}
	return true
}

func (e *envObject) Keys() []string {
	keys := make([]string, 0, len(e.env)+len(e.own))
	for k := range e.env {
		if _, set := e.own[k]; !set && !e.gone[k] {
			keys = append(keys, k)
		}
	}
	for k := range e.own {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// init instantiates the Go modules and evaluates the script's top level.
func (v *vu) init(ctx context.Context) error {
	for _, g := range v.sh.prog.goModules() {
		if err := v.catch(func() { g.instanceFor(v) }); err != nil {
			return err
		}
	}
	var promise *sobek.Promise
	err := v.runGuarded(ctx, func() error {
		promise = v.rt.CyclicModuleRecordEvaluate(v.sh.prog.main, v.sh.prog.resolve)
		return nil
	}, "init")
	if err != nil {
		return err
	}
	switch promise.State() {
	case sobek.PromiseStateRejected:
		return v.rejectionError(promise.Result(), "init")
	case sobek.PromiseStatePending:
		return fmt.Errorf("%w: the script's top-level await never settled", ErrScript)
	}
	inst := v.rt.GetModuleInstance(v.sh.prog.main)
	var names []string
	v.sh.prog.main.GetExportedNames(func(n []string) { names = n })
	for _, n := range names {
		v.exports[n] = inst.GetBindingValue(n)
	}
	return nil
}

// catch runs f, turning a JS exception thrown from Go (a panic) into an
// error.
func (v *vu) catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch x := r.(type) {
			case *sobek.Exception:
				err = exceptionError(x, "init")
			case *sobek.InterruptedError:
				err = v.interruptError(x)
			case *sobek.Object:
				err = &ScriptError{Kind: "Error", Message: x.String(), Where: "init"}
			default:
				panic(r)
			}
		}
	}()
	f()
	return nil
}

// runGuarded runs first (and the event loop) with ctx able to interrupt
// the runtime, converting JS errors.
func (v *vu) runGuarded(ctx context.Context, first func() error, where string) error {
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		v.rt.Interrupt(errInterruptedIteration)
	})
	defer func() {
		if !stop() {
			<-done
		}
		v.rt.ClearInterrupt()
		v.clearTimers()
	}()
	v.rejections = nil
	err := v.loop.run(ctx, first)
	if err == nil && ctx.Err() != nil {
		// Stopped while in Go code (sleep) with no JS left to interrupt.
		err = ctx.Err()
	}
	if err == nil && len(v.rejections) > 0 {
		p := v.rejections[0]
		v.rejections = nil
		return v.rejectionError(p.Result(), where)
	}
	return v.convertError(err, where)
}

func (v *vu) convertError(err error, where string) error {
	if err == nil {
		return nil
	}
	var ie *sobek.InterruptedError
	if errors.As(err, &ie) {
		return v.interruptError(ie)
	}
	var exc *sobek.Exception
	if errors.As(err, &exc) {
		return exceptionError(exc, where)
	}
	return err
}

func (v *vu) interruptError(ie *sobek.InterruptedError) error {
	if ae, ok := ie.Value().(*abortError); ok {
		return ae
	}
	if v.ctx != nil && v.ctx.Err() != nil {
		return v.ctx.Err()
	}
	return errInterruptedIteration
}

// rejectionError converts the reason of a rejected promise.
func (v *vu) rejectionError(reason sobek.Value, where string) error {
	if reason == nil {
		return &ScriptError{Kind: "Error", Message: "Uncaught (in promise) undefined", Where: where}
	}
	switch x := reason.Export().(type) {
	case *sobek.Exception:
		return exceptionError(x, where)
	case *sobek.InterruptedError:
		return v.interruptError(x)
	case *abortError:
		return x
	case error:
		var ie *sobek.InterruptedError
		if errors.As(x, &ie) {
			return v.interruptError(ie)
		}
		return &ScriptError{Kind: "Error", Message: "Uncaught (in promise) " + x.Error(), Where: where}
	}
	se := &ScriptError{Kind: "Error", Message: "Uncaught (in promise) " + reason.String(), Where: where}
	if o, ok := reason.(*sobek.Object); ok {
		if st := o.Get("stack"); st != nil && !sobek.IsUndefined(st) {
			se.Stack = stackLines(st.String())
			se.File, se.Line, se.Col = firstPosition(se.Stack)
		}
	}
	return se
}

// stackLines keeps the "at ..." lines of a JS Error's stack property.
func stackLines(stack string) string {
	var b strings.Builder
	for _, l := range strings.Split(stack, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "at ") {
			b.WriteString("\t" + t + "\n")
		}
	}
	return b.String()
}

// firstPosition extracts file, line and column from the first stack line,
// "at fn (file:line:col(pc))" or "at file:line:col(pc)".
func firstPosition(stack string) (string, int, int) {
	line, _, _ := strings.Cut(strings.TrimSpace(stack), "\n")
	line = strings.TrimPrefix(strings.TrimSpace(line), "at ")
	if i := strings.Index(line, " ("); i >= 0 && strings.HasSuffix(line, ")") {
		line = line[i+2 : len(line)-1]
	}
	if i := strings.LastIndexByte(line, '('); i >= 0 && strings.HasSuffix(line, ")") {
		line = line[:i]
	}
	parts := strings.Split(line, ":")
	if len(parts) < 3 {
		return "", 0, 0
	}
	var l, c int
	fmt.Sscanf(parts[len(parts)-2], "%d", &l)
	fmt.Sscanf(parts[len(parts)-1], "%d", &c)
	return strings.Join(parts[:len(parts)-2], ":"), l, c
}

// call runs the exported function name with args under ctx.
func (v *vu) call(ctx context.Context, name string, where string, args ...sobek.Value) (sobek.Value, error) {
	fn, ok := sobek.AssertFunction(v.exports[name])
	if !ok {
		return nil, fmt.Errorf("%w: function %q is not exported by the script", ErrScript, name)
	}
	prevCtx := v.ctx
	v.ctx = ctx
	defer func() { v.ctx = prevCtx }()
	var ret sobek.Value
	err := v.runGuarded(ctx, func() error {
		r, err := fn(sobek.Undefined(), args...)
		ret = r
		return err
	}, where)
	if err != nil {
		return nil, err
	}
	if p, ok := ret.Export().(*sobek.Promise); ok {
		switch p.State() {
		case sobek.PromiseStateRejected:
			return nil, v.rejectionError(p.Result(), where)
		case sobek.PromiseStateFulfilled:
			ret = p.Result()
		}
	}
	return ret, nil
}

// exported reports whether the script exports a function called name.
func (v *vu) exported(name string) bool {
	_, ok := sobek.AssertFunction(v.exports[name])
	return ok
}

// --- the VU interface for modules ---

func (v *vu) Runtime() *sobek.Runtime { return v.rt }
func (v *vu) Context() context.Context {
	if v.ctx == nil {
		return context.Background()
	}
	return v.ctx
}
func (v *vu) InInit() bool       { return v.inInit }
func (v *vu) ID() uint64         { return v.id }
func (v *vu) Iteration() int64   { return v.iteration }
func (v *vu) Scenario() string   { return v.scenario }
func (v *vu) Sink() samples.Sink { return v.sh.sink }

func (v *vu) Tags() map[string]string {
	t := make(map[string]string, len(v.tags)+len(v.userTags)+1)
	maps.Copy(t, v.tags)
	maps.Copy(t, v.userTags)
	t["group"] = v.group
	return t
}

func (v *vu) Emit(metric string, value float64, extra map[string]string) {
	tags := v.Tags()
	maps.Copy(tags, extra)
	v.sh.sink.AddSample(samples.Sample{Metric: metric, Time: time.Now(), Value: value, Tags: tags})
}

func (v *vu) AddData(sent, received int64) {
	v.sent.Add(sent)
	v.recv.Add(received)
}

func (v *vu) RegisterMetric(m samples.Metric) error { return v.sh.reg.Register(m) }

func (v *vu) RegisterCallback() func(func() error) { return v.loop.registerCallback() }

// --- executor.VU ---

// Activate prepares the VU for a scenario.
func (v *vu) Activate(p *executor.ActivationParams) executor.ActiveVU {
	v.rt.ClearInterrupt()
	env := v.sh.env
	if len(p.Env) > 0 {
		env = maps.Clone(v.sh.env)
		maps.Copy(env, p.Env)
	}
	if !maps.Equal(env, v.env) {
		v.env = env
		_ = v.setEnv(env)
	}
	v.tags = make(map[string]string, len(v.sh.tags)+len(p.Tags)+1)
	maps.Copy(v.tags, v.sh.tags)
	maps.Copy(v.tags, p.Tags)
	v.tags["scenario"] = p.Scenario.Name
	v.userTags = nil
	v.group = ""
	v.scenario = p.Scenario.Name
	if _, ok := v.scenarioIter[v.scenario]; !ok {
		v.scenarioIter[v.scenario] = -1
	}
	v.params = p
	v.scLocal, v.scGlobal = -1, -1
	return &activeVU{v: v, p: p}
}

type activeVU struct {
	v *vu
	p *executor.ActivationParams
}

// RunOnce runs the scenario's exec function once and emits the iteration's
// metrics.
func (a *activeVU) RunOnce() error {
	v, p := a.v, a.p
	if err := p.Context.Err(); err != nil {
		return err
	}
	v.iteration++
	_ = v.rt.Set("__ITER", v.iteration)
	v.scenarioIter[v.scenario]++
	v.scLocal, v.scGlobal = p.NextIteration()
	data, err := v.setupValue()
	if err != nil {
		return err
	}
	v.group = ""
	start := time.Now()
	_, err = v.call(p.Context, p.Exec, "default", data)
	end := time.Now()
	tags := v.Tags()
	v.emitData(end, tags)
	if p.Context.Err() == nil {
		v.sh.sink.AddSample(samples.Sample{Metric: metrics.IterationDuration, Time: end,
			Value: float64(end.Sub(start)) / float64(time.Millisecond), Tags: tags})
		v.sh.sink.AddSample(samples.Sample{Metric: metrics.Iterations, Time: end, Value: 1, Tags: tags})
	}
	return err
}

func (v *vu) emitData(at time.Time, tags map[string]string) {
	v.sh.sink.AddSample(samples.Sample{Metric: metrics.DataSent, Time: at, Value: float64(v.sent.Swap(0)), Tags: tags})
	v.sh.sink.AddSample(samples.Sample{Metric: metrics.DataReceived, Time: at, Value: float64(v.recv.Swap(0)), Tags: tags})
}

// setupValue is setup()'s data, decoded once per VU from its JSON.
func (v *vu) setupValue() (sobek.Value, error) {
	if v.setupVal != nil {
		return v.setupVal, nil
	}
	js := v.sh.setupData()
	if js == "" {
		v.setupVal = sobek.Undefined()
		return v.setupVal, nil
	}
	parse, _ := sobek.AssertFunction(v.rt.Get("JSON").ToObject(v.rt).Get("parse"))
	val, err := parse(sobek.Undefined(), v.rt.ToValue(js))
	if err != nil {
		return nil, fmt.Errorf("decoding setup() data: %w", err)
	}
	v.setupVal = val
	return val, nil
}

// --- globals ---

// open reads a file relative to the calling module, in the init context.
func (v *vu) open(call sobek.FunctionCall) sobek.Value {
	rt := v.rt
	if !v.inInit {
		panic(rt.NewGoError(fmt.Errorf("%w: open() can only be called at the top level of a script (init context); read files there and use the result in functions", ErrInitContext)))
	}
	name := call.Argument(0).String()
	if name == "" {
		panic(rt.NewTypeError("open() needs a file name"))
	}
	path := name
	if !filepath.IsAbs(path) {
		base := v.sh.prog.Path
		for _, f := range rt.CaptureCallStack(0, nil) {
			if src := f.SrcName(); src != "" && filepath.IsAbs(src) {
				base = src
				break
			}
		}
		path = filepath.Join(filepath.Dir(base), name)
	}
	b, err := v.sh.prog.readFile(path)
	if err != nil {
		panic(rt.NewGoError(fmt.Errorf("open(%q): %w", name, err)))
	}
	if call.Argument(1).String() == "b" {
		return rt.ToValue(rt.NewArrayBuffer(append([]byte(nil), b...)))
	}
	return rt.ToValue(string(b))
}

type timer struct {
	t    *time.Timer
	done func(func() error)
}

func (v *vu) setTimeout(fn sobek.Callable, ms float64, args ...sobek.Value) int64 {
	v.nextTimer++
	id := v.nextTimer
	done := v.loop.registerCallback()
	d := time.Duration(ms * float64(time.Millisecond))
	t := time.AfterFunc(max(d, 0), func() {
		done(func() error {
			delete(v.timers, id)
			_, err := fn(sobek.Undefined(), args...)
			return err
		})
	})
	v.timers[id] = &timer{t: t, done: done}
	return id
}

func (v *vu) clearTimeout(id int64) {
	if t, ok := v.timers[id]; ok {
		delete(v.timers, id)
		if t.t.Stop() {
			t.done(func() error { return nil })
		}
	}
}

func (v *vu) clearTimers() {
	for id, t := range v.timers {
		t.t.Stop()
		delete(v.timers, id)
	}
}

func (v *vu) console() map[string]any {
	logf := func(level string) func(call sobek.FunctionCall) sobek.Value {
		return func(call sobek.FunctionCall) sobek.Value {
			parts := make([]string, len(call.Arguments))
			for i, a := range call.Arguments {
				parts[i] = v.format(a)
			}
			v.sh.log.print(level, strings.Join(parts, " "), "source=console")
			return sobek.Undefined()
		}
	}
	return map[string]any{
		"log": logf("info"), "info": logf("info"), "debug": logf("debug"),
		"warn": logf("warn"), "error": logf("error"),
	}
}

// format renders a console argument: strings as is, objects as JSON.
func (v *vu) format(a sobek.Value) string {
	if a == nil || sobek.IsUndefined(a) {
		return "undefined"
	}
	if o, ok := a.(*sobek.Object); ok {
		if _, isFn := sobek.AssertFunction(o); !isFn && o.ClassName() != "Error" {
			if b, err := o.MarshalJSON(); err == nil {
				return string(b)
			}
		}
	}
	return a.String()
}
