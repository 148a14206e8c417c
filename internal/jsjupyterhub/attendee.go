package jsjupyterhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/attendee"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// attendeeOptions are the keys jupyterhub.attendee() accepts.
var attendeeOptions = []string{"username", "password", "server", "spawn", "kernelProtocol", "kernelName",
	"timeouts", "removeServer", "labPath", "notebook", "userAgent", "requestTimeout", "tags", "hubURL"}

// jsAttendee is one attendee object: an attendee.Session whose samples go
// to the run's stream with the VU's tags as they are at each call.
type jsAttendee struct {
	vu         script.VU
	s          *attendee.Session
	sink       forwardSink
	kernelName string
}

// newAttendee is jupyterhub.attendee(options). It makes no request, so it
// may be called in the init context (one attendee per VU).
func (m *ModuleInstance) newAttendee(opts map[string]any) (*sobek.Object, error) {
	const fn = "jupyterhub.attendee()"
	o := newOptions(fn, opts, attendeeOptions...)
	cfg := attendee.Config{
		Username:     o.str("username", ""),
		Password:     o.str("password", ""),
		Server:       o.str("server", ""),
		KernelName:   o.str("kernelName", ""),
		RemoveServer: o.boolean("removeServer", false),
		LabPath:      o.str("labPath", ""),
		NotebookPath: o.str("notebook", ""),
		UserAgent:    o.str("userAgent", ""),
	}
	cfg.RequestTimeout = o.duration("requestTimeout")
	switch sp := o.str("spawn", "browser"); sp {
	case "browser":
		cfg.Spawn = attendee.SpawnBrowser
	case "api":
		cfg.Spawn = attendee.SpawnAPI
	default:
		o.errs = append(o.errs, fmt.Errorf("%w: %s: spawn must be \"browser\" or \"api\", not %q", ErrOption, fn, sp))
	}
	if p, err := kernel.ParseProtocol(o.str("kernelProtocol", "auto")); err != nil {
		o.errs = append(o.errs, fmt.Errorf("%w: %s: kernelProtocol: %w", ErrOption, fn, err))
	} else {
		cfg.KernelProtocol = p
	}
	if t := o.object("timeouts"); t != nil {
		to := newOptions(fn+" timeouts", t, phaseNames()...)
		cfg.PhaseTimeouts = map[attendee.Phase]time.Duration{}
		for k := range t {
			if d := to.duration(k); d > 0 {
				cfg.PhaseTimeouts[attendee.Phase(k)] = d
			}
		}
		o.errs = append(o.errs, to.errs...)
	}
	if t := o.object("tags"); t != nil {
		to := newOptions(fn+" tags", t, keys(t)...)
		cfg.Tags = map[string]string{}
		for k := range t {
			cfg.Tags[k] = to.str(k, "")
		}
		o.errs = append(o.errs, to.errs...)
	}
	cfg.HubURL = o.str("hubURL", m.hubURL())
	if err := o.err(); err != nil {
		return nil, err
	}
	if cfg.HubURL == "" {
		return nil, fmt.Errorf("%s: %w", fn, noHubError())
	}
	if m.b != nil {
		cfg.InsecureSkipVerify = m.b.target.InsecureSkipVerify
	}
	// As in k6, a VU reuses its connections across iterations: the VU's
	// attendees share one connection pool (each keeps its own cookies).
	if m.transport == nil || m.insecure != cfg.InsecureSkipVerify {
		m.transport, m.insecure = hubapi.NewHTTPClient(cfg.InsecureSkipVerify, nil).Transport, cfg.InsecureSkipVerify
	}
	cfg.RoundTripper = m.transport
	a := &jsAttendee{vu: m.vu, kernelName: cfg.KernelName}
	cfg.Sink = phaseTagger{next: &a.sink}
	s, err := attendee.New(cfg)
	if err != nil {
		return nil, err
	}
	a.s = s
	if m.b != nil {
		m.b.track(s)
	}
	return a.object(m.vu.Runtime()), nil
}

// object is the attendee as a JavaScript object whose methods are made
// once, on first use: a Go map of functions would wrap each method again at
// every call (sobek converts map values on access), and making all of them
// up front costs every VU about 15 KB for methods most scripts never call.
// execute, called for every cell, is a native function without reflection.
func (a *jsAttendee) object(rt *sobek.Runtime) *sobek.Object {
	return rt.NewDynamicObject(&attendeeObject{a: a, rt: rt})
}

