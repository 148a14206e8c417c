package reports

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/metrics"
)

// Percentile returns the p-quantile (0 ≤ p ≤ 1) of ascending values by linear
// interpolation between closest ranks:
//
//	i = p·(n−1),  q = s[⌊i⌋] + (s[⌈i⌉] − s[⌊i⌋])·(i − ⌊i⌋)
//
// It is metrics.Percentile, the function behind k6-style TrendSink.P, so a
// p(95) printed here is the p(95) that thresholds evaluate. Preconditions:
// sorted is in ascending order; p is clamped to [0, 1]. It returns NaN for
// no values.
func Percentile(sorted []float64, p float64) float64 { return metrics.Percentile(sorted, p) }

// Windows is a partition of [Start, Start+N·Width) into N equal windows.
type Windows struct {
	Start time.Time
	Width time.Duration
	N     int
}

// NewWindows covers [start, end] with windows of width; the last window
// holds end. A non-positive width is replaced by one second.
func NewWindows(start, end time.Time, width time.Duration) Windows {
	if width <= 0 {
		width = time.Second
	}
	n := 1
	if d := end.Sub(start); d > 0 {
		n = int(d/width) + 1
	}
	return Windows{Start: start, Width: width, N: n}
}

// Index returns the window holding t, or -1 when t is outside every window.
func (w Windows) Index(t time.Time) int {
	d := t.Sub(w.Start)
	if d < 0 || w.Width <= 0 {
		return -1
	}
	i := int(d / w.Width)
	if i >= w.N {
		return -1
	}
	return i
}

// Mid returns the middle of window i as an offset from Start.
func (w Windows) Mid(i int) time.Duration {
	return time.Duration(i)*w.Width + w.Width/2
}

// niceWidths are the window widths a reader can count with.
var niceWidths = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// ChooseWindow returns the smallest "nice" width (1 s, 2 s, 5 s, 10 s, 15 s,
// 30 s, 1 min, …, 24 h) that splits a run of duration d into at most target
// windows (NewWindows(start, start+d, width).N ≤ target). Beyond 24 h widths
// it uses whole hours. target < 1 counts as 1.
func ChooseWindow(d time.Duration, target int) time.Duration {
	if target < 1 {
		target = 1
	}
	for _, w := range niceWidths {
		if int64(d/w) < int64(target) {
			return w
		}
	}
	return (d/time.Duration(target)/time.Hour + 1) * time.Hour
}

// QuantileWindow is the distribution of one window: how many values fell in
// it and their quantiles (NaN when Count is 0), in the order asked for.
type QuantileWindow struct {
	Count int
	Q     []float64
}

// QuantileWindows returns, for every window of w, the count and the
// quantiles qs (each in [0, 1], see Percentile) of the points that fall in
// it. Points outside w are ignored. The result has w.N entries.
func QuantileWindows(points []Point, w Windows, qs []float64) []QuantileWindow {
	buckets := make([][]float64, w.N)
	for _, p := range points {
		if i := w.Index(p.Time); i >= 0 && finite(p.Value) {
			buckets[i] = append(buckets[i], p.Value)
		}
	}
	out := make([]QuantileWindow, w.N)
	for i, b := range buckets {
		sort.Float64s(b)
		q := make([]float64, len(qs))
		for j, p := range qs {
			q[j] = Percentile(b, p)
		}
		out[i] = QuantileWindow{Count: len(b), Q: q}
	}
	return out
}

// SumWindows returns the sum of point values per window (a Counter's
// increments, e.g. arrivals). Windows without points are 0.
func SumWindows(points []Point, w Windows) []float64 {
	out := make([]float64, w.N)
	for _, p := range points {
		if i := w.Index(p.Time); i >= 0 && finite(p.Value) {
			out[i] += p.Value
		}
	}
	return out
}

// IncreaseWindows returns how much a cumulative value (a process's CPU
// seconds, a running total sampled as a gauge) grew per window, given its
// samples in time order. The increase between consecutive samples at t₀ < t₁
// is spread over [t₀, t₁) in proportion to each window's overlap with it
// (linear interpolation), so a sampling period longer than the window does
// not show as alternating zeros; samples at the same instant credit the
// window holding them. Parts outside w are dropped. A drop is a restart (the
// hub process was replaced): the new value counts as the increase since zero,
// as Prometheus' rate() does.
func IncreaseWindows(points []Point, w Windows) []float64 {
	out := make([]float64, w.N)
	end := w.Start.Add(time.Duration(w.N) * w.Width)
	for k := 1; k < len(points); k++ {
		prev, cur := points[k-1].Value, points[k].Value
		if !finite(prev) || !finite(cur) {
			continue
		}
		inc := cur - prev
		if cur < prev {
			inc = cur
		}
		t0, t1 := points[k-1].Time, points[k].Time
		span := t1.Sub(t0)
		if span <= 0 {
			if i := w.Index(t1); i >= 0 {
				out[i] += inc
			}
			continue
		}
		// Clip to the windows, then walk the windows the interval overlaps.
		a, b := t0, t1
		if a.Before(w.Start) {
			a = w.Start
		}
		if b.After(end) {
			b = end
		}
		for a.Before(b) {
			i := w.Index(a)
			if i < 0 {
				break
			}
			wEnd := w.Start.Add(time.Duration(i+1) * w.Width)
			if wEnd.After(b) {
				wEnd = b
			}
			out[i] += inc * float64(wEnd.Sub(a)) / float64(span)
			a = wEnd
		}
	}
	return out
}

