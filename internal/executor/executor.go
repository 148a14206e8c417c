// Package executor implements k6's six executors (shared-iterations,
// per-vu-iterations, constant-vus, ramping-vus, constant-arrival-rate,
// ramping-arrival-rate), execution segments, and the scheduler that starts
// scenarios at their startTime and hands them virtual users.
//
// One file per executor holds its config, defaults, Validate and run loop.
// Pacing (how many VUs, when the next arrival is due) is written as pure
// functions of elapsed time so it can be table-tested without a clock.
//
// The package does not know about JavaScript: a VU is anything that can run
// one iteration (see VU and ActiveVU); the script runtime implements them.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Executor type names, as in k6.
const (
	SharedIterationsType   = "shared-iterations"
	PerVUIterationsType    = "per-vu-iterations"
	ConstantVUsType        = "constant-vus"
	RampingVUsType         = "ramping-vus"
	ConstantArrivalType    = "constant-arrival-rate"
	RampingArrivalRateType = "ramping-arrival-rate"
)

// DefaultGracefulStop is k6's default gracefulStop (and gracefulRampDown).
const DefaultGracefulStop = 30 * time.Second

// DefaultExec is the function a scenario runs unless it sets exec.
const DefaultExec = "default"

// minDuration is the shortest duration k6 accepts for a scenario.
const minDuration = time.Second

var (
	// ErrInvalidConfig wraps every scenario configuration problem.
	ErrInvalidConfig = errors.New("invalid scenario configuration")
	// ErrUnknownExecutor is returned for an unknown executor type.
	ErrUnknownExecutor = errors.New("unknown executor")
)

// Config is one scenario's configuration.
type Config interface {
	// Base returns the settings common to every executor.
	Base() *BaseConfig
	// Validate reports every problem of the configuration at once.
	Validate() []error
	// Requirements says how many VUs the scenario needs in this segment and
	// for how long at most (excluding startTime, including gracefulStop).
	Requirements(et *Tuple) Requirements
	// HasWork reports whether this segment runs anything of the scenario.
	HasWork(et *Tuple) bool
	// Description is a one-line human summary, as in k6's run header.
	Description(et *Tuple) string
	// NewExecutor returns the executor running this scenario.
	NewExecutor(env *Env) Executor
}

// Requirements are a scenario's VU needs.
type Requirements struct {
	PlannedVUs      int64         // allocated before the test starts
	MaxUnplannedVUs int64         // arrival-rate executors may add these
	Duration        time.Duration // max run time including gracefulStop
}

// BaseConfig holds the options every executor has.
type BaseConfig struct {
	Name         string
	Type         string
	StartTime    time.Duration
	GracefulStop time.Duration
	Exec         string // "" means "default"
	Env          map[string]string
	Tags         map[string]string
}

// Base returns c.
func (c *BaseConfig) Base() *BaseConfig { return c }

// ExecName returns the exported function the scenario runs.
func (c *BaseConfig) ExecName() string {
	if c.Exec == "" {
		return DefaultExec
	}
	return c.Exec
}

var scenarioNameRE = regexp.MustCompile(`^[0-9a-zA-Z_-]+$`)

// Validate checks the common settings.
func (c *BaseConfig) Validate() []error {
	var errs []error
	if !scenarioNameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("the scenario name %q should contain only numbers, latin letters, underscores, and dashes", c.Name))
	}
	if c.StartTime < 0 {
		errs = append(errs, errors.New("startTime can't be negative"))
	}
	if c.GracefulStop < 0 {
		errs = append(errs, errors.New("gracefulStop can't be negative"))
	}
	return errs
}

func (c *BaseConfig) baseInfo(facts ...string) string {
	if c.Exec != "" {
		facts = append(facts, "exec: "+c.Exec)
	}
	if c.StartTime > 0 {
		facts = append(facts, "startTime: "+FormatDuration(c.StartTime))
	}
	if c.GracefulStop > 0 {
		facts = append(facts, "gracefulStop: "+FormatDuration(c.GracefulStop))
	}
	if len(facts) == 0 {
		return ""
	}
	return " (" + strings.Join(facts, ", ") + ")"
}

// Stage is one step of a ramping executor: reach Target over Duration.
type Stage struct {
	Duration time.Duration
	Target   int64
}

func stagesDuration(stages []Stage) time.Duration {
	var d time.Duration
	for _, s := range stages {
		d += s.Duration
	}
	return d
}

func validateStages(stages []Stage) []error {
	if len(stages) == 0 {
		return []error{errors.New("stages: at least one stage has to be specified")}
	}
	var errs []error
	for i, s := range stages {
		if s.Duration < 0 {
			errs = append(errs, fmt.Errorf("stages[%d]: the duration can't be negative", i))
		}
		if s.Target < 0 {
			errs = append(errs, fmt.Errorf("stages[%d]: the target can't be negative", i))
		}
	}
	return errs
}

