package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

var (
	// ErrThresholdSyntax is returned for a threshold expression that does not
	// parse.
	ErrThresholdSyntax = errors.New("malformed threshold expression")
	// ErrMetricKey is returned for a malformed `metric{tag:value}` key.
	ErrMetricKey = errors.New("malformed metric key")
	// ErrUnknownMetric is returned for a threshold on a metric nobody declared.
	ErrUnknownMetric = errors.New("threshold on an unknown metric")
	// ErrAggregation is returned for an aggregation the metric's kind lacks.
	ErrAggregation = errors.New("aggregation not available for this metric type")
)

// Expression is one parsed threshold expression such as `p(95) < 500`.
type Expression struct {
	Source string  // as written
	Agg    string  // avg, min, max, med, count, rate, value or p
	P      float64 // the percentile when Agg is "p", 0..100
	Op     string  // <, <=, >, >=, ==, ===, !=
	Value  float64 // right-hand side
}

// operators in the order they must be tried (longest first where one is a
// prefix of another).
var operators = []string{"<=", "<", ">=", ">", "===", "==", "!="}

// ParseExpression parses `aggregation operator number`, k6's threshold
// expression grammar: aggregation is avg, min, max, med, count, rate, value or
// p(N) with 0 ≤ N ≤ 100; the operator is one of <, <=, >, >=, ==, ===, !=.
func ParseExpression(src string) (Expression, error) {
	e := Expression{Source: src}
	var left, right string
	found := false
	for _, op := range operators {
		if l, r, ok := strings.Cut(src, op); ok && r != "" {
			left, right, e.Op, found = strings.TrimSpace(l), strings.TrimSpace(r), op, true
			break
		}
	}
	if !found {
		return e, fmt.Errorf("%w %q: want `aggregation operator value`, e.g. 'p(95)<500' or 'rate<0.01'", ErrThresholdSyntax, src)
	}
	switch left {
	case "avg", "min", "max", "med", "count", "rate", "value":
		e.Agg = left
	default:
		p, ok := parsePercentile(left)
		if !ok {
			return e, fmt.Errorf("%w %q: %q is not one of avg, min, max, med, count, rate, value or p(N) with 0≤N≤100",
				ErrThresholdSyntax, src, left)
		}
		e.Agg, e.P = "p", p
	}
	v, err := strconv.ParseFloat(right, 64)
	if err != nil || math.IsNaN(v) {
		return e, fmt.Errorf("%w %q: right-hand side %q is not a number", ErrThresholdSyntax, src, right)
	}
	e.Value = v
	return e, nil
}

// Key is the name of the aggregation in a sink's Values: "p(95)", "avg", ...
func (e Expression) Key() string {
	if e.Agg == "p" {
		return "p(" + strconv.FormatFloat(e.P, 'g', -1, 64) + ")"
	}
	return e.Agg
}

// Eval applies the expression to a sink's aggregated values. A missing
// aggregation (e.g. the rate of a rate metric without samples) passes, as in
// k6.
func (e Expression) Eval(values map[string]float64) bool {
	lhs, ok := values[e.Key()]
	if !ok {
		return true
	}
	switch e.Op {
	case "<":
		return lhs < e.Value
	case "<=":
		return lhs <= e.Value
	case ">":
		return lhs > e.Value
	case ">=":
		return lhs >= e.Value
	case "==", "===":
		return lhs == e.Value
	case "!=":
		return lhs != e.Value
	}
	return false
}

// aggregationsFor lists the aggregations k6 offers to thresholds per kind.
func aggregationsFor(k samples.Kind) []string {
	switch k {
	case samples.Counter:
		return []string{"count", "rate"}
	case samples.Gauge:
		return []string{"value"}
	case samples.Rate:
		return []string{"rate"}
	default:
		return []string{"avg", "min", "max", "med", "p(N)"}
	}
}

// validFor reports whether the expression's aggregation exists for kind k.
func (e Expression) validFor(k samples.Kind) bool {
	for _, a := range aggregationsFor(k) {
		if a == e.Agg || (a == "p(N)" && e.Agg == "p") {
			return true
		}
	}
	return false
}

// MetricKey is a threshold's left side: a metric name with optional tag
// filters, `http_req_duration{scenario:login,group:::a}`.
type MetricKey struct {
	Raw  string
	Name string
	Tags map[string]string // nil for the metric itself
}