// Coverage returns, per window, how long the span from the first to the last
// of points (in time order) overlaps it: the time over which IncreaseWindows
// saw the value grow. Dividing an increase by it gives a rate that does not
// sag in a partly covered window.
func Coverage(points []Point, w Windows) []time.Duration {
	out := make([]time.Duration, w.N)
	if len(points) < 2 {
		return out
	}
	a, b := points[0].Time, points[len(points)-1].Time
	for i := range out {
		ws := w.Start.Add(time.Duration(i) * w.Width)
		we := ws.Add(w.Width)
		lo, hi := ws, we
		if a.After(lo) {
			lo = a
		}
		if b.Before(hi) {
			hi = b
		}
		if hi.After(lo) {
			out[i] = hi.Sub(lo)
		}
	}
	return out
}

// GaugeWindows aggregates gauges, one []Point per tag set in time order: per
// window each series contributes the largest value it reported in the window
// or, inside its lifetime (first to last sample), the last value before it;
// contributions are summed over series. A window no series covers is NaN
// (no data, e.g. after the hub died), not 0.
func GaugeWindows(series [][]Point, w Windows) []float64 {
	out := make([]float64, w.N)
	covered := make([]bool, w.N)
	for _, pts := range series {
		if len(pts) == 0 {
			continue
		}
		first, last := w.Index(pts[0].Time), w.Index(pts[len(pts)-1].Time)
		if first < 0 && pts[0].Time.Before(w.Start) {
			first = 0
		}
		if last < 0 {
			last = w.N - 1
			if pts[len(pts)-1].Time.Before(w.Start) {
				continue
			}
		}
		vals := make([]float64, w.N)
		have := make([]bool, w.N)
		carry, carrySet := 0.0, false
		k := 0
		for i := 0; i < w.N; i++ {
			end := w.Start.Add(time.Duration(i+1) * w.Width)
			maxV, seen := math.Inf(-1), false
			for ; k < len(pts) && pts[k].Time.Before(end); k++ {
				v := pts[k].Value
				if !finite(v) {
					continue
				}
				if !pts[k].Time.Before(w.Start) {
					maxV, seen = math.Max(maxV, v), true
				}
				carry, carrySet = v, true
			}
			switch {
			case seen:
				vals[i], have[i] = maxV, true
			case carrySet && i >= first && i <= last:
				vals[i], have[i] = carry, true
			}
		}
		for i := range vals {
			if have[i] {
				out[i] += vals[i]
				covered[i] = true
			}
		}
	}
	for i := range out {
		if !covered[i] {
			out[i] = math.NaN()
		}
	}
	return out
}

// Stats summarises a set of values.
type Stats struct {
	Count                   int
	Min, Max, Mean          float64
	P50, P90, P95, P99, Sum float64
}

// Summarize returns count, min, max, mean, sum and p50/p90/p95/p99 (see
// Percentile) of the finite values. Values is not modified. Empty input gives
// Count 0 and NaN statistics.
func Summarize(values []float64) Stats {
	s := make([]float64, 0, len(values))
	sum := 0.0
	for _, v := range values {
		if finite(v) {
			s = append(s, v)
			sum += v
		}
	}
	sort.Float64s(s)
	st := Stats{Count: len(s), Sum: sum, Min: math.NaN(), Max: math.NaN(), Mean: math.NaN()}
	if len(s) > 0 {
		st.Min, st.Max, st.Mean = s[0], s[len(s)-1], sum/float64(len(s))
	}
	st.P50, st.P90, st.P95, st.P99 = Percentile(s, .5), Percentile(s, .9), Percentile(s, .95), Percentile(s, .99)
	return st
}

