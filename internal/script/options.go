package script

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/metrics"
)

// DefaultScenario is the name of the scenario made from k6's shortcut
// options (vus, duration, iterations, stages).
const DefaultScenario = "default"

// TestOptions are a script's options after shortcuts and command-line
// overrides.
type TestOptions struct {
	Scenarios            []executor.Config // in the order the script lists them
	Thresholds           []*metrics.ThresholdSet
	Tags                 map[string]string
	SummaryTrendStats    []string
	SummaryTimeUnit      string
	SetupTimeout         time.Duration
	TeardownTimeout      time.Duration
	HandleSummaryTimeout time.Duration
	Segment              string
	SegmentSequence      string
	// Warnings are problems that do not stop the run (unsupported options).
	Warnings []string
}

// Overrides are command-line (and K6_* environment) settings that replace
// the script's: k6's --vus, --duration, --iterations, --stage, and any
// other option by its name in Options. Zero means unset.
type Overrides struct {
	VUs        int64
	Duration   time.Duration
	Iterations int64
	Stages     []executor.Stage
	// Options replace the script's options of the same name (e.g.
	// summaryTrendStats, userAgent), as decoded from JSON.
	Options map[string]any
}

// supported lists the option fields hubcap reads.
var supported = []string{"scenarios", "thresholds", "vus", "duration", "iterations", "stages", "tags",
	"summaryTrendStats", "summaryTimeUnit", "setupTimeout", "teardownTimeout", "handleSummaryTimeout",
	"executionSegment", "executionSegmentSequence",
	// read by k6/http (internal/jshttp)
	"userAgent", "maxRedirects", "insecureSkipTLSVerify", "noConnectionReuse", "discardResponseBodies", "hosts", "batch", "batchPerHost", "throw",
	"tlsVersion", "tlsCipherSuites"}

// ParseOptions reads the script's exported options (decoded from JSON),
// reporting every problem at once. scenarioOrder is the key order of
// options.scenarios (JSON objects decoded into Go maps lose it).
//
// The steps: the overrides' options replace the script's, unsupported
// fields are warned about, then the plain fields, the shortcuts (vus,
// duration, iterations, stages, with the command line's winning), the
// scenarios and the thresholds are read.
func ParseOptions(raw map[string]any, scenarioOrder []string, ov Overrides) (*TestOptions, []error) {
	p := &optionParser{raw: withOverrides(raw, ov), o: &TestOptions{
		SetupTimeout: 60 * time.Second, TeardownTimeout: 60 * time.Second, HandleSummaryTimeout: 2 * time.Minute}}
	p.warnUnsupported()
	p.plainFields()
	sc := p.shortcuts(ov)
	p.scenarios(sc, scenarioOrder)
	p.thresholds()
	return p.o, p.errs
}

// withOverrides returns raw with ov.Options replacing its fields.
func withOverrides(raw map[string]any, ov Overrides) map[string]any {
	if len(ov.Options) == 0 {
		return raw
	}
	out := make(map[string]any, len(raw)+len(ov.Options))
	for k, v := range raw {
		out[k] = v
	}
	for k, v := range ov.Options {
		out[k] = v
	}
	return out
}

// optionParser collects the options and every problem found.
type optionParser struct {
	raw  map[string]any
	o    *TestOptions
	errs []error
}

func (p *optionParser) fail(field string, err error) {
	p.errs = append(p.errs, fmt.Errorf("%w: options.%s: %w", ErrInvalidOptions, field, err))
}

func (p *optionParser) warnUnsupported() {
	for _, k := range sortedKeys(p.raw) {
		if !slices.Contains(supported, k) {
			p.o.Warnings = append(p.o.Warnings, fmt.Sprintf("option %q is not supported by hubcap and is ignored", k))
		}
	}
}

