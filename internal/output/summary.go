package output

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/results"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// SummaryOptions shape the end-of-test summary.
type SummaryOptions struct {
	// TrendStats are the trend columns (nil: avg, min, med, max, p(90), p(95)).
	TrendStats []string
	// TimeUnit fixes the unit of time values ("s", "ms", "us"; "" adapts).
	TimeUnit string
	// Color enables ANSI colors.
	Color bool
	// Full is k6's --summary-mode=full: the HTTP request phases and
	// group_duration are listed too.
	Full bool
}

func (o SummaryOptions) stats() []string {
	if len(o.TrendStats) == 0 {
		return metrics.DefaultTrendStats
	}
	return o.TrendStats
}

const (
	succMark = "✓"
	failMark = "✗"
)

type formatter struct{ color bool }

var ansiColors = map[string]string{"red": "31", "green": "32", "cyan": "36", "white": "37"}

func (f formatter) decorate(s, color string, faint bool) string {
	if !f.color {
		return s
	}
	code := ansiColors[color]
	if faint {
		code = "2;" + code
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (f formatter) bold(s string) string {
	if !f.color {
		return s
	}
	return "\x1b[1m" + s + "\x1b[0m"
}

// section returns the summary section of a builtin or custom metric, as
// k6 groups them; "" for metrics the compact summary leaves out.
func section(name string, full bool) string {
	switch {
	case name == metrics.Checks:
		return ""
	case name == results.MetricRunInfo:
		return "" // the instance's metadata point, not a measurement
	case name == metrics.GroupDuration:
		if full {
			return "execution"
		}
		return ""
	case strings.HasPrefix(name, "http_req_") && name != "http_req_duration" && name != "http_req_failed":
		if full {
			return "http"
		}
		return "" // the request phases (blocked, waiting, ...) are in k6's full summary only
	case name == metrics.VUs || name == metrics.VUsMax || name == metrics.Iterations ||
		name == metrics.IterationDuration || name == metrics.DroppedIterations:
		return "execution"
	case name == metrics.DataSent || name == metrics.DataReceived:
		return "network"
	case strings.HasPrefix(name, "jupyterhub_"):
		return "jupyterhub"
	case strings.HasPrefix(name, "http_req"):
		return "http"
	}
	return "custom"
}

var sectionOrder = []string{"custom", "http", "jupyterhub", "execution", "network"}

// metricInfo holds the rendered values of a set of metrics and the column
// widths to align them (k6's computeSummaryInfo).
type metricInfo struct {
	nameWidth    int
	trendCols    map[string][]string
	trendWidths  []int
	main         map[string]string
	extras       map[string][]string
	mainWidth    int
	extrasWidths []int
	stats        []string
	values       map[string]map[string]string // every rendered value, for thresholds
}

type row struct {
	name   string
	metric samples.Metric
	values map[string]float64
}

func computeInfo(rows []row, opts SummaryOptions, indent int) *metricInfo {
	info := &metricInfo{
		trendCols: map[string][]string{}, main: map[string]string{}, extras: map[string][]string{},
		stats: opts.stats(), values: map[string]map[string]string{},
	}
	info.trendWidths = make([]int, len(info.stats))
	for _, r := range rows {
		info.nameWidth = max(info.nameWidth, indent+strWidth(displayName(r.name)))
		all := map[string]string{}
		for k, v := range r.values {
			if k == "count" && r.metric.Kind == samples.Trend {
				all[k] = strconv.FormatFloat(v, 'f', -1, 64)
			} else {
				all[k] = HumanizeValue(v, r.metric, opts.TimeUnit)
			}
		}
		info.values[r.name] = all
		if r.metric.Kind == samples.Trend {
			cols := make([]string, len(info.stats))
			for i, s := range info.stats {
				v, ok := r.values[s]
				switch {
				case !ok:
					cols[i] = "-"
				case s == "count":
					cols[i] = strconv.FormatFloat(v, 'f', -1, 64)
				default:
					cols[i] = HumanizeValue(v, r.metric, opts.TimeUnit)
				}
				info.trendWidths[i] = max(info.trendWidths[i], strWidth(cols[i]))
			}
			info.trendCols[r.name] = cols
			continue
		}
		vals := nonTrendValues(r, opts.TimeUnit)
		info.main[r.name] = vals[0]
		info.mainWidth = max(info.mainWidth, strWidth(vals[0]))
		info.extras[r.name] = vals[1:]
		for i, e := range vals[1:] {
			if i >= len(info.extrasWidths) {
				info.extrasWidths = append(info.extrasWidths, 0)
			}
			info.extrasWidths[i] = max(info.extrasWidths[i], strWidth(e))
		}
	}
	return info
}

func nonTrendValues(r row, timeUnit string) []string {
	h := func(k string) string { return HumanizeValue(r.values[k], r.metric, timeUnit) }
	switch r.metric.Kind {
	case samples.Counter:
		return []string{h("count"), h("rate") + "/s"}
	case samples.Gauge:
		return []string{h("value"), "min=" + h("min"), "max=" + h("max")}
	case samples.Rate:
		return []string{h("rate"), fmt.Sprintf("%d out of %d", int64(r.values["passes"]), int64(r.values["passes"]+r.values["fails"]))}
	}
	return []string{"[no data]"}
}

func displayName(name string) string {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		return "  { " + name[i+1:len(name)-1] + " }"
	}
	return name
}

func (info *metricInfo) line(r row, f formatter, indent string) string {
	name := displayName(r.name)
	dots := max(3, info.nameWidth-strWidth(name)-len(indent)+3)
	dotted := name + f.decorate(strings.Repeat(".", dots)+":", "white", true)
	var data string
	if r.metric.Kind == samples.Trend {
		cols := info.trendCols[r.name]
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = info.stats[i] + "=" + f.decorate(c, "cyan", false) + strings.Repeat(" ", info.trendWidths[i]-strWidth(c))
		}
		data = strings.Join(parts, " ")
	} else {
		v := info.main[r.name]
		data = f.decorate(v, "cyan", false) + strings.Repeat(" ", info.mainWidth-strWidth(v))
		ex := info.extras[r.name]
		if len(ex) == 1 {
			data += " " + f.decorate(ex[0], "cyan", true)
		} else if len(ex) > 1 {
			parts := make([]string, len(ex))
			for i, e := range ex {
				parts[i] = f.decorate(e, "cyan", true) + strings.Repeat(" ", info.extrasWidths[i]-strWidth(e))
			}
			data += " " + strings.Join(parts, " ")
		}
	}
	return strings.TrimRight(indent+dotted+" "+data, " ")
}