// ParseMetricKey parses `name` or `name{key:value,key2:value2}`. Values may be
// quoted and may themselves contain colons (group paths `::a::b`).
func ParseMetricKey(s string) (MetricKey, error) {
	k := MetricKey{Raw: s}
	open := strings.IndexByte(s, '{')
	closing := strings.LastIndexByte(s, '}')
	switch {
	case open < 0 && closing < 0:
		k.Name = strings.TrimSpace(s)
		if k.Name == "" {
			return k, fmt.Errorf("%w %q: empty metric name", ErrMetricKey, s)
		}
		return k, nil
	case open < 0 || closing < 0:
		return k, fmt.Errorf("%w %q: unmatched curly brace", ErrMetricKey, s)
	case closing != len(s)-1 || closing < open:
		return k, fmt.Errorf("%w %q: the tag filter must end the key, as in name{tag:value}", ErrMetricKey, s)
	}
	k.Name = strings.TrimSpace(s[:open])
	if k.Name == "" {
		return k, fmt.Errorf("%w %q: empty metric name", ErrMetricKey, s)
	}
	inner := strings.TrimSpace(s[open+1 : closing])
	if inner == "" {
		return k, fmt.Errorf("%w %q: empty tag filter", ErrMetricKey, s)
	}
	k.Tags = make(map[string]string)
	for _, kv := range strings.Split(inner, ",") {
		name, value, ok := strings.Cut(kv, ":")
		name = strings.Trim(strings.TrimSpace(name), `"'`)
		if !ok || name == "" {
			return k, fmt.Errorf("%w %q: tag filter %q is not key:value", ErrMetricKey, s, strings.TrimSpace(kv))
		}
		k.Tags[name] = strings.Trim(strings.TrimSpace(value), `"'`)
	}
	return k, nil
}

// Matches reports whether a sample's tags satisfy every filter of the key.
func (k MetricKey) Matches(tags map[string]string) bool {
	for name, want := range k.Tags {
		if got, ok := tags[name]; !ok || got != want {
			return false
		}
	}
	return true
}

// Threshold is one expression with its abort policy.
type Threshold struct {
	Expression
	// AbortOnFail stops the test as soon as the threshold fails.
	AbortOnFail bool
	// DelayAbortEval holds off AbortOnFail until the test ran this long.
	DelayAbortEval time.Duration
}

// ThresholdConfig is one threshold as written in options: either a bare
// expression string (Threshold set, the rest zero) or the object form.
type ThresholdConfig struct {
	Threshold      string
	AbortOnFail    bool
	DelayAbortEval time.Duration
}

// ThresholdSet is every threshold on one metric key.
type ThresholdSet struct {
	Key        MetricKey
	Thresholds []Threshold
}

// NewThresholdSet parses the key and every expression, reporting every
// problem at once; errors name the key.
func NewThresholdSet(key string, cfgs []ThresholdConfig) (*ThresholdSet, []error) {
	var errs []error
	mk, err := ParseMetricKey(key)
	if err != nil {
		errs = append(errs, fmt.Errorf("thresholds[%q]: %w", key, err))
	}
	set := &ThresholdSet{Key: mk}
	for i, c := range cfgs {
		e, err := ParseExpression(c.Threshold)
		if err != nil {
			errs = append(errs, fmt.Errorf("thresholds[%q][%d]: %w", key, i, err))
			continue
		}
		if c.DelayAbortEval < 0 {
			errs = append(errs, fmt.Errorf("thresholds[%q][%d]: delayAbortEval can't be negative", key, i))
		}
		set.Thresholds = append(set.Thresholds, Threshold{Expression: e, AbortOnFail: c.AbortOnFail, DelayAbortEval: c.DelayAbortEval})
	}
	return set, errs
}

// ThresholdResult is the outcome of one threshold.
type ThresholdResult struct {
	Key    string // metric key, e.g. "http_req_duration{scenario:a}"
	Source string
	OK     bool
	// Abort is set when the threshold failed, has abortOnFail, and the test
	// ran at least delayAbortEval.
	Abort bool
}

// Evaluate applies the thresholds to a sink's aggregated values at elapsed
// test time. It is a pure function.
func Evaluate(set *ThresholdSet, values map[string]float64, elapsed time.Duration) []ThresholdResult {
	out := make([]ThresholdResult, 0, len(set.Thresholds))
	for _, t := range set.Thresholds {
		ok := t.Eval(values)
		out = append(out, ThresholdResult{
			Key:    set.Key.Raw,
			Source: t.Source,
			OK:     ok,
			Abort:  !ok && t.AbortOnFail && elapsed >= t.DelayAbortEval,
		})
	}
	return out
}

// percentilesOf lists the "p(N)" keys the set's thresholds need.
func (set *ThresholdSet) percentilesOf() []string {
	var ps []string
	for _, t := range set.Thresholds {
		if t.Agg == "p" {
			ps = append(ps, t.Key())
		}
	}
	sort.Strings(ps)
	return ps
}