func (p *optionParser) intField(name string) (int64, bool) {
	v, ok := p.raw[name]
	if !ok || v == nil {
		return 0, false
	}
	f, isNum := v.(float64)
	if !isNum || f != math.Trunc(f) {
		p.fail(name, fmt.Errorf("want an integer, got %v", v))
		return 0, false
	}
	return int64(f), true
}

func (p *optionParser) durField(name string, dst *time.Duration) bool {
	v, ok := p.raw[name]
	if !ok || v == nil {
		return false
	}
	d, err := executor.ParseDuration(v)
	if err != nil {
		p.fail(name, err)
		return false
	}
	*dst = d
	return true
}

func (p *optionParser) strField(name string, dst *string) {
	if v, ok := p.raw[name]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			p.fail(name, fmt.Errorf("want a string, got %v", v))
			return
		}
		*dst = s
	}
}

// plainFields reads timeouts, summary settings, the segment and tags.
func (p *optionParser) plainFields() {
	o := p.o
	p.durField("setupTimeout", &o.SetupTimeout)
	p.durField("teardownTimeout", &o.TeardownTimeout)
	p.durField("handleSummaryTimeout", &o.HandleSummaryTimeout)
	p.strField("summaryTimeUnit", &o.SummaryTimeUnit)
	p.strField("executionSegment", &o.Segment)
	p.strField("executionSegmentSequence", &o.SegmentSequence)
	switch o.SummaryTimeUnit {
	case "", "s", "ms", "us":
	default:
		p.fail("summaryTimeUnit", fmt.Errorf("%q is not one of s, ms, us", o.SummaryTimeUnit))
	}
	if v, ok := p.raw["summaryTrendStats"]; ok && v != nil {
		arr, isArr := v.([]any)
		if !isArr {
			p.fail("summaryTrendStats", errors.New("want an array of strings"))
		}
		for _, x := range arr {
			s, _ := x.(string)
			o.SummaryTrendStats = append(o.SummaryTrendStats, s)
		}
		for _, err := range metrics.ValidateTrendStats(o.SummaryTrendStats) {
			p.fail("summaryTrendStats", err)
		}
	}
	if v, ok := p.raw["tags"]; ok && v != nil {
		m, isMap := v.(map[string]any)
		if !isMap {
			p.fail("tags", errors.New("want an object of strings"))
		}
		o.Tags = make(map[string]string, len(m))
		for k, x := range m {
			o.Tags[k] = fmt.Sprint(x)
		}
	}
}

// shortcutValues are k6's shortcut options after the command line's.
type shortcutValues struct {
	vus, iters                          int64
	dur                                 time.Duration
	stages                              []executor.Stage
	hasVUs, hasIters, hasDur, hasStages bool
	rawScenarios                        map[string]any
	hasScenarios                        bool
}

// shortcuts reads vus, duration, iterations and stages; the command line's
// values win over the script's (k6's precedence).
func (p *optionParser) shortcuts(ov Overrides) shortcutValues {
	var sc shortcutValues
	sc.vus, sc.hasVUs = p.intField("vus")
	sc.iters, sc.hasIters = p.intField("iterations")
	sc.hasDur = p.durField("duration", &sc.dur)
	if v, ok := p.raw["stages"]; ok && v != nil {
		cfg, serrs := executor.ParseConfig(DefaultScenario, map[string]any{"executor": executor.RampingVUsType, "stages": v})
		for _, err := range serrs {
			p.fail("stages", err)
		}
		if rv, ok := cfg.(*executor.RampingVUsConfig); ok {
			sc.stages = rv.Stages
			sc.hasStages = len(sc.stages) > 0
		}
	}
	sc.rawScenarios, sc.hasScenarios = p.raw["scenarios"].(map[string]any)
	if _, present := p.raw["scenarios"]; present && p.raw["scenarios"] != nil && !sc.hasScenarios {
		p.fail("scenarios", errors.New("want an object of scenario name to scenario"))
	}

	if ov.VUs > 0 {
		sc.vus, sc.hasVUs = ov.VUs, true
	}
	switch {
	case ov.Duration > 0 || ov.Iterations > 0 || len(ov.Stages) > 0:
		sc.hasStages, sc.hasScenarios = false, false
		sc.hasDur, sc.hasIters = false, false
		if ov.Duration > 0 {
			sc.dur, sc.hasDur = ov.Duration, true
		}
		if ov.Iterations > 0 {
			sc.iters, sc.hasIters = ov.Iterations, true
		}
		if len(ov.Stages) > 0 {
			sc.stages, sc.hasStages = ov.Stages, true
		}
	case ov.VUs > 0 && !sc.hasDur && !sc.hasIters && !sc.hasStages:
		sc.hasScenarios = false
	}
	return sc
}

