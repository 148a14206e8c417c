package jsjupyterhub

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/sobek"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// ErrOption is wrapped by every error about a script's arguments: an
// unknown option key or a value of the wrong type.
var ErrOption = errors.New("bad argument")

// options reads a JavaScript options object, exported by sobek as
// map[string]any (strings, bools, int64 or float64 numbers, []any, nested
// maps). Every problem is collected; err reports them all at once.
type options struct {
	fn   string
	m    map[string]any
	errs []error
}

// newOptions checks that m has only known keys.
func newOptions(fn string, m map[string]any, known ...string) *options {
	o := &options{fn: fn, m: m}
	var unknown []string
	for k := range m {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		o.errs = append(o.errs, fmt.Errorf("%w: %s: unknown option %s; known options: %s", ErrOption, fn,
			quoteAll(unknown), strings.Join(known, ", ")))
	}
	return o
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func (o *options) bad(key, want string, v any) {
	o.errs = append(o.errs, fmt.Errorf("%w: %s: option %s must be %s, not %s", ErrOption, o.fn, key, want, jsType(v)))
}

// present reports whether key is set to something other than null/undefined.
func (o *options) present(key string) bool {
	v, ok := o.m[key]
	return ok && v != nil
}

func (o *options) str(key, def string) string {
	if !o.present(key) {
		return def
	}
	s, ok := o.m[key].(string)
	if !ok {
		o.bad(key, "a string", o.m[key])
		return def
	}
	return s
}

func (o *options) boolean(key string, def bool) bool {
	if !o.present(key) {
		return def
	}
	b, ok := o.m[key].(bool)
	if !ok {
		o.bad(key, "true or false", o.m[key])
		return def
	}
	return b
}

// duration reads a k6 duration: "90s", "1h30m", or a number of milliseconds.
func (o *options) duration(key string) time.Duration {
	if !o.present(key) {
		return 0
	}
	d, err := executor.ParseDuration(o.m[key])
	if err != nil || d < 0 {
		o.bad(key, `a duration like "30s" or a number of milliseconds`, o.m[key])
		return 0
	}
	return d
}

func (o *options) strings(key string) []string {
	if !o.present(key) {
		return nil
	}
	s, err := toStrings(o.m[key])
	if err != nil {
		o.bad(key, "an array of strings", o.m[key])
	}
	return s
}

func (o *options) object(key string) map[string]any {
	if !o.present(key) {
		return nil
	}
	m, ok := o.m[key].(map[string]any)
	if !ok {
		o.bad(key, "an object", o.m[key])
	}
	return m
}

func (o *options) err() error { return errors.Join(o.errs...) }

// toStrings converts a JavaScript array of strings.
func toStrings(v any) ([]string, error) {
	switch a := v.(type) {
	case []string:
		return a, nil
	case []any:
		out := make([]string, len(a))
		for i, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d is %s", i, jsType(e))
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not an array", jsType(v))
}

// jsType names the JavaScript type of an exported value, for messages.
func jsType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, int, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// Results are plain maps and []any so that JSON.stringify, Object.keys
// and Array.isArray behave as for JavaScript values.

func userValue(u hubapi.User) map[string]any {
	servers := map[string]any{}
	for name, s := range u.Servers {
		servers[name] = serverValue(s)
	}
	return map[string]any{
		"name": u.Name, "admin": u.Admin, "pending": u.Pending,
		"servers": servers, "roles": anyStrings(u.Roles), "groups": anyStrings(u.Groups),
		"created": timeValue(u.Created.Time), "lastActivity": timeValue(u.LastActivity.Time),
	}
}

func serverValue(s hubapi.Server) map[string]any {
	stopped := !s.Active()
	if s.Stopped != nil {
		stopped = *s.Stopped
	}
	return map[string]any{
		"name": s.Name, "ready": s.Ready, "pending": s.Pending, "stopped": stopped,
		"url": s.URL, "started": timeValue(s.Started.Time), "lastActivity": timeValue(s.LastActivity.Time),
	}
}

// timeValue is an ISO-8601 string, or null for the zero time.
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func anyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func progressValue(e hubapi.ProgressEvent) map[string]any {
	return map[string]any{"progress": e.Progress, "message": e.Message, "ready": e.Ready, "failed": e.Failed, "url": e.URL}
}

func shapeValue(s shape.Shape) map[string]any {
	per := make([]any, len(s.Users))
	for i, u := range s.Users {
		per[i] = map[string]any{"name": u.Name, "S": u.S, "R": u.R, "J": u.J}
	}
	return map[string]any{"U": s.U, "S": s.S, "R": s.R, "J": s.J, "linearRows": s.LinearRows, "perUser": per}
}

func histogramValue(h hubapi.Histogram) map[string]any {
	return map[string]any{"count": h.Count, "sum": h.Sum}
}

func metricsValue(m hubapi.HubMetrics) map[string]any {
	active := map[string]any{}
	for k, v := range m.ActiveUsers {
		active[k] = v
	}
	spawn := map[string]any{}
	for k, h := range m.SpawnDuration {
		spawn[k] = histogramValue(h)
	}
	return map[string]any{
		"rssBytes": m.RSSBytes, "cpuSeconds": m.CPUSeconds, "runningServers": m.RunningServers,
		"totalUsers": m.TotalUsers, "activeUsers": active, "initSpawnersSeconds": m.InitSpawnersSeconds,
		"startupSeconds": m.StartupSeconds, "eventLoopInterval": histogramValue(m.EventLoopInterval),
		"requestDuration": histogramValue(m.RequestDuration), "spawnDuration": spawn,
	}
}

func infoValue(i hubapi.Info) map[string]any {
	if i.Raw != nil {
		return i.Raw
	}
	return map[string]any{
		"version": i.Version, "python": i.Python, "sys_executable": i.SysExecutable,
		"spawner":       map[string]any{"class": i.Spawner.Class, "version": i.Spawner.Version},
		"authenticator": map[string]any{"class": i.Authenticator.Class, "version": i.Authenticator.Version},
	}
}

func versionValue(v hubapi.HubVersion) map[string]any {
	return map[string]any{"version": v.Raw, "major": v.Major, "minor": v.Minor, "patch": v.Patch, "pre": v.Pre}
}

// execValue is the JavaScript value of an execute() result: an object with
// status, stdout, stderr, result, displayData, executionCount, error,
// truncated and durationMs, whose values are converted when read.
func execValue(rt *sobek.Runtime, r kernel.ExecResult) sobek.Value {
	return rt.NewDynamicObject(&execObject{rt: rt, r: r})
}

// execKeys are the properties of an execute() result.
var execKeys = []string{"status", "stdout", "stderr", "result", "displayData", "executionCount", "error", "truncated", "durationMs"}

// execObject is an execute() result: the kernel.ExecResult, its properties
// made when first read, and whatever the script sets on it.
type execObject struct {
	rt    *sobek.Runtime
	r     kernel.ExecResult
	props map[string]sobek.Value // read or set so far
	gone  map[string]bool        // result properties the script deleted
}

var _ sobek.DynamicObject = (*execObject)(nil)

func (o *execObject) field(key string) (any, bool) {
	if o.gone[key] {
		return nil, false
	}
	r := o.r
	switch key {
	case "status":
		return r.Status, true
	case "stdout":
		return r.Stdout, true
	case "stderr":
		return r.Stderr, true
	case "result":
		return r.Result, true
	case "displayData":
		return anyStrings(r.DisplayData), true
	case "executionCount":
		return r.ExecutionCount, true
	case "error":
		if r.Error == nil {
			return nil, true
		}
		return map[string]any{"ename": r.Error.EName, "evalue": r.Error.EValue, "traceback": anyStrings(r.Error.Traceback)}, true
	case "truncated":
		return r.Truncated, true
	case "durationMs":
		d := r.IdleAfter
		if d == 0 {
			d = r.ReplyAfter
		}
		return ms(d), true
	}
	return nil, false
}

func (o *execObject) Get(key string) sobek.Value {
	if v, ok := o.props[key]; ok {
		return v
	}
	f, ok := o.field(key)
	if !ok {
		return nil
	}
	v := o.rt.ToValue(f)
	o.Set(key, v)
	return v
}

func (o *execObject) Set(key string, val sobek.Value) bool {
	if o.props == nil {
		o.props = make(map[string]sobek.Value)
	}
	o.props[key] = val
	return true
}

func (o *execObject) Has(key string) bool {
	if _, ok := o.props[key]; ok {
		return true
	}
	_, ok := o.field(key)
	return ok
}

func (o *execObject) Delete(key string) bool {
	delete(o.props, key)
	if slices.Contains(execKeys, key) {
		if o.gone == nil {
			o.gone = make(map[string]bool)
		}
		o.gone[key] = true
	}
	return true
}

func (o *execObject) Keys() []string {
	keys := make([]string, 0, len(execKeys)+len(o.props))
	for _, k := range execKeys {
		if !o.gone[k] {
			keys = append(keys, k)
		}
	}
	for k := range o.props {
		if _, ok := o.field(k); !ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// jsonValue decodes JSON into JavaScript-convertible values (null on error).
func jsonValue(raw []byte) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}