// TextSummary renders the end-of-test summary in k6's (v1, compact)
// layout: THRESHOLDS, then TOTAL RESULTS with the checks and the metrics
// grouped in sections. The result starts with a newline and ends with two,
// as k6 prints it.
func TextSummary(snap *metrics.Snapshot, opts SummaryOptions) string {
	f := formatter{color: opts.Color}
	var lines []string // each entry is one line; "" is a blank line
	title := func(t string) { lines = append(lines, "  █ "+f.bold(t)+" ", "") }

	// THRESHOLDS
	var thRows []row
	thByName := map[string][]metrics.ThresholdResult{}
	present := map[string]bool{}
	for _, m := range snap.Metrics {
		if len(m.Thresholds) > 0 {
			thRows = append(thRows, row{m.Name, m.Metric, m.Values})
			thByName[m.Name] = m.Thresholds
			present[m.Name] = true
		}
	}
	if len(thRows) > 0 {
		title("THRESHOLDS")
		info := computeInfo(thRows, opts, 4)
		for _, r := range thRows {
			indent := "    "
			name := r.name
			if i := strings.IndexByte(name, '{'); i >= 0 && present[name[:i]] {
				indent, name = "      ", name[i:]
			}
			lines = append(lines, indent+name)
			for _, th := range thByName[r.name] {
				mark := f.decorate(succMark, "green", false)
				if !th.OK {
					mark = f.decorate(failMark, "red", false)
				}
				agg := strings.TrimSpace(strings.FieldsFunc(th.Source, func(c rune) bool { return c == '=' || c == '<' || c == '>' || c == '!' })[0])
				lines = append(lines, indent+mark+" "+f.decorate("'"+strings.TrimSpace(th.Source)+"'", "white", false)+" "+
					f.decorate(agg, "white", false)+"="+f.decorate(thresholdValue(info, r, agg), "cyan", false))
			}
			lines = append(lines, "")
		}
		lines = append(lines, "")
	}

	// TOTAL RESULTS
	title("TOTAL RESULTS")
	if checks, ok := snap.Metric(metrics.Checks); ok && !checks.Empty {
		total := checks.Values["passes"] + checks.Values["fails"]
		rate := 0.0
		if snap.Duration > 0 {
			rate = total / snap.Duration.Seconds()
		}
		failRate := 0.0
		if total > 0 {
			failRate = checks.Values["fails"] / total
		}
		crows := []row{
			{"checks_total", samples.Metric{Name: "checks_total", Kind: samples.Counter}, map[string]float64{"count": total, "rate": rate}},
			{"checks_succeeded", samples.Metric{Name: "checks_succeeded", Kind: samples.Rate}, checks.Values},
			{"checks_failed", samples.Metric{Name: "checks_failed", Kind: samples.Rate},
				map[string]float64{"rate": failRate, "passes": checks.Values["fails"], "fails": checks.Values["passes"]}},
		}
		info := computeInfo(crows, opts, 4)
		for _, r := range crows {
			lines = append(lines, info.line(r, f, "    "))
		}
		lines = append(lines, "")
		for _, c := range mergedChecks(snap.Root) {
			if c.Fails == 0 {
				lines = append(lines, "    "+f.decorate(succMark+" "+c.Name, "green", false))
				continue
			}
			pct := int64(math.Floor(100 * float64(c.Passes) / float64(c.Passes+c.Fails)))
			lines = append(lines, "    "+f.decorate(failMark+" "+c.Name, "red", false),
				"      "+f.decorate(fmt.Sprintf("↳  %d%% — %s %d / %s %d", pct, succMark, c.Passes, failMark, c.Fails), "red", false))
		}
		lines = append(lines, "")
	}
	bySection := map[string][]row{}
	var all []row
	for _, m := range snap.Metrics {
		if m.Parent != "" || m.Empty {
			continue
		}
		s := section(m.Name, opts.Full)
		if s == "" {
			continue
		}
		r := row{m.Name, m.Metric, m.Values}
		bySection[s] = append(bySection[s], r)
		all = append(all, r)
	}
	info := computeInfo(all, opts, 4)
	for _, s := range sectionOrder {
		rows := bySection[s]
		if len(rows) == 0 {
			continue
		}
		lines = append(lines, "    "+f.bold(strings.ToUpper(s)))
		for _, r := range rows {
			lines = append(lines, info.line(r, f, "    "))
		}
		lines = append(lines, "")
	}
	return "\n\n" + strings.Join(lines, "\n") + "\n\n\n"
}