// scenarios makes the scenarios: the shortcuts' default scenario exactly
// as k6 maps them, or options.scenarios in the script's order.
func (p *optionParser) scenarios(sc shortcutValues, scenarioOrder []string) {
	o := p.o
	conflict := func(a, b string) {
		p.errs = append(p.errs, fmt.Errorf("%w: using `%s` and `%s` options simultaneously is not allowed", ErrInvalidOptions, a, b))
	}
	switch {
	case sc.hasIters:
		if sc.hasStages {
			conflict("iterations", "stages")
		}
		if sc.hasScenarios {
			conflict("iterations", "scenarios")
		}
		c := executor.NewSharedIterationsConfig(DefaultScenario)
		c.Iterations = sc.iters
		if sc.hasVUs {
			c.VUs = sc.vus
		}
		if sc.hasDur {
			c.MaxDuration = sc.dur
		}
		o.Scenarios = append(o.Scenarios, &c)
	case sc.hasDur:
		if sc.hasStages {
			conflict("duration", "stages")
		}
		if sc.hasScenarios {
			conflict("duration", "scenarios")
		}
		c := executor.NewConstantVUsConfig(DefaultScenario)
		c.Duration = sc.dur
		if sc.hasVUs {
			c.VUs = sc.vus
		}
		o.Scenarios = append(o.Scenarios, &c)
	case sc.hasStages:
		if sc.hasScenarios {
			conflict("stages", "scenarios")
		}
		c := executor.NewRampingVUsConfig(DefaultScenario)
		c.Stages = sc.stages
		if sc.hasVUs {
			c.StartVUs = sc.vus
		}
		o.Scenarios = append(o.Scenarios, &c)
	case sc.hasVUs && !sc.hasScenarios:
		c := executor.NewSharedIterationsConfig(DefaultScenario)
		c.VUs, c.Iterations = sc.vus, sc.vus
		o.Scenarios = append(o.Scenarios, &c)
	case sc.hasScenarios && len(sc.rawScenarios) > 0:
		if sc.hasVUs {
			o.Warnings = append(o.Warnings, "options.vus is ignored: scenarios set their own VUs")
		}
		for _, name := range orderedNames(sc.rawScenarios, scenarioOrder) {
			obj, ok := sc.rawScenarios[name].(map[string]any)
			if !ok {
				p.fail("scenarios."+name, errors.New("want an object with an executor"))
				continue
			}
			c, cerrs := executor.ParseConfig(name, obj)
			for _, err := range cerrs {
				p.errs = append(p.errs, fmt.Errorf("%w: options.%w", ErrInvalidOptions, err))
			}
			if c != nil {
				o.Scenarios = append(o.Scenarios, c)
			}
		}
	default:
		c := executor.NewPerVUIterationsConfig(DefaultScenario)
		o.Scenarios = append(o.Scenarios, &c)
	}
	if c, ok := firstConfig(o.Scenarios); ok && len(o.Scenarios) == 1 && c.Base().Name == DefaultScenario {
		if verrs := c.Validate(); len(verrs) > 0 && !sc.hasScenarios {
			for _, err := range verrs {
				p.errs = append(p.errs, fmt.Errorf("%w: options: %w", ErrInvalidOptions, err))
			}
		}
	}
}

