package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Parse(pageTemplate))

// renderOptions are knobs for tests only.
type renderOptions struct {
	// verify injects the self-check script the browser test reads.
	verify bool
}

// Render writes the HTML report for in to w. The output is one file with no
// external reference (ECharts is inlined, a Content-Security-Policy forbids
// network access) and is byte-for-byte reproducible for the same input.
// It fails only when ECharts cannot be found (ErrEChartsMissing) or w fails.
func Render(w io.Writer, in Input) error { return render(w, in, renderOptions{}) }

func render(w io.Writer, in Input, ro renderOptions) error {
	js, err := loadECharts(in.EChartsJS)
	if err != nil {
		return err
	}
	p, err := buildPage(in)
	if err != nil {
		return err
	}
	p.ECharts = template.JS(scriptSafe(js))
	if ro.verify {
		p.VerifyHead, p.VerifyTail = template.JS(verifyHead), template.JS(verifyTail)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, p); err != nil {
		return fmt.Errorf("reports: rendering: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

var scriptEnd = regexp.MustCompile(`(?i)</(script)|<!--`)

// scriptSafe keeps inlined JavaScript inside its script element: "</script"
// becomes "<\/script" and "<!--" becomes "<\!--" (both mean the same in JS
// strings and regular expressions, where they can occur).
func scriptSafe(js []byte) []byte {
	return scriptEnd.ReplaceAllFunc(js, func(m []byte) []byte {
		if m[1] == '!' {
			return []byte(`<\!--`)
		}
		return append([]byte(`<\/`), m[2:]...)
	})
}

// page is the template's view.
type page struct {
	Title      string
	Subtitle   string
	Assessment Assessment
	LevelClass string
	CutShort   string // why the run counts as cut short, "" when it completed

	Verdict     *verdictView
	Timeline    *timelineView
	Latency     *latencyView
	Errors      *errorsView
	Model       *modelView
	Wave        *waveView
	DB          *dbView
	Env         *envView
	Input       []row
	GeneratedAt string

	Charts     []*chartSpec
	ECharts    template.JS
	VerifyHead template.JS
	VerifyTail template.JS
}

type row struct {
	Cells []string
	Class string
}

type kv struct{ K, V string }

type verdictView struct {
	Thresholds []thresholdView
	Capacity   []kv
}

type thresholdView struct {
	Mark, Class, Metric, Expr, Observed string
}

type timelineView struct {
	Chart     *chartSpec
	LimitNote string
	Summary   []row
	Windows   []row
	Width     string
	Missing   []string
}

type latencyView struct {
	Chart   *chartSpec
	Summary []row
	Windows []row
	Width   string
}

type errorsView struct {
	Chart     *chartSpec
	Rows      []row
	Total     string
	Checks    []row
	Dropped   string
	Throttled string
}

type modelView struct {
	Chart    *chartSpec
	Curve    []row // size, fitted, band lower, band upper
	Terms    []string
	Formula  string
	Measured []row
	Summary  []kv
}

type dbView struct {
	Chart     *chartSpec
	Shape     []kv
	TopUsers  []row
	Histogram []row
	Telemetry []row
	Source    string
}

type envView struct {
	Rows   []kv
	Config string
}

func buildPage(in Input) (*page, error) {
	p := &page{Title: in.Title}
	if p.Title == "" {
		p.Title = "hubcap capacity report"
	}
	res := in.Results
	p.Assessment = Assess(in)
	p.LevelClass = strings.ToLower(p.Assessment.Level.String())
	p.CutShort = cutShortWhy(res)
	if res != nil && res.PointCount > 0 {
		status := res.Status
		if status == "" {
			status = "no status marker"
		}
		p.Subtitle = fmt.Sprintf("Run of %s from %s UTC, status: %s", fmtDuration(res.Duration()),
			res.Start.UTC().Format("2006-01-02 15:04:05"), status)
	}
	if !in.GeneratedAt.IsZero() {
		p.GeneratedAt = in.GeneratedAt.UTC().Format(time.RFC3339)
	}
	p.Verdict = buildVerdict(in.Verdict)
	limit := 0.0
	if in.Verdict != nil && in.Verdict.MemoryLimitBytes > 0 {
		limit = in.Verdict.MemoryLimitBytes
	} else if in.Model != nil {
		limit = in.Model.LimitBytes
	}
	var err error
	add := func(c *chartSpec) {
		if c != nil {
			p.Charts = append(p.Charts, c)
		}
	}
	if res != nil && res.PointCount > 0 {
		if p.Timeline, err = buildTimelineView(res, limit); err != nil {
			return nil, err
		}
		add(p.Timeline.Chart)
		if p.Latency, err = buildLatencyView(res); err != nil {
			return nil, err
		}
		if p.Latency != nil {
			add(p.Latency.Chart)
		}
		if p.Errors, err = buildErrorsView(res); err != nil {
			return nil, err
		}
		add(p.Errors.Chart)
	}
	if in.Model != nil {
		planned := 0.0
		if in.Verdict != nil {
			planned = in.Verdict.PlannedSize
		}
		if p.Model, err = buildModelView(in.Model, planned); err != nil {
			return nil, err
		}
		add(p.Model.Chart)
	}
	if p.Wave, err = buildWaveView(in.Wave); err != nil {
		return nil, err
	}
	if p.Wave != nil {
		add(p.Wave.Chart)
	}
	if p.DB, err = buildDBView(in.Check, res); err != nil {
		return nil, err
	}
	if p.DB != nil {
		add(p.DB.Chart)
	}
	p.Env = buildEnv(in.Env)
	if res != nil {
		p.Input = []row{
			{Cells: []string{"lines read", fmtCount(float64(res.Lines))}},
			{Cells: []string{"points", fmtCount(float64(res.PointCount))}},
			{Cells: []string{"metrics with points", fmtCount(float64(countMetrics(res)))}},
			{Cells: []string{"series (metric × tag set)", fmtCount(float64(len(res.Series)))}},
		}
		total := func(metric string) (float64, bool) {
			pts := mergePoints(res.SeriesOf(metric))
			return Summarize(values(pts)).Sum, len(pts) > 0
		}
		if n, ok := total(MetricIterations); ok {
			p.Input = append(p.Input, row{Cells: []string{"iterations completed", fmtCount(n)}})
		}
		if pts := mergePoints(res.SeriesOf(MetricVUs)); len(pts) > 0 {
			p.Input = append(p.Input, row{Cells: []string{"peak VUs", fmtCount(Summarize(values(pts)).Max)}})
		}
		if n, ok := total(MetricDataReceived); ok {
			p.Input = append(p.Input, row{Cells: []string{"data received", fmtBytes(n)}})
		}
		if n, ok := total(MetricDataSent); ok {
			p.Input = append(p.Input, row{Cells: []string{"data sent", fmtBytes(n)}})
		}
		if res.TruncatedTail {
			p.Input = append(p.Input, row{Cells: []string{"incomplete last line", "dropped"}, Class: "warn"})
		}
	}
	return p, nil
}

// cutShortWhy explains, in one sentence fragment, why a run counts as cut short.
func cutShortWhy(res *Results) string {
	if res == nil || !res.CutShort() {
		return ""
	}
	var why []string
	switch res.Status {
	case "":
		why = append(why, "there is no final "+MetricRunStatus+" marker")
	case StatusInterrupted:
		why = append(why, "the run was interrupted")
	case StatusHubDied:
		why = append(why, "the hub died")
	case StatusAborted:
		why = append(why, "a threshold aborted the run")
	}
	if res.TruncatedTail {
		why = append(why, "the last line was incomplete")
	}
	return strings.Join(why, "; ")
}

func countMetrics(res *Results) int {
	seen := map[string]bool{}
	for _, s := range res.Series {
		seen[s.Metric] = true
	}
	return len(seen)
}

func buildVerdict(v *Verdict) *verdictView {
	if v == nil {
		return nil
	}
	vv := &verdictView{}
	for _, t := range v.Thresholds {
		tv := thresholdView{Mark: "✓", Class: "ok", Metric: t.Metric, Expr: t.Expr, Observed: t.Observed}
		if !t.OK {
			tv.Mark, tv.Class = "✗", "bad"
		}
		vv.Thresholds = append(vv.Thresholds, tv)
	}
	unit := v.SizeUnit
	if unit == "" {
		unit = "attendees"
	}
	if v.PlannedSize > 0 {
		vv.Capacity = append(vv.Capacity, kv{"planned workshop size", fmtCount(v.PlannedSize) + " " + unit})
	}
	switch {
	case math.IsInf(v.PredictedThreshold, 1):
		vv.Capacity = append(vv.Capacity, kv{"predicted OOM threshold", "not reached by the model"})
	case v.PredictedThreshold > 0:
		s := fmtCount(v.PredictedThreshold) + " " + unit
		if v.PlannedSize > 0 {
			s += fmt.Sprintf(" (%s× the plan)", sig3(v.PredictedThreshold/v.PlannedSize))
		}
		vv.Capacity = append(vv.Capacity, kv{"predicted OOM threshold", s})
	}
	if v.MemoryLimitBytes > 0 {
		vv.Capacity = append(vv.Capacity, kv{"hub memory limit", fmtBytes(v.MemoryLimitBytes)})
	}
	if v.PredictedPeakBytes > 0 {
		vv.Capacity = append(vv.Capacity, kv{"predicted peak RSS at the plan (upper band)", fmtBytes(v.PredictedPeakBytes)})
	}
	if h := v.HeadroomBytes(); finite(h) {
		vv.Capacity = append(vv.Capacity, kv{"headroom", fmt.Sprintf("%s (%s of the limit)", fmtBytes(h), fmtPct(h/v.MemoryLimitBytes))})
	}
	return vv
}

func buildTimelineView(res *Results, limit float64) (*timelineView, error) {
	w := NewWindows(res.Start, res.End, ChooseWindow(res.Duration(), 120))
	aw := NewWindows(res.Start, res.End, ChooseWindow(res.Duration(), 30))
	t := BuildTimeline(res, w, aw)
	v := &timelineView{Width: fmtDuration(w.Width)}
	for _, m := range []string{MetricArrivals, MetricActive, MetricHubRunning, MetricHubRSS, MetricHubCPU} {
		if !t.Has[m] {
			v.Missing = append(v.Missing, m)
		}
	}
	if len(v.Missing) == 5 {
		return v, nil
	}
	var err error
	if v.Chart, err = timelineChart(t, limit); err != nil {
		return nil, err
	}
	if limit > 0 && t.RSS != nil && !limitOnScale(t.RSS, limit) {
		v.LimitNote = "The hub memory limit, " + fmtBytes(limit) + ", is more than twice the peak RSS and is not drawn."
	}
	type col struct {
		name string
		vals []float64
		fmt  func(float64) string
		w    Windows
	}
	cols := []col{
		{"arrivals", t.Arrivals, fmtCount, w},
		{"active attendees", t.Active, fmtCount, w},
		{"running servers", t.Running, fmtCount, w},
		{"hub RSS", t.RSS, fmtBytes, w},
		{"hub CPU (cores)", t.CPU, sig3f, w},
	}
	summary := append([]col(nil), cols...)
	if t.Arrivals != nil {
		// Peak arrival rate over the coarser windows; the total in "last".
		summary[0] = col{"arrivals / min", t.ArrivalRate, fmtCount, t.ArrivalWindows}
	}
	for ci, c := range summary {
		if c.vals == nil {
			continue
		}
		peak, at, last := math.Inf(-1), -1, math.NaN()
		for i, x := range c.vals {
			if finite(x) {
				if x > peak {
					peak, at = x, i
				}
				last = x
			}
		}
		if at < 0 {
			v.Summary = append(v.Summary, row{Cells: []string{c.name, "–", "–", "–"}})
			continue
		}
		lastCell := c.fmt(last)
		if ci == 0 {
			lastCell = "total " + fmtCount(Summarize(t.Arrivals).Sum)
		}
		v.Summary = append(v.Summary, row{Cells: []string{c.name, c.fmt(peak),
			"t+" + fmtDuration(time.Duration(at)*c.w.Width), lastCell}})
	}
	for i := 0; i < w.N; i++ {
		cells := []string{"t+" + fmtDuration(time.Duration(i)*w.Width)}
		for _, c := range cols {
			if c.vals == nil {
				cells = append(cells, "")
				continue
			}
			cells = append(cells, c.fmt(c.vals[i]))
		}
		v.Windows = append(v.Windows, row{Cells: cells})
	}
	return v, nil
}

func sig3f(v float64) string {
	if !finite(v) {
		return "–"
	}
	return sig3(v)
}

func buildLatencyView(res *Results) (*latencyView, error) {
	lat := PhaseLatencies(res)
	if len(lat) == 0 {
		return &latencyView{}, nil
	}
	phaseCount := map[string]int{}
	for _, l := range lat {
		phaseCount[l.Phase]++
	}
	w := NewWindows(res.Start, res.End, ChooseWindow(res.Duration(), 30))
	v := &latencyView{Width: fmtDuration(w.Width)}
	var pws []phaseWindows
	for _, l := range lat {
		pw := phaseWindows{
			Label:   l.label(phaseCount[l.Phase] > 1),
			Windows: QuantileWindows(l.Points, w, latencyQs),
			All:     Summarize(values(l.Points)),
		}
		pws = append(pws, pw)
		s := pw.All
		v.Summary = append(v.Summary, row{Cells: []string{pw.Label, l.Metric, fmtCount(float64(s.Count)),
			fmtMs(s.P50), fmtMs(s.P95), fmtMs(s.P99), fmtMs(s.Max)}})
		for wi, qw := range pw.Windows {
			if qw.Count == 0 {
				continue
			}
			v.Windows = append(v.Windows, row{Cells: []string{pw.Label, "t+" + fmtDuration(time.Duration(wi)*w.Width),
				fmtCount(float64(qw.Count)), fmtMs(qw.Q[0]), fmtMs(qw.Q[1]), fmtMs(qw.Q[2])}})
		}
	}
	var err error
	v.Chart, err = latencyChart(pws, w)
	return v, err
}

func buildErrorsView(res *Results) (*errorsView, error) {
	errs, throttled := ErrorCounts(res)
	v := &errorsView{}
	total := 0.0
	counts := map[[2]string]float64{}
	phaseSet, statusSet := map[string]bool{}, map[string]bool{}
	for _, e := range errs {
		total += e.Count
		counts[[2]string{e.Phase, e.Status}] += e.Count
		phaseSet[e.Phase], statusSet[e.Status] = true, true
		v.Rows = append(v.Rows, row{Cells: []string{e.Phase, e.Status, fmtCount(e.Count)}, Class: "bad"})
	}
	thr := 0.0
	for p, n := range throttled {
		thr += n
		phaseSet[p] = true
	}
	for _, p := range sortedKeys(throttled) {
		v.Rows = append(v.Rows, row{Cells: []string{p, "429 throttled (retried)", fmtCount(throttled[p])}})
	}
	v.Total = fmtCount(total)
	if len(throttled) > 0 {
		v.Throttled = fmtCount(thr)
	}
	if ss := res.SeriesOf(MetricDroppedIters); len(ss) > 0 {
		n := Summarize(values(mergePoints(ss))).Sum
		v.Dropped = fmtCount(n) + " iteration"
		if n != 1 {
			v.Dropped += "s"
		}
	}
	for _, c := range CheckCounts(res) {
		cls := "ok"
		if c.Fail > 0 {
			cls = "bad"
		}
		v.Checks = append(v.Checks, row{Cells: []string{c.Name, fmtCount(float64(c.Pass)), fmtCount(float64(c.Fail)), fmtPct(c.PassFraction)}, Class: cls})
	}
	if len(phaseSet) == 0 {
		return v, nil
	}
	var phases, statuses []string
	for p := range phaseSet {
		phases = append(phases, p)
	}
	sort.Slice(phases, func(i, j int) bool { return lessPhase(phases[i], phases[j]) })
	for s := range statusSet {
		statuses = append(statuses, s)
	}
	sort.Strings(statuses)
	var err error
	v.Chart, err = errorsChart(phases, statuses, counts, throttled)
	return v, err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func buildModelView(m *CapacityModel, planned float64) (*modelView, error) {
	v := &modelView{Terms: m.Terms, Formula: m.Formula}
	meas := append([]ModelPoint(nil), m.Measured...)
	sort.SliceStable(meas, func(i, j int) bool { return meas[i].Size < meas[j].Size })
	for _, p := range meas {
		v.Measured = append(v.Measured, row{Cells: []string{fmtCount(p.Size), fmtBytes(p.Bytes), p.Label}})
	}
	// The curve and band as a table, merged by size.
	type cb struct{ fit, lo, hi float64 }
	bySize := map[float64]*cb{}
	get := func(s float64) *cb {
		if bySize[s] == nil {
			bySize[s] = &cb{math.NaN(), math.NaN(), math.NaN()}
		}
		return bySize[s]
	}
	for _, p := range m.Fitted {
		get(p.Size).fit = p.Bytes
	}
	for _, p := range m.Band {
		get(p.Size).lo, get(p.Size).hi = p.Lower, p.Upper
	}
	sizes := make([]float64, 0, len(bySize))
	for s := range bySize {
		sizes = append(sizes, s)
	}
	sort.Float64s(sizes)
	for _, s := range sizes {
		c := bySize[s]
		v.Curve = append(v.Curve, row{Cells: []string{fmtCount(s), fmtBytes(c.fit), fmtBytes(c.lo), fmtBytes(c.hi)}})
	}
	if m.LimitBytes > 0 {
		v.Summary = append(v.Summary, kv{"memory limit", fmtBytes(m.LimitBytes)})
	}
	if m.ThresholdSize > 0 && finite(m.ThresholdSize) {
		v.Summary = append(v.Summary, kv{"predicted threshold (upper band meets the limit)", fmtCount(m.ThresholdSize)})
	}
	if planned > 0 {
		v.Summary = append(v.Summary, kv{"planned size", fmtCount(planned)})
	}
	var err error
	if len(m.Measured)+len(m.Fitted)+len(m.Band) > 0 {
		v.Chart, err = modelChart(m, planned)
	}
	return v, err
}

// lastValue is the last point of a metric over all its series.
func lastValue(res *Results, metric string) (float64, bool) {
	pts := mergePoints(res.SeriesOf(metric))
	if len(pts) == 0 {
		return 0, false
	}
	return pts[len(pts)-1].Value, true
}

func buildDBView(c *Check, res *Results) (*dbView, error) {
	v := &dbView{}
	if res != nil {
		for _, m := range []struct{ name, label string }{
			{MetricHubUsers, "users (U)"}, {MetricDBSpawners, "spawner rows (S)"},
			{MetricDBRunning, "running spawners (R)"}, {MetricDBJoinedRows, "joined rows at start-up (J)"},
		} {
			pts := mergePoints(res.SeriesOf(m.name))
			if len(pts) == 0 {
				continue
			}
			st := Summarize(values(pts))
			v.Telemetry = append(v.Telemetry, row{Cells: []string{m.label, fmtCount(pts[0].Value), fmtCount(st.Max), fmtCount(pts[len(pts)-1].Value)}})
		}
	}
	if c == nil && len(v.Telemetry) == 0 {
		return nil, nil
	}
	if c != nil {
		v.Source = c.Source
		v.Shape = []kv{
			{"U — users", fmtCount(float64(c.Shape.U))},
			{"S — spawner rows (running or stopped)", fmtCount(float64(c.Shape.S))},
			{"R — spawners with a server row", fmtCount(float64(c.Shape.R))},
			{"J — rows the 5.0–5.3 start-up query joins (Σ R_u·S_u)", fmtCount(float64(c.Shape.J))},
		}
		for _, u := range c.Shape.Users {
			v.TopUsers = append(v.TopUsers, row{Cells: []string{u.Name, fmtCount(float64(u.S)), fmtCount(float64(u.R)), fmtCount(float64(u.R * u.S))}})
		}
		for _, h := range c.Histogram {
			v.Histogram = append(v.Histogram, row{Cells: []string{strconv.FormatInt(h.Spawners, 10), fmtCount(float64(h.Users))}})
		}
		if len(c.Histogram) > 0 {
			var err error
			if v.Chart, err = dbShapeChart(c.Histogram); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// secretKey matches parameter names whose values must not be printed.
var secretKey = regexp.MustCompile(`(?i)token|secret|passw|api_?key|credential|cookie`)

func buildEnv(e *Environment) *envView {
	if e == nil {
		return nil
	}
	v := &envView{Config: e.Config}
	if e.Release != "" {
		v.Rows = append(v.Rows, kv{"JupyterHub release", e.Release})
	}
	for _, k := range sortedKeys(e.Params) {
		val := e.Params[k]
		if secretKey.MatchString(k) {
			val = "(redacted)"
		}
		v.Rows = append(v.Rows, kv{k, val})
	}
	return v
}
