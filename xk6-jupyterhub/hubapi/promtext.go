package hubapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// This file parses the Prometheus text exposition format 0.0.4, which
// JupyterHub's /hub/metrics serves (python prometheus_client). It stands in
// for prometheus/common/expfmt.TextParser: expfmt needs
// github.com/prometheus/client_model and google.golang.org/protobuf, which are
// not in go.mod.

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
	Type    string // counter, gauge, histogram, summary, untyped, …
	Samples []PromSample
}

// suffixes that attach a sample to a declared family of the given type.
var familySuffixes = map[string][]string{
	"counter":        {"_total", "_created"},
	"histogram":      {"_bucket", "_sum", "_count", "_created"},
	"gaugehistogram": {"_bucket", "_gsum", "_gcount"},
	"summary":        {"_sum", "_count", "_created"},
	"info":           {"_info"},
}

// ParseMetricsText parses the text exposition format into families, in order
// of appearance. Lines up to 1 MiB; blank lines and other comments are
// skipped; values accept NaN, +Inf, -Inf.
func ParseMetricsText(r io.Reader) ([]Family, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var fams []*Family
	byName := map[string]*Family{}
	get := func(name string) *Family {
		if f, ok := byName[name]; ok {
			return f
		}
		f := &Family{Name: name, Type: "untyped"}
		byName[name] = f
		fams = append(fams, f)
		return f
	}
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line[0] == '#' {
			fields := strings.Fields(line[1:])
			if len(fields) < 2 || (fields[0] != "HELP" && fields[0] != "TYPE") {
				continue // plain comment
			}
			name := fields[1]
			if !validMetricName(name) {
				return nil, perr(lineNo, "bad metric name %q in # %s", name, fields[0])
			}
			f := get(name)
			if fields[0] == "HELP" {
				_, rest, _ := strings.Cut(line[1:], name)
				f.Help = unescapeHelp(strings.TrimSpace(rest))
			} else {
				if len(fields) != 3 {
					return nil, perr(lineNo, "# TYPE %s needs one type", name)
				}
				f.Type = strings.ToLower(fields[2])
			}
			continue
		}
		s, err := parseSampleLine(line)
		if err != nil {
			return nil, perr(lineNo, "%v", err)
		}
		f := byName[s.Name]
		if f == nil {
			for typ, sufs := range familySuffixes {
				for _, suf := range sufs {
					if base, ok := strings.CutSuffix(s.Name, suf); ok {
						if cand := byName[base]; cand != nil && cand.Type == typ {
							f = cand
						}
					}
				}
			}
		}
		if f == nil {
			f = get(s.Name)
		}
		f.Samples = append(f.Samples, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrMetricsSyntax, lineNo+1, err)
	}
	out := make([]Family, len(fams))
	for i, f := range fams {
		out[i] = *f
	}
	return out, nil
}

func perr(line int, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrMetricsSyntax, line, fmt.Sprintf(format, args...))
}

func unescapeHelp(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\\`, `\`, `\n`, "\n").Replace(s)
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

func validLabelName(s string) bool {
	return validMetricName(s) && !strings.Contains(s, ":")
}

// parseSampleLine parses `name{l="v",…} value [timestamp]`.
func parseSampleLine(line string) (PromSample, error) {
	var s PromSample
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	s.Name = line[:i]
	if !validMetricName(s.Name) {
		return s, fmt.Errorf("bad metric name %q", truncate(s.Name, 60))
	}
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		labels, n, err := parseLabels(rest)
		if err != nil {
			return s, err
		}
		s.Labels = labels
		rest = rest[n:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want value [timestamp] after %s", s.Name)
	}
	v, err := parsePromFloat(fields[0])
	if err != nil {
		return s, fmt.Errorf("bad value %q", truncate(fields[0], 40))
	}
	s.Value = v
	if len(fields) == 2 {
		ts, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return s, fmt.Errorf("bad timestamp %q", truncate(fields[1], 40))
		}
		s.TimestampMs = ts
	}
	return s, nil
}

func parsePromFloat(f string) (float64, error) {
	switch f {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseFloat(f, 64)
}

// parseLabels parses `{a="x",b="y",}` at the start of s; n is its length.
func parseLabels(s string) (map[string]string, int, error) {
	labels := map[string]string{}
	i := 1 // after '{'
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return nil, 0, errors.New("unterminated label set")
		}
		if s[i] == '}' {
			return labels, i + 1, nil
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		name := s[i:j]
		if !validLabelName(name) {
			return nil, 0, fmt.Errorf("bad label name %q", truncate(name, 60))
		}
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j+1 >= len(s) || s[j] != '=' || s[j+1] != '"' {
			return nil, 0, fmt.Errorf("label %s: want =\"value\"", name)
		}
		j += 2
		var val strings.Builder
		closed := false
		for j < len(s) {
			c := s[j]
			if c == '\\' {
				if j+1 >= len(s) {
					return nil, 0, fmt.Errorf("label %s: dangling escape", name)
				}
				switch s[j+1] {
				case 'n':
					val.WriteByte('\n')
				case '\\':
					val.WriteByte('\\')
				case '"':
					val.WriteByte('"')
				default:
					val.WriteByte('\\')
					val.WriteByte(s[j+1])
				}
				j += 2
				continue
			}
			if c == '"' {
				closed = true
				j++
				break
			}
			val.WriteByte(c)
			j++
		}
		if !closed {
			return nil, 0, fmt.Errorf("label %s: unterminated value", name)
		}
		if _, dup := labels[name]; dup {
			return nil, 0, fmt.Errorf("duplicate label %s", name)
		}
		labels[name] = val.String()
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] == ',' {
			j++
		} else if j >= len(s) || s[j] != '}' {
			return nil, 0, errors.New("want , or } after a label")
		}
		i = j
	}
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
			le, err := parsePromFloat(s.Labels["le"])
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