// attendeeMethods are the names of the attendee object's methods.
var attendeeMethods = func() []string {
	return slices.Sorted(maps.Keys((&jsAttendee{s: &attendee.Session{}}).exports()))
}()

// attendeeObject is the attendee's JavaScript object: its methods, made
// when first read, and whatever the script sets on it.
type attendeeObject struct {
	a     *jsAttendee
	rt    *sobek.Runtime
	props map[string]sobek.Value // methods made so far, and the script's own properties
	gone  map[string]bool        // methods the script deleted
}

var _ sobek.DynamicObject = (*attendeeObject)(nil)

func (o *attendeeObject) isMethod(key string) bool {
	_, ok := slices.BinarySearch(attendeeMethods, key)
	return ok && !o.gone[key]
}

func (o *attendeeObject) Get(key string) sobek.Value {
	if v, ok := o.props[key]; ok {
		return v
	}
	if !o.isMethod(key) {
		return nil
	}
	var v sobek.Value
	if key == "execute" {
		v = o.rt.ToValue(o.a.nativeExecute(o.rt))
	} else {
		v = o.rt.ToValue(o.a.exports()[key])
	}
	o.set(key, v)
	return v
}

func (o *attendeeObject) set(key string, v sobek.Value) {
	if o.props == nil {
		o.props = make(map[string]sobek.Value)
	}
	o.props[key] = v
}

func (o *attendeeObject) Set(key string, val sobek.Value) bool {
	o.set(key, val)
	return true
}

func (o *attendeeObject) Has(key string) bool {
	_, ok := o.props[key]
	return ok || o.isMethod(key)
}

func (o *attendeeObject) Delete(key string) bool {
	delete(o.props, key)
	if _, ok := slices.BinarySearch(attendeeMethods, key); ok {
		if o.gone == nil {
			o.gone = make(map[string]bool)
		}
		o.gone[key] = true
	}
	return true
}