func thresholdValue(info *metricInfo, r row, agg string) string {
	switch r.metric.Kind {
	case samples.Trend:
		if v, ok := info.values[r.name][agg]; ok {
			return v
		}
		if e, err := metrics.ParseExpression(agg + "<0"); err == nil {
			if v, ok := info.values[r.name][e.Key()]; ok {
				return v
			}
		}
		return "-"
	case samples.Counter:
		if agg == "count" {
			return info.main[r.name]
		}
		if ex := info.extras[r.name]; len(ex) > 0 {
			return ex[0]
		}
	}
	return info.main[r.name]
}

// mergedChecks lists the checks of every group, merged by name in order of
// first appearance, as k6's compact summary shows them.
func mergedChecks(root *metrics.Group) []*metrics.Check {
	var out []*metrics.Check
	byName := map[string]*metrics.Check{}
	for _, c := range root.AllChecks() {
		if m, ok := byName[c.Name]; ok {
			m.Passes += c.Passes
			m.Fails += c.Fails
			continue
		}
		cc := *c
		byName[c.Name] = &cc
		out = append(out, &cc)
	}
	return out
}

// RunState is what a run tells the summary data about itself.
type RunState struct {
	IsStdOutTTY, IsStdErrTTY bool
	NoColor                  bool
	// SetupData is setup()'s result as JSON ("" when there was none).
	SetupData string
}