// mergePoints concatenates the points of several series and sorts them by time.
func mergePoints(ss []*Series) []Point {
	var n int
	for _, s := range ss {
		n += len(s.Points)
	}
	out := make([]Point, 0, n)
	for _, s := range ss {
		out = append(out, s.Points...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func values(pts []Point) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = p.Value
	}
	return out
}

// PhaseOrder is the order of an attendee's journey, with the phase names the
// traffic module emits (xk6-jupyterhub/attendee Phase* constants); phases not
// listed sort after these, alphabetically.
var PhaseOrder = []string{
	"login", "spawn", "oauth", "lab_load", "list_contents", "save_notebook",
	"open_notebook", "start_kernel", "connect_kernel", "execute",
	"shutdown_kernel", "stop_server", "logout",
}

func phaseRank(p string) int {
	for i, q := range PhaseOrder {
		if q == p {
			return i
		}
	}
	return len(PhaseOrder)
}

func lessPhase(a, b string) bool {
	ra, rb := phaseRank(a), phaseRank(b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// k6Builtins are k6's own metrics; they may carry user tags such as phase
// but are not hubcap's phase measurements.
var k6Builtins = map[string]bool{
	"iterations": true, "iteration_duration": true, "vus": true, "vus_max": true,
	"checks": true, "dropped_iterations": true, "data_sent": true, "data_received": true,
	"group_duration": true, "http_reqs": true, "http_req_duration": true, "http_req_blocked": true,
	"http_req_connecting": true, "http_req_tls_handshaking": true, "http_req_sending": true,
	"http_req_waiting": true, "http_req_receiving": true, "http_req_failed": true,
	"ws_connecting": true, "ws_session_duration": true, "ws_msgs_sent": true,
	"ws_msgs_received": true, "ws_sessions": true, "ws_ping": true,
}

// PhaseLatency is every latency sample of one phase (from one metric).
type PhaseLatency struct {
	Phase, Metric string
	Points        []Point // time order
}

// label names the phase, with its metric when several metrics carry it.
func (p PhaseLatency) label(dup bool) string {
	if dup {
		return p.Phase + " (" + p.Metric + ")"
	}
	return p.Phase
}

// PhaseLatencies finds the latency samples of each phase: the Trend metrics
// (declared trend, or undeclared without a `status` tag) that carry a `phase`
// tag, k6 builtins excluded, merged over their other tags. The result is in
// journey order (PhaseOrder), then by metric name.
func PhaseLatencies(res *Results) []PhaseLatency {
	if res == nil {
		return nil
	}
	type key struct{ phase, metric string }
	groups := map[key][]*Series{}
	for _, s := range res.Series {
		phase := s.Tags[tagPhase]
		if phase == "" || k6Builtins[s.Metric] || s.Metric == MetricRunStatus {
			continue
		}
		switch res.MetricType(s.Metric) {
		case metricTypeTrend:
		case "":
			if _, ok := s.Tags[tagStatus]; ok {
				continue
			}
		default:
			continue
		}
		k := key{phase, s.Metric}
		groups[k] = append(groups[k], s)
	}
	out := make([]PhaseLatency, 0, len(groups))
	for k, ss := range groups {
		out = append(out, PhaseLatency{Phase: k.phase, Metric: k.metric, Points: mergePoints(ss)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Phase != out[j].Phase {
			return lessPhase(out[i].Phase, out[j].Phase)
		}
		return out[i].Metric < out[j].Metric
	})
	return out
}

// ErrorCount is the number of failures of one phase with one status.
type ErrorCount struct {
	Phase, Status string
	Count         float64
}

// ErrorCounts totals the error counters: Counter metrics (declared counter,
// or undeclared) carrying a `status` tag, except throttling counters (name
// containing "throttl"), grouped by phase and status ("-" when a tag is
// absent). Throttled returns the throttling counters' totals by phase: 429
// answers the traffic honoured and retried, which are not failures.
func ErrorCounts(res *Results) (errs []ErrorCount, throttled map[string]float64) {
	throttled = map[string]float64{}
	if res == nil {
		return nil, throttled
	}
	type key struct{ phase, status string }
	sums := map[key]float64{}
	for _, s := range res.Series {
		if k6Builtins[s.Metric] || s.Metric == MetricRunStatus {
			continue
		}
		if t := res.MetricType(s.Metric); t != metricTypeCounter && t != "" {
			continue
		}
		phase := s.Tags[tagPhase]
		if phase == "" {
			phase = "-"
		}
		total := 0.0
		for _, p := range s.Points {
			if finite(p.Value) {
				total += p.Value
			}
		}
		if strings.Contains(s.Metric, "throttl") {
			throttled[phase] += total
			continue
		}
		status, ok := s.Tags[tagStatus]
		if !ok {
			continue
		}
		if status == "" {
			status = "-"
		}
		sums[key{phase, status}] += total
	}
	for k, v := range sums {
		errs = append(errs, ErrorCount{Phase: k.phase, Status: k.status, Count: v})
	}
	sort.Slice(errs, func(i, j int) bool {
		if errs[i].Phase != errs[j].Phase {
			return lessPhase(errs[i].Phase, errs[j].Phase)
		}
		return errs[i].Status < errs[j].Status
	})
	return errs, throttled
}

// CheckCount is the outcome of one k6 check.
type CheckCount struct {
	Name         string
	Pass, Fail   int
	PassFraction float64
}

// CheckCounts tallies the `checks` Rate metric by its `check` tag, by name.
func CheckCounts(res *Results) []CheckCount {
	m := map[string]*CheckCount{}
	for _, s := range res.SeriesOf(MetricChecks) {
		name := s.Tags[tagCheck]
		c := m[name]
		if c == nil {
			c = &CheckCount{Name: name}
			m[name] = c
		}
		for _, p := range s.Points {
			if p.Value != 0 {
				c.Pass++
			} else {
				c.Fail++
			}
		}
	}
	out := make([]CheckCount, 0, len(m))
	for _, c := range m {
		c.PassFraction = float64(c.Pass) / float64(c.Pass+c.Fail)
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