func (o *attendeeObject) Keys() []string {
	keys := make([]string, 0, len(attendeeMethods)+len(o.props))
	for _, k := range attendeeMethods {
		if !o.gone[k] {
			keys = append(keys, k)
		}
	}
	for k := range o.props {
		if !o.isMethod(k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// nativeExecute is execute(code, opts) with the argument conversions and
// the exception sobek's reflection wrapper would make.
func (a *jsAttendee) nativeExecute(rt *sobek.Runtime) func(sobek.FunctionCall) sobek.Value {
	return func(call sobek.FunctionCall) sobek.Value {
		var code string
		var opts map[string]any
		var res kernel.ExecResult
		var err error
		if expect, ok := expectOnly(call.Argument(1)); ok {
			// execute(code, {expect: '…'}): the usual call, without
			// exporting the options object to a Go map
			if code, ok = call.Argument(0).Export().(string); ok {
				res, err = a.run(code, expect, true)
				if err != nil {
					panic(rt.NewGoError(err))
				}
				return execValue(rt, res)
			}
		}
		for i, dst := range []any{&code, &opts} {
			if i >= len(call.Arguments) {
				break
			}
			// the common cases without reflection, else sobek's conversion
			switch v := call.Arguments[i].Export().(type) {
			case string:
				if i == 0 {
					code = v
					continue
				}
			case map[string]any:
				if i == 1 {
					opts = v
					continue
				}
			}
			if err := rt.ExportTo(call.Arguments[i], dst); err != nil {
				panic(rt.NewTypeError("could not convert function call parameter %d: %v", i, err))
			}
		}
		res, err = a.execute(code, opts)
		if err != nil {
			panic(rt.NewGoError(err))
		}
		return execValue(rt, res)
	}
}

// expectOnly returns expect when v is a plain object whose only property is
// expect, a string.
func expectOnly(v sobek.Value) (string, bool) {
	obj, ok := v.(*sobek.Object)
	if !ok || obj.ClassName() != "Object" {
		return "", false
	}
	keys := obj.Keys()
	if len(keys) != 1 || keys[0] != "expect" {
		return "", false
	}
	s, ok := obj.Get("expect").Export().(string)
	return s, ok
}

func phaseNames() []string {
	out := make([]string, len(attendee.Phases))
	for i, p := range attendee.Phases {
		out[i] = string(p)
	}
	return out
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (a *jsAttendee) exports() map[string]any {
	return map[string]any{
		"login":          a.login,
		"spawn":          a.spawn,
		"oauth":          a.oauth,
		"openLab":        a.openLab,
		"listContents":   a.listContents,
		"saveNotebook":   a.saveNotebook,
		"openNotebook":   a.openNotebook,
		"startKernel":    a.startKernel,
		"connectKernel":  a.connectKernel,
		"execute":        a.execute,
		"shutdownKernel": a.shutdownKernel,
		"stopServer":     a.stopServer,
		"logout":         a.logout,
		"close":          a.close,
		"journey":        a.journey,
		"username":       a.s.Username,
		"server":         a.s.Server,
		"notebookPath":   a.s.NotebookPath,
		"kernelId":       a.s.KernelID,
	}
}

// begin refuses the init context and points the session's samples at the
// run's stream with the VU's current tags (scenario, group, ...).
func (a *jsAttendee) begin(what string) (context.Context, error) {
	if err := script.RequireVUContext(a.vu, "attendee."+what+"()"); err != nil {
		return nil, err
	}
	a.sink.set(script.TagSink(a.vu, nil))
	return a.vu.Context(), nil
}

func (a *jsAttendee) call(what string, f func(context.Context) error) error {
	ctx, err := a.begin(what)
	if err != nil {
		return err
	}
	return f(ctx)
}

func (a *jsAttendee) login() error  { return a.call("login", a.s.Login) }
func (a *jsAttendee) spawn() error  { return a.call("spawn", a.s.Spawn) }
func (a *jsAttendee) oauth() error  { return a.call("oauth", a.s.OAuth) }
func (a *jsAttendee) logout() error { return a.call("logout", a.s.Logout) }
func (a *jsAttendee) close() error  { return a.s.Close() }
func (a *jsAttendee) connectKernel() error {
	return a.call("connectKernel", a.s.ConnectKernel)
}
func (a *jsAttendee) shutdownKernel() error {
	return a.call("shutdownKernel", a.s.ShutdownKernel)
}
func (a *jsAttendee) stopServer() error { return a.call("stopServer", a.s.StopServer) }

func (a *jsAttendee) openLab() (map[string]any, error) {
	ctx, err := a.begin("openLab")
	if err != nil {
		return nil, err
	}
	n, err := a.s.LabLoad(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"bytes": n}, nil
}

func (a *jsAttendee) listContents(dir string) ([]any, error) {
	ctx, err := a.begin("listContents")
	if err != nil {
		return nil, err
	}
	entries, err := a.s.ListContents(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(entries))
	for i, e := range entries {
		var size any
		if e.Size != nil {
			size = *e.Size
		}
		out[i] = map[string]any{"name": e.Name, "path": e.Path, "type": e.Type, "size": size}
	}
	return out, nil
}

// saveNotebook(path, cells?) saves a notebook: cells is an array of code
// cell sources (a notebook is built for the attendee's kernel) or a whole
// nbformat object. path "" is the session's notebook.
func (a *jsAttendee) saveNotebook(path string, cells any) (string, error) {
	var nb json.RawMessage
	switch c := cells.(type) {
	case nil:
		nb = attendee.Notebook(a.kernel())
	case []any:
		src, err := toStrings(c)
		if err != nil {
			return "", fmt.Errorf("%w: attendee.saveNotebook(): cells: %w", ErrOption, err)
		}
		nb = attendee.Notebook(a.kernel(), src...)
	case map[string]any:
		b, err := json.Marshal(c)
		if err != nil {
			return "", fmt.Errorf("%w: attendee.saveNotebook(): the notebook is not JSON: %w", ErrOption, err)
		}
		nb = b
	default:
		return "", fmt.Errorf("%w: attendee.saveNotebook(): cells must be an array of strings or a notebook object, not %s", ErrOption, jsType(cells))
	}
	ctx, err := a.begin("saveNotebook")
	if err != nil {
		return "", err
	}
	if path == "" {
		path = a.s.NotebookPath()
	}
	return path, a.s.SaveNotebook(ctx, path, nb)
}

func (a *jsAttendee) kernel() string {
	if a.kernelName == "" {
		return "python3"
	}
	return a.kernelName
}

func (a *jsAttendee) openNotebook(path string) (any, error) {
	ctx, err := a.begin("openNotebook")
	if err != nil {
		return nil, err
	}
	if path == "" {
		path = a.s.NotebookPath()
	}
	raw, err := a.s.OpenNotebook(ctx, path)
	if err != nil {
		return nil, err
	}
	return jsonValue(raw)
}

func (a *jsAttendee) startKernel() (string, error) {
	ctx, err := a.begin("startKernel")
	if err != nil {
		return "", err
	}
	return a.s.StartKernel(ctx)
}

// execute(code, {expect}) runs code on the connected kernel. Code that
// raises returns a result whose error is set; with expect, output other
// than expect throws (attendee.ErrCheck), as does any transport failure.
func (a *jsAttendee) execute(code string, opts map[string]any) (kernel.ExecResult, error) {
	o := newOptions("attendee.execute()", opts, "expect")
	expect, hasExpect := o.str("expect", ""), o.present("expect")
	if err := o.err(); err != nil {
		return kernel.ExecResult{}, err
	}
	return a.run(code, expect, hasExpect)
}

// run executes code, checking the output against expect when hasExpect.
func (a *jsAttendee) run(code, expect string, hasExpect bool) (kernel.ExecResult, error) {
	ctx, err := a.begin("execute")
	if err != nil {
		return kernel.ExecResult{}, err
	}
	var res kernel.ExecResult
	if hasExpect {
		res, err = a.s.ExecuteExpect(ctx, code, expect)
	} else {
		res, err = a.s.Execute(ctx, code)
	}
	if err != nil && !(errors.Is(err, kernel.ErrExecution) && res.Error != nil) {
		return kernel.ExecResult{}, err
	}
	return res, nil
}

// journey runs attendee.Session.Run and reports each phase's duration.
// A failed phase does not throw: ok is false and error names the phase.
func (a *jsAttendee) journey(opts map[string]any) (map[string]any, error) {
	o := newOptions("attendee.journey()", opts, "code", "expect", "keepServer", "skipLogout")
	j := attendee.Journey{Code: o.str("code", ""), Expect: o.str("expect", ""),
		KeepServer: o.boolean("keepServer", false), SkipLogout: o.boolean("skipLogout", false)}
	if err := o.err(); err != nil {
		return nil, err
	}
	ctx, err := a.begin("journey")
	if err != nil {
		return nil, err
	}
	rec := &phaseRecorder{next: script.TagSink(a.vu, nil), phases: map[string]any{}}
	a.sink.set(rec)
	err = a.s.Run(ctx, j)
	if err != nil && ctx.Err() != nil {
		return nil, err // the iteration is being interrupted
	}
	out := map[string]any{"ok": err == nil, "phases": rec.snapshot(), "error": nil}
	if err != nil {
		out["error"] = map[string]any{"phase": string(attendee.PhaseOf(err)), "message": err.Error()}
	}
	return out, nil
}

// phaseOfMetric maps a phase trend back to its phase.
var phaseOfMetric = func() map[string]string {
	m := map[string]string{}
	for p, name := range attendee.PhaseMetric {
		m[name] = string(p)
	}
	return m
}()

// phaseTagger adds the tag phase to the phase trends (the report finds
// phase latencies by that tag); a phase tag already set wins.
type phaseTagger struct{ next samples.Sink }

func (p phaseTagger) AddSample(s samples.Sample) {
	if phase, ok := phaseOfMetric[s.Metric]; ok && s.Tags["phase"] == "" {
		tags := make(map[string]string, len(s.Tags)+1)
		for k, v := range s.Tags {
			tags[k] = v
		}
		tags["phase"] = phase
		s.Tags = tags
	}
	p.next.AddSample(s)
}

// phaseRecorder forwards samples and keeps each phase's last duration.
type phaseRecorder struct {
	next   samples.Sink
	mu     sync.Mutex
	phases map[string]any
}

func (r *phaseRecorder) AddSample(s samples.Sample) {
	if p, ok := phaseOfMetric[s.Metric]; ok {
		r.mu.Lock()
		r.phases[p] = s.Value
		r.mu.Unlock()
	}
	r.next.AddSample(s)
}

func (r *phaseRecorder) snapshot() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]any, len(r.phases))
	for k, v := range r.phases {
		out[k] = v
	}
	return out
}
