package hubapi

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// This file reads the Prometheus text exposition format 0.0.4, which
// JupyterHub's /hub/metrics serves (python prometheus_client), with
// prometheus/common's expfmt.TextParser, and flattens its metric families
// back into sample lines so that callers see names, labels and values as
// they were written.

// ErrMetricsSyntax is wrapped by every metrics parse error.
var ErrMetricsSyntax = errors.New("metrics text syntax error")

// PromSample is one sample line.
type PromSample struct {
	Name   string // full sample name, e.g. x_bucket
	Labels map[string]string
	Value  float64
	// TimestampMs is the optional timestamp (ms since the epoch); 0 when absent.
	TimestampMs int64
}

// Family is a metric family: the samples after a # TYPE line, including a
// histogram's _bucket/_sum/_count and a summary's quantiles.
type Family struct {
	Name    string
	Help    string
	Type    string // counter, gauge, histogram, gaugehistogram, summary, untyped
	Samples []PromSample
}

// ParseMetricsText parses the text exposition format with
// prometheus/common's expfmt.TextParser (UTF-8 name validation) into
// families sorted by name; families without samples are dropped. Samples
// keep the order of their first line; a histogram series gives its _bucket
// samples (label le, formatted as the text format writes floats, "+Inf"),
// then _sum and _count; a summary its quantile samples (label quantile),
// then _sum and _count. A missing line end at the end of the input is
// tolerated. Syntax errors wrap ErrMetricsSyntax and the *expfmt.ParseError
// (its line number).
func ParseMetricsText(r io.Reader) ([]Family, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(io.MultiReader(r, strings.NewReader("\n")))
	if err != nil {
		var pe expfmt.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %w", ErrMetricsSyntax, err)
		}
		return nil, fmt.Errorf("read metrics text: %w", err)
	}
	out := make([]Family, 0, len(mfs))
	for _, mf := range mfs {
		out = append(out, familyOf(mf))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// familyOf flattens one parsed family into sample lines.
func familyOf(mf *dto.MetricFamily) Family {
	f := Family{Name: mf.GetName(), Help: mf.GetHelp()}
	typ := mf.GetType()
	if typ == dto.MetricType_GAUGE_HISTOGRAM {
		f.Type = "gaugehistogram" // the OpenMetrics spelling
	} else {
		f.Type = strings.ToLower(typ.String())
	}
	add := func(name string, m *dto.Metric, extra string, extraValue float64, v float64) {
		labels := make(map[string]string, len(m.GetLabel())+1)
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		if extra != "" {
			labels[extra] = formatPromFloat(extraValue)
		}
		f.Samples = append(f.Samples, PromSample{Name: name, Labels: labels, Value: v, TimestampMs: m.GetTimestampMs()})
	}
	for _, m := range mf.GetMetric() {
		switch typ {
		case dto.MetricType_COUNTER:
			add(f.Name, m, "", 0, m.GetCounter().GetValue())
		case dto.MetricType_GAUGE:
			add(f.Name, m, "", 0, m.GetGauge().GetValue())
		case dto.MetricType_SUMMARY:
			s := m.GetSummary()
			for _, q := range s.GetQuantile() {
				add(f.Name, m, model.QuantileLabel, q.GetQuantile(), q.GetValue())
			}
			add(f.Name+"_sum", m, "", 0, s.GetSampleSum())
			add(f.Name+"_count", m, "", 0, float64(s.GetSampleCount()))
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			for _, b := range h.GetBucket() {
				c := float64(b.GetCumulativeCount())
				if b.CumulativeCountFloat != nil {
					c = b.GetCumulativeCountFloat()
				}
				add(f.Name+"_bucket", m, model.BucketLabel, b.GetUpperBound(), c)
			}
			add(f.Name+"_sum", m, "", 0, h.GetSampleSum())
			c := float64(h.GetSampleCount())
			if h.SampleCountFloat != nil {
				c = h.GetSampleCountFloat()
			}
			add(f.Name+"_count", m, "", 0, c)
		default: // untyped
			add(f.Name, m, "", 0, m.GetUntyped().GetValue())
		}
	}
	return f
}

// formatPromFloat writes a float the way the text format does: "+Inf",
// "-Inf", "NaN", else the shortest representation that reads back exactly.
func formatPromFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	UpperBound float64 // le
	Count      float64 // cumulative
}

// Histogram is a histogram's series merged over label sets (counts summed per
// bound; series with different bounds merge only where bounds coincide).
type Histogram struct {
	Count, Sum float64
	Buckets    []Bucket // sorted by UpperBound, +Inf last when present
}

// Mean is Sum/Count (NaN when empty).
func (h Histogram) Mean() float64 {
	if h.Count == 0 {
		return math.NaN()
	}
	return h.Sum / h.Count
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) from the buckets the way
// Prometheus' histogram_quantile does: find the bucket holding rank q·total,
// interpolate linearly inside it (from 0 for the first bucket); a rank in the
// +Inf bucket gives the highest finite bound. NaN without buckets or
// observations; -Inf for q < 0, +Inf for q > 1.
func (h Histogram) Quantile(q float64) float64 {
	return BucketQuantile(q, h.Buckets)
}

// BucketQuantile is Histogram.Quantile over cumulative buckets sorted by bound.
func BucketQuantile(q float64, b []Bucket) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	if len(b) < 2 || !math.IsInf(b[len(b)-1].UpperBound, 1) {
		return math.NaN()
	}
	total := b[len(b)-1].Count
	if total <= 0 || math.IsNaN(total) {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(b)-1, func(i int) bool { return b[i].Count >= rank })
	if i == len(b)-1 {
		return b[len(b)-2].UpperBound
	}
	if i == 0 && b[0].UpperBound <= 0 {
		return b[0].UpperBound
	}
	start, below := 0.0, 0.0
	if i > 0 {
		start, below = b[i-1].UpperBound, b[i-1].Count
	}
	end, in := b[i].UpperBound, b[i].Count-below
	if in <= 0 {
		return end
	}
	return start + (end-start)*((rank-below)/in)
}

// HistogramOf merges the histogram series of a family whose labels match
// every key/value of match (nil matches all).
func HistogramOf(f Family, match map[string]string) Histogram {
	var h Histogram
	bounds := map[float64]float64{}
	for _, s := range f.Samples {
		if !labelsMatch(s.Labels, match) {
			continue
		}
		switch {
		case strings.HasSuffix(s.Name, "_bucket"):
			le, err := strconv.ParseFloat(s.Labels[model.BucketLabel], 64)
			if err != nil || math.IsNaN(le) {
				continue
			}
			bounds[le] += s.Value
		case strings.HasSuffix(s.Name, "_sum"):
			h.Sum += s.Value
		case strings.HasSuffix(s.Name, "_count"):
			h.Count += s.Value
		}
	}
	for le, c := range bounds {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: le, Count: c})
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].UpperBound < h.Buckets[j].UpperBound })
	return h
}

func labelsMatch(l, match map[string]string) bool {
	for k, v := range match {
		if l[k] != v {
			return false
		}
	}
	return true
}