// SummaryData builds the object handleSummary(data) receives: k6's
// (legacy) summary data with root_group, options, state, metrics and
// setup_data.
func SummaryData(snap *metrics.Snapshot, opts SummaryOptions, st RunState) map[string]any {
	data := map[string]any{
		"root_group": groupData(snap.Root),
		"options": map[string]any{
			"summaryTrendStats": opts.stats(),
			"summaryTimeUnit":   opts.TimeUnit,
			"noColor":           st.NoColor,
		},
		"state": map[string]any{
			"isStdOutTTY":       st.IsStdOutTTY,
			"isStdErrTTY":       st.IsStdErrTTY,
			"testRunDurationMs": float64(snap.Duration.Microseconds()) / 1000,
		},
		"metrics": metricsData(snap, opts),
	}
	if st.SetupData != "" {
		var v any
		if err := json.Unmarshal([]byte(st.SetupData), &v); err == nil {
			data["setup_data"] = v
		}
	}
	return data
}

func groupData(g *metrics.Group) map[string]any {
	groups := make([]any, 0, len(g.Groups))
	for _, sub := range g.Groups {
		groups = append(groups, groupData(sub))
	}
	checks := make([]any, 0, len(g.Checks))
	for _, c := range g.Checks {
		checks = append(checks, map[string]any{"name": c.Name, "path": c.Path, "id": c.ID, "passes": c.Passes, "fails": c.Fails})
	}
	return map[string]any{"name": g.Name, "path": g.Path, "id": g.ID, "groups": groups, "checks": checks}
}

// metricValues keeps the values k6 exports for a metric's kind.
func metricValues(m metrics.MetricSummary, stats []string) map[string]any {
	keep := func(keys ...string) map[string]any {
		out := map[string]any{}
		for _, k := range keys {
			out[k] = m.Values[k]
		}
		return out
	}
	switch m.Kind {
	case samples.Counter:
		return keep("count", "rate")
	case samples.Gauge:
		return keep("value", "min", "max")
	case samples.Rate:
		return keep("rate", "passes", "fails")
	}
	out := keep(stats...)
	for _, t := range m.Thresholds { // percentiles thresholds refer to
		if e, err := metrics.ParseExpression(t.Source); err == nil && e.Agg == "p" {
			out[e.Key()] = m.Values[e.Key()]
		}
	}
	return out
}

func metricsData(snap *metrics.Snapshot, opts SummaryOptions) map[string]any {
	out := map[string]any{}
	for _, m := range snap.Metrics {
		md := map[string]any{
			"type":     m.Kind.String(),
			"contains": m.Contains.String(),
			"values":   metricValues(m, opts.stats()),
		}
		if len(m.Thresholds) > 0 {
			th := map[string]any{}
			for _, t := range m.Thresholds {
				th[t.Source] = map[string]any{"ok": t.OK}
			}
			md["thresholds"] = th
		}
		out[m.Name] = md
	}
	return out
}

// SummaryExport writes the `--summary-export` JSON: k6's legacy export, in
// which each metric is its values (a rate's "rate" is called "value") plus
// "thresholds" mapping each source to whether it FAILED, and groups and
// checks are keyed by name.
func SummaryExport(w io.Writer, snap *metrics.Snapshot, opts SummaryOptions) error {
	ms := map[string]any{}
	for _, m := range snap.Metrics {
		vals := metricValues(m, opts.stats())
		if m.Kind == samples.Rate {
			vals["value"] = vals["rate"]
			delete(vals, "rate")
		}
		if len(m.Thresholds) > 0 {
			th := map[string]bool{}
			for _, t := range m.Thresholds {
				th[t.Source] = !t.OK
			}
			vals["thresholds"] = th
		}
		ms[m.Name] = vals
	}
	doc := map[string]any{"root_group": exportGroup(snap.Root), "metrics": ms}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("%w: summary export: %w", ErrOutput, err)
	}
	return nil
}

func exportGroup(g *metrics.Group) map[string]any {
	groups := map[string]any{}
	for _, sub := range g.Groups {
		groups[sub.Name] = exportGroup(sub)
	}
	checks := map[string]any{}
	for _, c := range g.Checks {
		checks[c.Name] = map[string]any{"name": c.Name, "path": c.Path, "id": c.ID, "passes": c.Passes, "fails": c.Fails}
	}
	return map[string]any{"name": g.Name, "path": g.Path, "id": g.ID, "groups": groups, "checks": checks}
}
