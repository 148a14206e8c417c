// Package script runs k6-style load test scripts on the sobek JavaScript
// engine: ES modules (import/export) compiled once and instantiated in one
// runtime per virtual user, the k6, k6/execution and k6/metrics modules, a
// registry for extension modules such as k6/x/jupyterhub, the init and VU
// contexts, setup/default/teardown/handleSummary, thresholds, outputs and
// k6's exit codes.
//
// Extension modules register themselves with RegisterModule; producers of
// samples outside the script (hub telemetry) plug in as a Collector; the CLI
// calls Run.
package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Module is a JavaScript module implemented in Go, as k6's modules.Module:
// the root module is registered once; NewModuleInstance is called once per
// VU that imports it, in the VU's init context.
type Module interface {
	NewModuleInstance(vu VU) Instance
}

// Instance is a module's per-VU instance.
type Instance interface {
	Exports() Exports
}

// Exports are what `import` sees. Named exports become named bindings; the
// default export is Default, or an object of the named exports when Default
// is nil. Go functions and values are converted by the VU's runtime (Go
// method and field names are uncapitalized: Login → login).
type Exports struct {
	Default any
	Named   map[string]any
}

// MetricsDeclarer is implemented by modules whose samples need metrics
// registered before the test starts (so thresholds can name them). The
// metrics are registered when a script imports the module.
type MetricsDeclarer interface {
	Metrics() []samples.Metric
}

// VU is what a module instance gets to interact with its virtual user.
type VU interface {
	// Runtime is the VU's JavaScript runtime. It must only be used from the
	// goroutine calling into the module (or from RegisterCallback callbacks).
	Runtime() *sobek.Runtime
	// Context is done when the current iteration (or the init phase) must
	// stop; long operations should return promptly when it is.
	Context() context.Context
	// InInit reports whether the VU runs its init context (module top-level
	// code), where network calls must be refused (see RequireVUContext).
	InInit() bool
	// ID is __VU: 1.. for VUs, 0 for the VU that reads options and runs
	// setup, teardown and handleSummary.
	ID() uint64
	// Iteration is __ITER, the VU's iteration count from 0 (-1 before the
	// first iteration).
	Iteration() int64
	// Scenario is the current scenario's name ("" in the init context,
	// "setup"/"teardown" there).
	Scenario() string
	// Tags returns a copy of the tags samples get now: scenario, group,
	// options.tags, scenario tags and tags set through exec.vu.tags.
	Tags() map[string]string
	// Sink receives samples as they are; Emit is the usual way.
	Sink() samples.Sink
	// Emit sends one sample of metric with the current tags plus extra,
	// timestamped now. Call it from the VU's goroutine; other goroutines
	// use a TagSink made on it.
	Emit(metric string, value float64, extra map[string]string)
	// AddData counts bytes sent and received, reported as data_sent and
	// data_received at the end of each iteration.
	AddData(sent, received int64)
	// RegisterMetric declares a metric (allowed at any time for Go code).
	RegisterMetric(m samples.Metric) error
	// RegisterCallback keeps the current iteration alive until the returned
	// function is called (from any goroutine) with a callback; the callback
	// then runs on the VU's goroutine, where it may use the runtime (e.g. to
	// resolve a promise). The returned function must be called exactly once.
	RegisterCallback() func(func() error)
}

// InitContext reports whether vu runs its init context (the script's top
// level), where binding modules must refuse network calls.
func InitContext(vu VU) bool { return vu.InInit() }

// TagSink returns a sink, safe for any goroutine, that adds the VU's tags
// as they are now (scenario, group, ...) and extra to every sample it
// forwards; tags already on a sample win. Make it on the VU's goroutine
// when an operation starts and hand it to the code producing samples.
func TagSink(vu VU, extra map[string]string) samples.Sink {
	base := vu.Tags()
	for k, v := range extra {
		base[k] = v
	}
	next := vu.Sink()
	return samples.SinkFunc(func(s samples.Sample) {
		tags := make(map[string]string, len(base)+len(s.Tags))
		for k, v := range base {
			tags[k] = v
		}
		for k, v := range s.Tags {
			tags[k] = v
		}
		s.Tags = tags
		next.AddSample(s)
	})
}

// ErrInitContext is returned for operations that need a running VU (network
// calls, checks, groups) when called from the init context.
var ErrInitContext = errors.New("not available in the init context")

// RequireVUContext returns an error naming what when vu is in its init
// context: the top-level code of a script runs once per VU to set it up and
// must not talk to the hub.
func RequireVUContext(vu VU, what string) error {
	if vu.InInit() {
		return fmt.Errorf("%w: %s can only be called from an exported function (default, setup, teardown or a scenario's exec), "+
			"not from the top level of a script, which runs once per VU to initialize it", ErrInitContext, what)
	}
	return nil
}

// Builtin module paths.
const (
	ModuleK6        = "k6"
	ModuleExecution = "k6/execution"
	ModuleMetrics   = "k6/metrics"
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Module{}
)

// RegisterModule makes m importable as path, e.g. "k6/x/jupyterhub". It is
// meant to be called from a binding package's init(); it panics on a
// duplicate, on a builtin path, or on a relative or URL-like path.
func RegisterModule(path string, m Module) {
	if m == nil {
		panic("script: RegisterModule with a nil module")
	}
	switch {
	case path == "", strings.HasPrefix(path, "."), strings.HasPrefix(path, "/"), strings.Contains(path, "://"):
		panic(fmt.Sprintf("script: module path %q must be a bare name like k6/x/name", path))
	case builtinModule(path) != nil:
		panic(fmt.Sprintf("script: %q is a builtin module", path))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[path]; dup {
		panic(fmt.Sprintf("script: module %q registered twice", path))
	}
	registry[path] = m
}

// RegisteredModules lists the importable module paths, builtins included.
func RegisteredModules() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := []string{ModuleK6, ModuleExecution, ModuleMetrics, ModuleTimers, ModuleEncoding, ModuleCrypto, ModuleData}
	for p := range registry {
		out = append(out, p)
	}
	return out
}