// ParseDuration parses k6 durations: a Go duration string extended with a
// "d" (24h) unit ("90s", "1h30m", "500ms", "2d"), or a number of
// milliseconds (JSON numbers, as k6 accepts).
func ParseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > float64(math.MaxInt64/int64(time.Millisecond)) {
			return 0, fmt.Errorf("duration %v out of range", x)
		}
		return time.Duration(x * float64(time.Millisecond)), nil
	case int:
		return time.Duration(x) * time.Millisecond, nil
	case int64:
		return time.Duration(x) * time.Millisecond, nil
	case string:
		return parseDurationString(x)
	}
	return 0, fmt.Errorf("want a duration like \"30s\" or a number of milliseconds, got %T", v)
}

func parseDurationString(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil { // bare number: milliseconds
		return ParseDuration(n)
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("invalid duration %q: use forms like \"90s\", \"1h30m\", \"500ms\", \"2d\"", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use forms like \"90s\", \"1h30m\", \"500ms\", \"2d\"", s)
	}
	return days + d, nil
}

// FormatDuration prints d as k6 does ("1m30s", "500ms", "0s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// configFactory makes a default config to decode into.
type configFactory func(name string) decodable

type decodable interface {
	Config
	decode(d *decoder)
}

var factories = map[string]configFactory{
	SharedIterationsType:   func(n string) decodable { c := NewSharedIterationsConfig(n); return &c },
	PerVUIterationsType:    func(n string) decodable { c := NewPerVUIterationsConfig(n); return &c },
	ConstantVUsType:        func(n string) decodable { c := NewConstantVUsConfig(n); return &c },
	RampingVUsType:         func(n string) decodable { c := NewRampingVUsConfig(n); return &c },
	ConstantArrivalType:    func(n string) decodable { c := NewConstantArrivalRateConfig(n); return &c },
	RampingArrivalRateType: func(n string) decodable { c := NewRampingArrivalRateConfig(n); return &c },
}

