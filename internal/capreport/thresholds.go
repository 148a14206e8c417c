package capreport

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// ThresholdsFromSnapshot lists the threshold outcomes of a finished run
// (script.Result.Snapshot), with the value each was evaluated on. It never
// returns nil, so Inputs.Thresholds set from it means "the run's own".
func ThresholdsFromSnapshot(snap *metrics.Snapshot) []reports.Threshold {
	out := []reports.Threshold{}
	if snap == nil {
		return out
	}
	for _, m := range snap.Metrics {
		for _, t := range m.Thresholds {
			key := t.Key
			if key == "" {
				key = m.Name
			}
			out = append(out, reports.Threshold{Metric: key, Expr: t.Source, OK: t.OK,
				Observed: observed(t.Source, m.Values, m.Kind.String(), m.Contains.String())})
		}
	}
	return out
}

// observed formats the aggregation a threshold expression reads.
func observed(src string, values map[string]float64, kind, contains string) string {
	e, err := metrics.ParseExpression(src)
	if err != nil {
		return ""
	}
	key := e.Key()
	v, ok := values[key]
	if !ok && key == "rate" {
		v, ok = values["value"] // the legacy export calls a rate's rate "value"
	}
	if !ok || math.IsNaN(v) {
		return ""
	}
	switch {
	case e.Agg == "count" || kind == "rate" && (key == "passes" || key == "fails"):
		return fmtNum(v)
	case e.Agg == "rate" && kind == "rate":
		return sig3(100*v) + "%"
	case e.Agg == "rate":
		return sig3(v) + "/s"
	case contains == "time":
		return fmtMs(v)
	case contains == "data":
		return fmtBytes(v)
	}
	return fmtNum(v)
}

// evaluateDeclared evaluates the thresholds the stream declares on its
// metrics, on every point of each metric, as the runner's sinks would at
// the end of the run.
func evaluateDeclared(declared map[string]reports.Metric, res *reports.Results) []reports.Threshold {
	names := make([]string, 0, len(declared))
	for n, d := range declared {
		if len(d.Thresholds) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []reports.Threshold
	for _, name := range names {
		d := declared[name]
		var pts []reports.Point
		for _, s := range res.SeriesOf(name) {
			pts = append(pts, s.Points...)
		}
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].Time.Before(pts[j].Time) })
		sink := metrics.NewSink(parseKind(d.Type))
		for _, p := range pts {
			sink.Add(p.Value)
		}
		var stats []string
		exprs := make([]metrics.Expression, len(d.Thresholds))
		bad := make([]error, len(d.Thresholds))
		for i, src := range d.Thresholds {
			exprs[i], bad[i] = metrics.ParseExpression(src)
			if bad[i] == nil && exprs[i].Agg == "p" {
				stats = append(stats, exprs[i].Key())
			}
		}
		values := sink.Values(res.Duration(), stats)
		for i, src := range d.Thresholds {
			t := reports.Threshold{Metric: name, Expr: src}
			if bad[i] != nil {
				t.Observed = "unreadable expression"
			} else {
				t.OK = exprs[i].Eval(values)
				t.Observed = observed(src, values, d.Type, d.Contains)
			}
			out = append(out, t)
		}
	}
	return out
}

func parseKind(t string) samples.Kind {
	switch t {
	case "counter":
		return samples.Counter
	case "gauge":
		return samples.Gauge
	case "rate":
		return samples.Rate
	}
	return samples.Trend
}

// ParseSummary reads the thresholds of a k6 summary: the legacy
// `--summary-export` (metrics.M.thresholds maps each expression to whether
// it FAILED, values sit beside it) or handleSummary's data object
// (metrics.M.thresholds maps each to {"ok": …}, values under "values").
// res, if not nil, supplies what the metrics contain (time, data) for the
// observed values. Errors wrap ErrSummary.
func ParseSummary(b []byte, res *reports.Results) ([]reports.Threshold, error) {
	var doc struct {
		Metrics map[string]map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w (give the file hubcap run --summary-export wrote)", ErrSummary, err)
	}
	if doc.Metrics == nil {
		return nil, fmt.Errorf("%w: no \"metrics\" object: not a k6 summary", ErrSummary)
	}
	names := make([]string, 0, len(doc.Metrics))
	for n := range doc.Metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []reports.Threshold{}
	for _, name := range names {
		m := doc.Metrics[name]
		raw, ok := m["thresholds"]
		if !ok {
			continue
		}
		var kind, contains string
		_ = json.Unmarshal(m["type"], &kind)
		_ = json.Unmarshal(m["contains"], &contains)
		parent, _, _ := strings.Cut(name, "{")
		if res != nil {
			if d, ok := res.Metrics[parent]; ok {
				if kind == "" {
					kind = d.Type
				}
				if contains == "" {
					contains = d.Contains
				}
			}
		}
		values := map[string]float64{}
		if vr, ok := m["values"]; ok {
			_ = json.Unmarshal(vr, &values)
		} else {
			for k, v := range m {
				var f float64
				if json.Unmarshal(v, &f) == nil {
					values[k] = f
				}
			}
		}
		type result struct {
			src string
			ok  bool
		}
		var rs []result
		var legacy map[string]bool
		var data map[string]struct {
			OK *bool `json:"ok"`
		}
		switch {
		case json.Unmarshal(raw, &legacy) == nil:
			for src, failed := range legacy {
				rs = append(rs, result{src, !failed})
			}
		case json.Unmarshal(raw, &data) == nil:
			for src, r := range data {
				if r.OK == nil {
					return nil, fmt.Errorf("%w: metric %s threshold %q has no \"ok\"", ErrSummary, name, src)
				}
				rs = append(rs, result{src, *r.OK})
			}
		default:
			return nil, fmt.Errorf("%w: metric %s: thresholds are neither {expr: failed} nor {expr: {ok}}", ErrSummary, name)
		}
		if name == "" {
			return nil, fmt.Errorf("%w: a metric with an empty name has thresholds", ErrSummary)
		}
		for _, r := range rs {
			if strings.TrimSpace(r.src) == "" {
				return nil, fmt.Errorf("%w: metric %s has an empty threshold expression", ErrSummary, name)
			}
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].src < rs[j].src })
		for _, r := range rs {
			out = append(out, reports.Threshold{Metric: name, Expr: r.src, OK: r.ok,
				Observed: observed(r.src, values, kind, contains)})
		}
	}
	return out, nil
}