// builtinModule returns the module implemented by the runtime at path.
func builtinModule(path string) Module {
	switch path {
	case ModuleK6:
		return k6Module{}
	case ModuleExecution:
		return executionModule{}
	case ModuleMetrics:
		return metricsModule{}
	case ModuleTimers:
		return timersModule{}
	case ModuleEncoding:
		return encodingModule{}
	case ModuleCrypto:
		return cryptoModule{}
	case ModuleData:
		return dataModule{}
	}
	return nil
}

func lookupModule(path string) (Module, bool) {
	if m := builtinModule(path); m != nil {
		return m, true
	}
	registryMu.RLock()
	defer registryMu.RUnlock()
	m, ok := registry[path]
	return m, ok
}

// Collector produces samples from outside the script (e.g. hub memory
// telemetry) into the run's stream.
type Collector interface {
	// Metrics declares the metrics the collector emits.
	Metrics() []samples.Metric
	// Run emits samples to sink until ctx is done (the end of the test).
	Run(ctx context.Context, sink samples.Sink) error
}

// goModule adapts a Module to sobek's module records, as k6's gomodule does:
// one record per import path shared by every VU; each runtime instantiates
// its own Instance.
type goModule struct {
	path string
	m    Module
	prog *Program

	mu        sync.Mutex
	names     []string
	callbacks []func([]string)
}

var _ sobek.CyclicModuleRecord = (*goModule)(nil)

func (g *goModule) Link() error                  { return nil }
func (g *goModule) RequestedModules() []string   { return nil }
func (g *goModule) InitializeEnvironment() error { return nil }
func (g *goModule) Evaluate(rt *sobek.Runtime) *sobek.Promise {
	return rt.CyclicModuleRecordEvaluate(g, g.prog.resolve)
}

func (g *goModule) Instantiate(rt *sobek.Runtime) (sobek.CyclicModuleInstance, error) {
	v := g.prog.vuOf(rt)
	if v == nil {
		return nil, fmt.Errorf("module %s instantiated outside a VU", g.path)
	}
	return g.instanceFor(v), nil
}

// instanceFor returns v's instance of the module, creating it on first use.
// VUs create the instances of every imported Go module before evaluating
// the script, so the export names are known before any namespace import
// asks for them.
func (g *goModule) instanceFor(v *vu) *goModuleInstance {
	if inst, ok := v.goInstances[g]; ok {
		return inst
	}
	rt := v.rt
	exp := g.m.NewModuleInstance(v).Exports()
	inst := &goModuleInstance{rt: rt, exp: exp}
	v.goInstances[g] = inst
	g.mu.Lock()
	if g.names == nil {
		if exp.Named != nil {
			for n := range exp.Named {
				g.names = append(g.names, n)
			}
		} else if exp.Default != nil {
			g.names = rt.ToValue(exp.Default).ToObject(rt).Keys()
		}
		if g.names == nil {
			g.names = []string{}
		}
		for _, cb := range g.callbacks {
			cb(g.names)
		}
		g.callbacks = nil
	}
	g.mu.Unlock()
	return inst
}

func (g *goModule) GetExportedNames(cb func([]string), _ ...sobek.ModuleRecord) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.names != nil {
		cb(g.names)
		return true
	}
	g.callbacks = append(g.callbacks, cb)
	return false
}

func (g *goModule) ResolveExport(name string, _ ...sobek.ResolveSetElement) (*sobek.ResolvedBinding, bool) {
	return &sobek.ResolvedBinding{Module: g, BindingName: name}, false
}

type goModuleInstance struct {
	rt  *sobek.Runtime
	exp Exports
	def sobek.Value
	// named caches the converted named exports: sobek asks for a binding
	// at every use of an imported name (each sleep() call), and converting
	// a Go function again wraps it again.
	named map[string]sobek.Value
}

func (i *goModuleInstance) HasTLA() bool { return false }

func (i *goModuleInstance) ExecuteModule(*sobek.Runtime, func(any) error, func(any) error) (sobek.CyclicModuleInstance, error) {
	return i, nil
}

func (i *goModuleInstance) GetBindingValue(name string) sobek.Value {
	if name == "default" {
		return i.defaultExport()
	}
	if i.exp.Named != nil {
		if v, ok := i.named[name]; ok {
			return v
		}
		v, ok := i.exp.Named[name]
		if !ok {
			return sobek.Undefined()
		}
		if i.named == nil {
			i.named = make(map[string]sobek.Value, len(i.exp.Named))
		}
		jv := i.rt.ToValue(v)
		i.named[name] = jv
		return jv
	}
	return i.defaultExport().ToObject(i.rt).Get(name)
}

func (i *goModuleInstance) defaultExport() sobek.Value {
	if i.def != nil {
		return i.def
	}
	if i.exp.Default != nil {
		i.def = i.rt.ToValue(i.exp.Default)
		return i.def
	}
	o := i.rt.NewObject()
	for n, v := range i.exp.Named {
		_ = o.Set(n, v)
	}
	i.def = o
	return o
}