// Types lists the executor types.
func Types() []string {
	out := make([]string, 0, len(factories))
	for t := range factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ParseConfig decodes one scenario from its JSON object (as produced by
// JSON.stringify of the script's options) and validates it. Every problem is
// reported, each error naming the scenario and the field.
func ParseConfig(name string, raw map[string]any) (Config, []error) {
	prefix := fmt.Sprintf("scenarios.%s", name)
	typ, _ := raw["executor"].(string)
	if typ == "" {
		return nil, []error{configError(fmt.Errorf("%s: executor: missing; use one of %s", prefix, strings.Join(Types(), ", ")))}
	}
	f, ok := factories[typ]
	if !ok {
		return nil, []error{configError(fmt.Errorf("%s: executor: %w %q; use one of %s", prefix, ErrUnknownExecutor, typ, strings.Join(Types(), ", ")))}
	}
	c := f(name)
	d := &decoder{raw: raw, used: map[string]bool{"executor": true}}
	b := c.Base()
	d.duration("startTime", &b.StartTime)
	d.duration("gracefulStop", &b.GracefulStop)
	d.str("exec", &b.Exec)
	d.strMap("env", &b.Env)
	d.strMap("tags", &b.Tags)
	if _, ok := raw["exec"]; ok && b.Exec == "" && len(d.errs) == 0 {
		d.fail("exec", errors.New("exec value cannot be empty"))
	}
	c.decode(d)
	d.unknownFields()
	errs := d.errs
	for _, err := range c.Validate() {
		field, _, _ := strings.Cut(err.Error(), ":")
		field, _, _ = strings.Cut(field, "[")
		if !d.hasFailed(field) { // else already reported by the decoder
			errs = append(errs, err)
		}
	}
	for i, err := range errs {
		errs[i] = configError(fmt.Errorf("%s: %w", prefix, err))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// invalidConfig is a configuration error that reads as its message alone
// but matches ErrInvalidConfig.
type invalidConfig struct{ err error }

func (e invalidConfig) Error() string   { return e.err.Error() }
func (e invalidConfig) Unwrap() []error { return []error{ErrInvalidConfig, e.err} }

func configError(err error) error { return invalidConfig{err} }

// decoder reads fields of a JSON object, collecting every problem.
type decoder struct {
	raw    map[string]any
	used   map[string]bool
	failed map[string]bool
	errs   []error
}

func (d *decoder) fail(field string, err error) {
	if d.failed == nil {
		d.failed = make(map[string]bool)
	}
	d.failed[field] = true
	d.errs = append(d.errs, fmt.Errorf("%s: %w", field, err))
}

// hasFailed reports whether field or a part of it failed to decode.
func (d *decoder) hasFailed(field string) bool {
	for k := range d.failed {
		if k == field || strings.HasPrefix(k, field+"[") || strings.HasPrefix(k, field+".") {
			return true
		}
	}
	return false
}

func (d *decoder) get(field string) (any, bool) {
	d.used[field] = true
	v, ok := d.raw[field]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// int reads an integer field; it reports whether the field was present.
func (d *decoder) int(field string, dst *int64) bool {
	v, ok := d.get(field)
	if !ok {
		return false
	}
	n, err := toInt(v)
	if err != nil {
		d.fail(field, err)
		return true
	}
	*dst = n
	return true
}

func toInt(v any) (int64, error) {
	f, ok := v.(float64)
	if !ok {
		return 0, fmt.Errorf("want an integer, got %s", describe(v))
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("want an integer, got %v", f)
	}
	return int64(f), nil
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%v", v)
}

func (d *decoder) duration(field string, dst *time.Duration) bool {
	v, ok := d.get(field)
	if !ok {
		return false
	}
	dur, err := ParseDuration(v)
	if err != nil {
		d.fail(field, err)
		return true
	}
	*dst = dur
	return true
}

func (d *decoder) str(field string, dst *string) {
	v, ok := d.get(field)
	if !ok {
		return
	}
	s, isStr := v.(string)
	if !isStr {
		d.fail(field, fmt.Errorf("want a string, got %s", describe(v)))
		return
	}
	*dst = s
}

func (d *decoder) strMap(field string, dst *map[string]string) {
	v, ok := d.get(field)
	if !ok {
		return
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		d.fail(field, fmt.Errorf("want an object of strings, got %s", describe(v)))
		return
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		switch s := x.(type) {
		case string:
			out[k] = s
		case float64, bool:
			out[k] = fmt.Sprint(s)
		default:
			d.fail(field+"."+k, fmt.Errorf("want a string, got %s", describe(x)))
		}
	}
	*dst = out
}

func (d *decoder) stages(field string, dst *[]Stage) bool {
	v, ok := d.get(field)
	if !ok {
		return false
	}
	arr, isArr := v.([]any)
	if !isArr {
		d.fail(field, fmt.Errorf("want an array of {duration, target}, got %s", describe(v)))
		return true
	}
	out := make([]Stage, 0, len(arr))
	for i, x := range arr {
		obj, isObj := x.(map[string]any)
		if !isObj {
			d.fail(fmt.Sprintf("%s[%d]", field, i), fmt.Errorf("want {duration, target}, got %s", describe(x)))
			continue
		}
		var st Stage
		sd := &decoder{raw: obj, used: map[string]bool{}}
		if !sd.duration("duration", &st.Duration) {
			sd.fail("duration", errors.New("missing"))
		}
		if !sd.int("target", &st.Target) {
			sd.fail("target", errors.New("missing"))
		}
		sd.unknownFields()
		for _, err := range sd.errs {
			d.errs = append(d.errs, fmt.Errorf("%s[%d].%w", field, i, err))
		}
		for k := range sd.failed {
			if d.failed == nil {
				d.failed = make(map[string]bool)
			}
			d.failed[fmt.Sprintf("%s[%d].%s", field, i, k)] = true
		}
		out = append(out, st)
	}
	*dst = out
	return true
}

// unknownFields reports fields nobody read, with a suggestion when one is
// close to a known field.
func (d *decoder) unknownFields() {
	var known []string
	for k := range d.used {
		known = append(known, k)
	}
	var names []string
	for k := range d.raw {
		if !d.used[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		msg := "unknown field"
		if s := closest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.fail(k, errors.New(msg))
	}
}

// closest returns the known name within edit distance 2 of s, or one that
// contains s, if any.
func closest(s string, known []string) string {
	best, bestD := "", 3
	sort.Strings(known)
	ls := strings.ToLower(s)
	for _, k := range known {
		if dd := editDistance(ls, strings.ToLower(k)); dd < bestD {
			best, bestD = k, dd
		}
	}
	if best == "" && len(s) >= 2 {
		for _, k := range known {
			if strings.Contains(strings.ToLower(k), ls) {
				return k
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Env is what an executor gets from the scheduler.
type Env struct {
	Tuple *Tuple
	Pool  *Pool
	State *State
	// Sink receives the executor's own samples (dropped_iterations).
	Sink samples.Sink
	// Tags are added to the executor's samples (run tags); the scenario tag
	// is added by the executor.
	Tags map[string]string
	// Stop is done when the run must stop gracefully (first Ctrl-C): no new
	// iterations start and running ones get gracefulStop to finish.
	Stop   context.Context
	Logger *slog.Logger
}

// Executor runs one scenario.
type Executor interface {
	// Run runs the scenario until it is done. Cancelling ctx interrupts
	// every running iteration at once.
	Run(ctx context.Context) error
	// Progress reports where the scenario stands; safe to call any time.
	Progress() Progress
}

// Progress is a scenario's live state, for the progress display.
type Progress struct {
	Scenario    string
	Executor    string
	Status      Status
	Fraction    float64 // 0..1
	Elapsed     time.Duration
	Duration    time.Duration // regular duration (0 when iteration bound)
	VUs         int64         // VUs running iterations now
	MaxVUs      int64         // VUs allocated to the scenario
	Iterations  int64         // completed
	Interrupted int64
	Dropped     int64
	Errors      int64
	Detail      string // executor-specific, e.g. "42/100 shared iters"
}

// Status is a scenario's phase.
type Status int

// Scenario phases.
const (
	Waiting     Status = iota // before startTime
	Running                   // starting iterations
	Stopping                  // regular duration over, waiting for iterations
	Done                      // finished normally
	Interrupted               // stopped early
)

// String names the status.
func (s Status) String() string {
	return [...]string{"waiting", "running", "stopping", "done", "interrupted"}[s]
}
