package metrics

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Sink summarises the samples of one metric (or submetric). Sinks are not
// safe for concurrent use; the Engine serialises access.
type Sink interface {
	// Add records one sample value.
	Add(v float64)
	// Empty reports whether no sample was added.
	Empty() bool
	// Values returns the aggregations of the sink, keyed as in k6's summary
	// ("count", "rate", "value", "min", "max", "avg", "med", "p(95)",
	// "passes", "fails"). duration is the test run time so far, used for a
	// counter's per-second rate; trendStats lists the trend columns wanted
	// ("avg", "p(99.9)", "count", ...).
	Values(duration time.Duration, trendStats []string) map[string]float64
}

// NewSink returns an empty sink for a metric of kind k.
func NewSink(k samples.Kind) Sink {
	switch k {
	case samples.Counter:
		return &CounterSink{}
	case samples.Gauge:
		return &GaugeSink{}
	case samples.Rate:
		return &RateSink{}
	default:
		return &TrendSink{}
	}
}

// CounterSink sums values.
type CounterSink struct {
	Sum   float64
	added bool
}

// Add adds v to the sum.
func (c *CounterSink) Add(v float64) { c.Sum += v; c.added = true }

// Empty reports whether nothing was added.
func (c *CounterSink) Empty() bool { return !c.added }

// Values returns count (the sum) and rate (sum per second of duration; 0
// when duration is not positive).
func (c *CounterSink) Values(duration time.Duration, _ []string) map[string]float64 {
	rate := 0.0
	if duration > 0 {
		rate = c.Sum / duration.Seconds()
	}
	return map[string]float64{"count": c.Sum, "rate": rate}
}

// GaugeSink keeps the last value and the extremes.
type GaugeSink struct {
	Value, Min, Max float64
	added           bool
}

// Add sets the current value.
func (g *GaugeSink) Add(v float64) {
	if !g.added || v < g.Min {
		g.Min = v
	}
	if !g.added || v > g.Max {
		g.Max = v
	}
	g.Value = v
	g.added = true
}

// Empty reports whether nothing was added.
func (g *GaugeSink) Empty() bool { return !g.added }

// Values returns value, min and max.
func (g *GaugeSink) Values(time.Duration, []string) map[string]float64 {
	return map[string]float64{"value": g.Value, "min": g.Min, "max": g.Max}
}

// RateSink counts non-zero values among all values.
type RateSink struct {
	Trues, Total int64
}

// Add counts v, as true when non-zero.
func (r *RateSink) Add(v float64) {
	r.Total++
	if v != 0 {
		r.Trues++
	}
}

// Empty reports whether nothing was added.
func (r *RateSink) Empty() bool { return r.Total == 0 }

// Values returns rate (Trues/Total, 0 when empty), passes and fails.
func (r *RateSink) Values(time.Duration, []string) map[string]float64 {
	rate := 0.0
	if r.Total > 0 {
		rate = float64(r.Trues) / float64(r.Total)
	}
	return map[string]float64{"rate": rate, "passes": float64(r.Trues), "fails": float64(r.Total - r.Trues)}
}

// TrendSink keeps every value to compute exact percentiles, as k6 does.
type TrendSink struct {
	values   []float64
	sorted   bool
	sum      float64
	min, max float64
}

// Add records v.
func (t *TrendSink) Add(v float64) {
	if len(t.values) == 0 || v < t.min {
		t.min = v
	}
	if len(t.values) == 0 || v > t.max {
		t.max = v
	}
	t.values = append(t.values, v)
	t.sum += v
	t.sorted = false
}

// Empty reports whether nothing was added.
func (t *TrendSink) Empty() bool { return len(t.values) == 0 }

// Count is the number of values.
func (t *TrendSink) Count() int { return len(t.values) }

// Min is the smallest value (0 when empty).
func (t *TrendSink) Min() float64 { return t.min }

// Max is the largest value (0 when empty).
func (t *TrendSink) Max() float64 { return t.max }

// Avg is the arithmetic mean (0 when empty).
func (t *TrendSink) Avg() float64 {
	if len(t.values) == 0 {
		return 0
	}
	return t.sum / float64(len(t.values))
}

// P returns the q-quantile (0 ≤ q ≤ 1) of the values (Percentile). An
// empty sink gives 0.
func (t *TrendSink) P(q float64) float64 {
	if len(t.values) == 0 {
		return 0
	}
	if !t.sorted {
		sort.Float64s(t.values)
		t.sorted = true
	}
	return Percentile(t.values, q)
}

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of ascending values by
// linear interpolation between closest ranks, k6's TrendSink.P
// (lib/metrics/sink.go) and numpy's default "linear" definition: with the
// n values sorted as x[0..n-1], h = q·(n−1) and
//
//	P = x[⌊h⌋] + (h−⌊h⌋)·(x[⌈h⌉]−x[⌊h⌋]).
//
// Preconditions: sorted is in ascending order; q is clamped to [0, 1]. It
// returns NaN for no values. Every percentile hubcap prints or evaluates
// (thresholds, summaries, reports) is this one.
func Percentile(sorted []float64, q float64) float64 {
	n := len(sorted)
	switch n {
	case 0:
		return math.NaN()
	case 1:
		return sorted[0]
	}
	q = math.Max(0, math.Min(1, q))
	h := q * float64(n-1)
	lo := sorted[int(math.Floor(h))]
	hi := sorted[int(math.Ceil(h))]
	return lo + (hi-lo)*(h-math.Floor(h))
}

// Values returns min, max, avg, med, count and every "p(N)" of trendStats.
func (t *TrendSink) Values(_ time.Duration, trendStats []string) map[string]float64 {
	out := map[string]float64{
		"min": t.min, "max": t.max, "avg": t.Avg(), "med": t.P(0.5), "count": float64(len(t.values)),
	}
	for _, s := range trendStats {
		if p, ok := parsePercentile(s); ok {
			out[s] = t.P(p / 100)
		}
	}
	return out
}

// parsePercentile parses "p(95)" or "p(99.9)" into 95, 99.9.
func parsePercentile(s string) (float64, bool) {
	inner, ok := strings.CutPrefix(s, "p(")
	if !ok {
		return 0, false
	}
	inner, ok = strings.CutSuffix(inner, ")")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(inner), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, false
	}
	return v, true
}

// DefaultTrendStats are k6's default summary trend columns.
var DefaultTrendStats = []string{"avg", "min", "med", "max", "p(90)", "p(95)"}

// ValidateTrendStats checks summaryTrendStats entries.
func ValidateTrendStats(stats []string) []error {
	var errs []error
	for _, s := range stats {
		switch s {
		case "avg", "min", "med", "max", "count":
			continue
		}
		if _, ok := parsePercentile(s); !ok {
			errs = append(errs, fmt.Errorf("summaryTrendStats: %q is not one of avg, min, med, max, count or p(N) with 0≤N≤100", s))
		}
	}
	return errs
}