// thresholds reads options.thresholds, keeping the valid expressions of a
// set so that the metric checks report their problems too.
func (p *optionParser) thresholds() {
	v, ok := p.raw["thresholds"]
	if !ok || v == nil {
		return
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		p.fail("thresholds", errors.New("want an object of metric name to an array of thresholds"))
	}
	for _, key := range sortedKeys(m) {
		cfgs, cerrs := thresholdConfigs(key, m[key])
		for _, err := range cerrs {
			p.fail(fmt.Sprintf("thresholds[%q]", key), err)
		}
		set, serrs := metrics.NewThresholdSet(key, cfgs)
		for _, err := range serrs {
			p.errs = append(p.errs, fmt.Errorf("%w: options.%w", ErrInvalidOptions, err))
		}
		if set.Key.Name != "" {
			p.o.Thresholds = append(p.o.Thresholds, set)
		}
	}
}

func firstConfig(cs []executor.Config) (executor.Config, bool) {
	if len(cs) == 0 {
		return nil, false
	}
	return cs[0], true
}

// thresholdConfigs reads ['p(95)<500', {threshold, abortOnFail,
// delayAbortEval}] (a single string is accepted too).
func thresholdConfigs(key string, v any) ([]metrics.ThresholdConfig, []error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case string:
		items = []any{x}
	default:
		return nil, []error{errors.New("want an array of threshold expressions")}
	}
	var out []metrics.ThresholdConfig
	var errs []error
	for i, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, metrics.ThresholdConfig{Threshold: x})
		case map[string]any:
			var c metrics.ThresholdConfig
			for field, fv := range x {
				switch field {
				case "threshold":
					s, ok := fv.(string)
					if !ok {
						errs = append(errs, fmt.Errorf("[%d].threshold: want a string", i))
					}
					c.Threshold = s
				case "abortOnFail":
					b, ok := fv.(bool)
					if !ok {
						errs = append(errs, fmt.Errorf("[%d].abortOnFail: want a boolean", i))
					}
					c.AbortOnFail = b
				case "delayAbortEval":
					d, err := executor.ParseDuration(fv)
					if err != nil {
						errs = append(errs, fmt.Errorf("[%d].delayAbortEval: %w", i, err))
					}
					c.DelayAbortEval = d
				default:
					errs = append(errs, fmt.Errorf("[%d].%s: unknown field (use threshold, abortOnFail, delayAbortEval)", i, field))
				}
			}
			if c.Threshold == "" {
				errs = append(errs, fmt.Errorf("[%d]: missing threshold expression", i))
				continue
			}
			out = append(out, c)
		default:
			errs = append(errs, fmt.Errorf("[%d]: want a string or {threshold, abortOnFail, delayAbortEval}", i))
		}
	}
	_ = key
	return out, errs
}

// orderedNames lists m's keys in the given order, then any others sorted.
func orderedNames(m map[string]any, order []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range order {
		if _, ok := m[n]; ok && !seen[n] {
			out = append(out, n)
			seen[n] = true
		}
	}
	for _, n := range sortedKeys(m) {
		if !seen[n] {
			out = append(out, n)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateExec checks that every scenario's function is exported.
func validateExec(cfgs []executor.Config, exported func(string) bool) []error {
	var errs []error
	for _, c := range cfgs {
		b := c.Base()
		if !exported(b.ExecName()) {
			field := "exec"
			hint := fmt.Sprintf("export function %s() { ... }", b.ExecName())
			if b.Exec == "" {
				field = "exec (default)"
				hint = "export default function () { ... }, or set exec to an exported function"
			}
			errs = append(errs, fmt.Errorf("%w: options.scenarios.%s: %s: function %q is not exported by the script; add %s",
				ErrInvalidOptions, b.Name, field, b.ExecName(), hint))
		}
	}
	return errs
}
