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
	Scenarios         []executor.Config // in the order the script lists them
	Thresholds        []*metrics.ThresholdSet
	Tags              map[string]string
	SummaryTrendStats []string
	SummaryTimeUnit   string
	SetupTimeout      time.Duration
	TeardownTimeout   time.Duration
	Segment           string
	SegmentSequence   string
	// Warnings are problems that do not stop the run (unsupported options).
	Warnings []string
}

// Overrides are command-line settings that replace the script's (k6's
// --vus, --duration, --iterations). Zero means unset.
type Overrides struct {
	VUs        int64
	Duration   time.Duration
	Iterations int64
}

// supported lists the option fields hubcap reads.
var supported = []string{"scenarios", "thresholds", "vus", "duration", "iterations", "stages", "tags",
	"summaryTrendStats", "summaryTimeUnit", "setupTimeout", "teardownTimeout", "executionSegment", "executionSegmentSequence",
	// read by k6/http (internal/jshttp)
	"userAgent", "maxRedirects", "insecureSkipTLSVerify", "noConnectionReuse", "discardResponseBodies", "hosts", "batch", "batchPerHost", "throw"}

// ParseOptions reads the script's exported options (decoded from JSON),
// reporting every problem at once. scenarioOrder is the key order of
// options.scenarios (JSON objects decoded into Go maps lose it).
func ParseOptions(raw map[string]any, scenarioOrder []string, ov Overrides) (*TestOptions, []error) {
	o := &TestOptions{SetupTimeout: 60 * time.Second, TeardownTimeout: 60 * time.Second}
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, fmt.Errorf("%w: options.%s: %w", ErrInvalidOptions, field, err))
	}
	for _, k := range sortedKeys(raw) {
		if !slices.Contains(supported, k) {
			o.Warnings = append(o.Warnings, fmt.Sprintf("option %q is not supported by hubcap and is ignored", k))
		}
	}

	intField := func(name string) (int64, bool) {
		v, ok := raw[name]
		if !ok || v == nil {
			return 0, false
		}
		f, isNum := v.(float64)
		if !isNum || f != math.Trunc(f) {
			fail(name, fmt.Errorf("want an integer, got %v", v))
			return 0, false
		}
		return int64(f), true
	}
	durField := func(name string, dst *time.Duration) bool {
		v, ok := raw[name]
		if !ok || v == nil {
			return false
		}
		d, err := executor.ParseDuration(v)
		if err != nil {
			fail(name, err)
			return false
		}
		*dst = d
		return true
	}
	strField := func(name string, dst *string) {
		if v, ok := raw[name]; ok && v != nil {
			s, isStr := v.(string)
			if !isStr {
				fail(name, fmt.Errorf("want a string, got %v", v))
				return
			}
			*dst = s
		}
	}

	vus, hasVUs := intField("vus")
	iters, hasIters := intField("iterations")
	var dur time.Duration
	hasDur := durField("duration", &dur)
	durField("setupTimeout", &o.SetupTimeout)
	durField("teardownTimeout", &o.TeardownTimeout)
	strField("summaryTimeUnit", &o.SummaryTimeUnit)
	strField("executionSegment", &o.Segment)
	strField("executionSegmentSequence", &o.SegmentSequence)
	switch o.SummaryTimeUnit {
	case "", "s", "ms", "us":
	default:
		fail("summaryTimeUnit", fmt.Errorf("%q is not one of s, ms, us", o.SummaryTimeUnit))
	}
	if v, ok := raw["summaryTrendStats"]; ok && v != nil {
		arr, isArr := v.([]any)
		if !isArr {
			fail("summaryTrendStats", errors.New("want an array of strings"))
		}
		for _, x := range arr {
			s, _ := x.(string)
			o.SummaryTrendStats = append(o.SummaryTrendStats, s)
		}
		for _, err := range metrics.ValidateTrendStats(o.SummaryTrendStats) {
			fail("summaryTrendStats", err)
		}
	}
	if v, ok := raw["tags"]; ok && v != nil {
		m, isMap := v.(map[string]any)
		if !isMap {
			fail("tags", errors.New("want an object of strings"))
		}
		o.Tags = make(map[string]string, len(m))
		for k, x := range m {
			o.Tags[k] = fmt.Sprint(x)
		}
	}
	var stages []executor.Stage
	hasStages := false
	if v, ok := raw["stages"]; ok && v != nil {
		cfg, serrs := executor.ParseConfig(DefaultScenario, map[string]any{"executor": executor.RampingVUsType, "stages": v})
		for _, err := range serrs {
			fail("stages", err)
		}
		if rv, ok := cfg.(*executor.RampingVUsConfig); ok {
			stages = rv.Stages
			hasStages = len(stages) > 0
		}
	}
	rawScenarios, hasScenarios := raw["scenarios"].(map[string]any)
	if _, present := raw["scenarios"]; present && raw["scenarios"] != nil && !hasScenarios {
		fail("scenarios", errors.New("want an object of scenario name to scenario"))
	}

	// Command-line shortcuts win over the script's (k6's precedence).
	if ov.VUs > 0 {
		vus, hasVUs = ov.VUs, true
	}
	if ov.Duration > 0 || ov.Iterations > 0 {
		hasStages, hasScenarios = false, false
		hasDur, hasIters = false, false
		if ov.Duration > 0 {
			dur, hasDur = ov.Duration, true
		}
		if ov.Iterations > 0 {
			iters, hasIters = ov.Iterations, true
		}
	} else if ov.VUs > 0 && !hasDur && !hasIters && !hasStages {
		hasScenarios = false
	}

	conflict := func(a, b string) {
		errs = append(errs, fmt.Errorf("%w: using `%s` and `%s` options simultaneously is not allowed", ErrInvalidOptions, a, b))
	}
	switch {
	case hasIters:
		if hasStages {
			conflict("iterations", "stages")
		}
		if hasScenarios {
			conflict("iterations", "scenarios")
		}
		c := executor.NewSharedIterationsConfig(DefaultScenario)
		c.Iterations = iters
		if hasVUs {
			c.VUs = vus
		}
		if hasDur {
			c.MaxDuration = dur
		}
		o.Scenarios = append(o.Scenarios, &c)
	case hasDur:
		if hasStages {
			conflict("duration", "stages")
		}
		if hasScenarios {
			conflict("duration", "scenarios")
		}
		c := executor.NewConstantVUsConfig(DefaultScenario)
		c.Duration = dur
		if hasVUs {
			c.VUs = vus
		}
		o.Scenarios = append(o.Scenarios, &c)
	case hasStages:
		if hasScenarios {
			conflict("stages", "scenarios")
		}
		c := executor.NewRampingVUsConfig(DefaultScenario)
		c.Stages = stages
		if hasVUs {
			c.StartVUs = vus
		}
		o.Scenarios = append(o.Scenarios, &c)
	case hasVUs && !hasScenarios:
		c := executor.NewSharedIterationsConfig(DefaultScenario)
		c.VUs, c.Iterations = vus, vus
		o.Scenarios = append(o.Scenarios, &c)
	case hasScenarios && len(rawScenarios) > 0:
		if hasVUs {
			o.Warnings = append(o.Warnings, "options.vus is ignored: scenarios set their own VUs")
		}
		for _, name := range orderedNames(rawScenarios, scenarioOrder) {
			obj, ok := rawScenarios[name].(map[string]any)
			if !ok {
				fail("scenarios."+name, errors.New("want an object with an executor"))
				continue
			}
			c, cerrs := executor.ParseConfig(name, obj)
			for _, err := range cerrs {
				errs = append(errs, fmt.Errorf("%w: options.%w", ErrInvalidOptions, err))
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
		if verrs := c.Validate(); len(verrs) > 0 && !hasScenarios {
			for _, err := range verrs {
				errs = append(errs, fmt.Errorf("%w: options: %w", ErrInvalidOptions, err))
			}
		}
	}

	if v, ok := raw["thresholds"]; ok && v != nil {
		m, isMap := v.(map[string]any)
		if !isMap {
			fail("thresholds", errors.New("want an object of metric name to an array of thresholds"))
		}
		for _, key := range sortedKeys(m) {
			cfgs, cerrs := thresholdConfigs(key, m[key])
			for _, err := range cerrs {
				fail(fmt.Sprintf("thresholds[%q]", key), err)
			}
			set, serrs := metrics.NewThresholdSet(key, cfgs)
			for _, err := range serrs {
				errs = append(errs, fmt.Errorf("%w: options.%w", ErrInvalidOptions, err))
			}
			// Keep the valid expressions so that the metric checks report
			// their problems too.
			if set.Key.Name != "" {
				o.Thresholds = append(o.Thresholds, set)
			}
		}
	}
	return o, errs
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
