package reports

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// Fixed chart ids: the same inputs give the same bytes.
const (
	chartTimeline = "chart-timeline"
	chartLatency  = "chart-latency"
	chartErrors   = "chart-errors"
	chartModel    = "chart-model"
	chartDBShape  = "chart-dbshape"
)

// bandSeriesID marks the prediction band series for the page script.
const bandSeriesID = "hubcap-band"

// Palette shared by the charts and the CSS legend swatches.
const (
	colBlue   = "#2f6fb0"
	colGreen  = "#3a9a5b"
	colOrange = "#e08a1e"
	colRed    = "#c8372d"
	colPurple = "#7b4fa6"
	colGrey   = "#8a8f98"
	colTeal   = "#2a9d9d"
)

// chartSpec is one chart as the page embeds it: a div and its option JSON.
type chartSpec struct {
	ID     string
	Height int
	Label  string      // aria-label and verification name
	Option template.JS // JSON, HTML-safe (encoding/json escapes <, >, &)
}

// optionSource is what the go-echarts chart types share.
type optionSource interface {
	Validate()
	JSON() map[string]interface{}
}

// newSpec turns a go-echarts chart into a chartSpec. go-echarts' own
// templates write the option unescaped (JSONNotEscaped) and link its assets
// host; here the option is marshalled with encoding/json, which escapes
// <, > and & so that tag values from the results cannot close the script
// element, and extra top-level keys go-echarts has no field for are merged in.
func newSpec(id, label string, height int, c optionSource, extra map[string]any) (*chartSpec, error) {
	c.Validate()
	obj := c.JSON()
	for k, v := range extra {
		obj[k] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("reports: chart %s: %w", id, err)
	}
	return &chartSpec{ID: id, Label: label, Height: height, Option: template.JS(b)}, nil
}

func initOpts(id string, height int) charts.GlobalOpts {
	return charts.WithInitializationOpts(opts.Initialization{
		ChartID: id, Width: "100%", Height: strconv.Itoa(height) + "px",
		AssetsHost: "/", // never used: the page is assembled here
	})
}

// xy is one [x, y] data pair; non-finite values are dropped by pairs().
type xy struct{ x, y float64 }

func pairs(ps []xy) []opts.LineData {
	out := make([]opts.LineData, 0, len(ps))
	for _, p := range ps {
		if finite(p.x) && finite(p.y) {
			out = append(out, opts.LineData{Value: []float64{round(p.x, 6), round(p.y, 4)}})
		}
	}
	return out
}

func series(fn func(s *charts.SingleSeries)) charts.SeriesOpts {
	return charts.WithSeriesOpts(func(s *charts.SingleSeries) { fn(s) })
}

func baseLine(id string, height int) *charts.Line {
	l := charts.NewLine()
	l.SetGlobalOptions(
		initOpts(id, height),
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
	)
	return l
}

// Timeline is the shared-time-axis view of the run.
type Timeline struct {
	Windows Windows
	// Arrivals counts arrivals per window of Windows (for the table);
	// ArrivalRate is arrivals per minute over the coarser ArrivalWindows
	// (for the bars: one arrival in a 10 s window is not "6 per minute").
	Arrivals       []float64
	ArrivalWindows Windows
	ArrivalRate    []float64
	Active         []float64 // attendees_active, gauge peak per window
	Running        []float64 // hub_running_servers, gauge peak per window
	RSS            []float64 // bytes (gauge peak per window)
	CPU            []float64 // cores (NaN where no sample covers the window)
	// Has records which telemetry metrics the results hold.
	Has map[string]bool
}

// BuildTimeline aggregates the telemetry into the windows w (arrivals also
// into aw): arrivals (a Counter summed, or a cumulative Gauge differenced),
// active attendees, running servers and hub RSS (gauges, see GaugeWindows),
// and hub CPU in cores (hub_cpu_seconds, a cumulative gauge, differenced —
// see IncreaseWindows — over the time its samples cover in the window; a
// hub_cpu_seconds declared as a Counter holds increments and is summed).
func BuildTimeline(res *Results, w, aw Windows) Timeline {
	t := Timeline{Windows: w, ArrivalWindows: aw, Has: map[string]bool{}}
	gauge := func(metric string) []float64 {
		ss := res.SeriesOf(metric)
		if len(ss) == 0 {
			return nil
		}
		t.Has[metric] = true
		var pts [][]Point
		for _, s := range ss {
			pts = append(pts, s.Points)
		}
		return GaugeWindows(pts, w)
	}
	increase := func(metric string, w Windows) []float64 {
		ss := res.SeriesOf(metric)
		if len(ss) == 0 {
			return nil
		}
		t.Has[metric] = true
		out := make([]float64, w.N)
		for _, s := range ss {
			for i, v := range IncreaseWindows(s.Points, w) {
				out[i] += v
			}
		}
		return out
	}
	arrivals := func(w Windows) []float64 {
		if res.MetricType(MetricArrivals) == metricTypeGauge {
			return increase(MetricArrivals, w)
		}
		ss := res.SeriesOf(MetricArrivals)
		if len(ss) == 0 {
			return nil
		}
		t.Has[MetricArrivals] = true
		return SumWindows(mergePoints(ss), w)
	}
	t.Arrivals = arrivals(w)
	if t.ArrivalRate = arrivals(aw); t.ArrivalRate != nil {
		for i := range t.ArrivalRate {
			t.ArrivalRate[i] *= time.Minute.Seconds() / aw.Width.Seconds()
		}
	}
	t.Active = gauge(MetricActive)
	t.Running = gauge(MetricHubRunning)
	t.RSS = gauge(MetricHubRSS)
	if res.MetricType(MetricHubCPU) == metricTypeCounter {
		// Declared as a k6 Counter, the samples are increments already.
		if ss := res.SeriesOf(MetricHubCPU); len(ss) > 0 {
			t.Has[MetricHubCPU] = true
			t.CPU = SumWindows(mergePoints(ss), w)
			for i := range t.CPU {
				t.CPU[i] /= w.Width.Seconds()
			}
		}
	} else if cpu := increase(MetricHubCPU, w); cpu != nil {
		// Divide by the time the samples cover in each window, so the
		// partial last window (or a gap after the hub died) is not a drop to 0.
		covered := make([]time.Duration, w.N)
		for _, s := range res.SeriesOf(MetricHubCPU) {
			for i, d := range Coverage(s.Points, w) {
				covered[i] = max(covered[i], d)
			}
		}
		for i := range cpu {
			if covered[i] > 0 {
				cpu[i] /= covered[i].Seconds()
			} else {
				cpu[i] = math.NaN()
			}
		}
		t.CPU = cpu
	}
	return t
}

func minutes(d time.Duration) float64 { return d.Minutes() }

// timeLabels hides the label at the axis end, which ECharts would print
// next to the last regular tick (…, 12, 13).
func timeLabels() *opts.AxisLabel {
	return &opts.AxisLabel{ShowMinLabel: opts.Bool(true), ShowMaxLabel: opts.Bool(false)}
}

// axisEnd is the end of a time axis in minutes: the end of the last window,
// rounded up to a whole minute (a tenth of a minute for runs under two
// minutes) so the last tick label is a round number.
func axisEnd(w Windows) float64 {
	m := minutes(time.Duration(w.N) * w.Width)
	if m >= 2 {
		return math.Ceil(m - 1e-9)
	}
	return math.Ceil(m*10-1e-9) / 10
}

func windowPairs(w Windows, vals []float64, scale float64) []opts.LineData {
	ps := make([]xy, 0, len(vals))
	for i, v := range vals {
		ps = append(ps, xy{minutes(w.Mid(i)), v * scale})
	}
	return pairs(ps)
}

func timelineChart(t Timeline, limitBytes float64) (*chartSpec, error) {
	const height = 660
	xmax := axisEnd(t.Windows)
	grids := []opts.Grid{
		{Left: "70", Right: "70", Top: "50", Height: "180"},
		{Left: "70", Right: "70", Top: "285", Height: "120"},
		{Left: "70", Right: "70", Top: "460", Height: "120"},
	}
	xa := func(grid int, name string) opts.XAxis {
		return opts.XAxis{Type: "value", GridIndex: grid, Min: 0, Max: xmax, Name: name,
			NameLocation: "middle", NameGap: 25, AxisLabel: timeLabels()}
	}
	l := baseLine(chartTimeline, height)
	l.SetGlobalOptions(
		charts.WithGridOpts(grids...),
		charts.WithXAxisOpts(xa(0, "")),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "attendees / servers", MinInterval: 1}),
		charts.WithDataZoomOpts(opts.DataZoom{Type: "slider", XAxisIndex: []int{0, 1, 2}, Start: 0, End: 100}),
	)
	l.ExtendXAxis(xa(1, ""), xa(2, "minutes since start"))
	l.ExtendYAxis(
		opts.YAxis{Type: "value", Name: "arrivals / min", Position: "right", GridIndex: 0, SplitLine: &opts.SplitLine{Show: opts.Bool(false)}},
		rssAxis(t.RSS, limitBytes),
		opts.YAxis{Type: "value", Name: "hub CPU (cores)", GridIndex: 2},
	)
	add := func(name string, vals []float64, scale float64, xi, yi int, color, kind string, extra func(*charts.SingleSeries)) {
		if vals == nil {
			return
		}
		w := t.Windows
		if kind == "bar" {
			w = t.ArrivalWindows
		}
		l.AddSeries(name, windowPairs(w, vals, scale), series(func(s *charts.SingleSeries) {
			s.XAxisIndex, s.YAxisIndex, s.Color = xi, yi, color
			s.ShowSymbol = opts.Bool(false)
			if kind != "" {
				s.Type = kind
			}
			if extra != nil {
				extra(s)
			}
		}))
	}
	add("arrivals / min", t.ArrivalRate, 1, 0, 1, colGrey, "bar", func(s *charts.SingleSeries) { s.BarMaxWidth = "12" })
	add("active attendees", t.Active, 1, 0, 0, colBlue, "", nil)
	add("running servers", t.Running, 1, 0, 0, colGreen, "", nil)
	add("hub RSS", t.RSS, 1.0/(1<<20), 1, 2, colPurple, "", func(s *charts.SingleSeries) {
		s.AreaStyle = &opts.AreaStyle{Opacity: opts.Float(0.12)}
		if limitBytes > 0 && limitOnScale(t.RSS, limitBytes) {
			s.MarkLines = &opts.MarkLines{
				Data: []interface{}{opts.MarkLineNameYAxisItem{Name: "memory limit", YAxis: round(limitBytes/(1<<20), 6)}},
				MarkLineStyle: opts.MarkLineStyle{Symbol: []string{"none", "none"},
					LineStyle: &opts.LineStyle{Color: colRed, Type: "dashed", Width: 2},
					Label:     &opts.Label{Show: opts.Bool(true), Formatter: "limit " + fmtBytes(limitBytes), Position: "insideEndTop"}},
			}
		}
	})
	add("hub CPU", t.CPU, 1, 2, 3, colOrange, "", nil)
	extra := map[string]any{
		"axisPointer": map[string]any{"link": []map[string]any{{"xAxisIndex": "all"}}},
	}
	return newSpec(chartTimeline, "timeline", height, l, extra)
}

// limitOnScale reports whether the memory limit is drawn on the RSS axis:
// when the peak reaches half of it. Further away, drawing it would flatten
// the RSS curve, so the page states the limit in words instead.
func limitOnScale(rss []float64, limit float64) bool {
	peak := 0.0
	for _, v := range rss {
		if finite(v) {
			peak = math.Max(peak, v)
		}
	}
	return peak >= limit/2
}

func rssAxis(rss []float64, limit float64) opts.YAxis {
	y := opts.YAxis{Type: "value", Name: "hub RSS (MiB)", GridIndex: 1}
	switch {
	case limit <= 0:
	case limitOnScale(rss, limit):
		y.Max = round(limit*1.08/(1<<20), 3)
	}
	return y
}

// latencyQs are the quantiles drawn per phase.
var latencyQs = []float64{0.5, 0.95, 0.99}

// phaseWindows is one phase's latency over time.
type phaseWindows struct {
	Label   string
	Windows []QuantileWindow
	All     Stats
}

func latencyChart(phases []phaseWindows, w Windows) (*chartSpec, error) {
	n := len(phases)
	cols := 3
	if n < cols {
		cols = n
	}
	rows := (n + cols - 1) / cols
	const cell, top = 230, 40
	height := top + rows*cell
	l := baseLine(chartLatency, height)
	var grids []opts.Grid
	var titles []map[string]any
	colW := 100.0 / float64(cols)
	xmax := axisEnd(w)
	qColors := []string{colBlue, colOrange, colRed}
	for i, ph := range phases {
		r, c := i/cols, i%cols
		left := float64(c)*colW + 5
		gtop := top + r*cell + 40
		grids = append(grids, opts.Grid{
			Left: fmtPercent(left), Width: fmtPercent(colW - 8),
			Top: strconv.Itoa(gtop), Height: strconv.Itoa(cell - 90),
		})
		titles = append(titles, map[string]any{
			"text": ph.Label, "left": fmtPercent(left), "top": gtop - 38,
			"textStyle": map[string]any{"fontSize": 13, "fontWeight": "bold"},
		})
		// Seconds when the phase is slow, else milliseconds.
		unit, scale := "ms", 1.0
		if finite(ph.All.P99) && ph.All.P99 >= 2000 {
			unit, scale = "s", 1.0/1000
		}
		xAxis := opts.XAxis{Type: "value", GridIndex: i, Min: 0, Max: xmax, AxisLabel: timeLabels()}
		if r == rows-1 || i+cols >= n {
			xAxis.Name, xAxis.NameLocation, xAxis.NameGap = "minutes", "middle", 22
		}
		yAxis := opts.YAxis{Type: "value", GridIndex: i, Name: unit, NameGap: 8}
		if i == 0 {
			l.SetGlobalOptions(charts.WithXAxisOpts(xAxis), charts.WithYAxisOpts(yAxis))
		} else {
			l.ExtendXAxis(xAxis)
			l.ExtendYAxis(yAxis)
		}
		for qi, q := range latencyQs {
			ps := make([]xy, 0, len(ph.Windows))
			for wi, qw := range ph.Windows {
				if qw.Count > 0 {
					ps = append(ps, xy{minutes(w.Mid(wi)), qw.Q[qi] * scale})
				}
			}
			name := "p" + strconv.FormatFloat(q*100, 'f', -1, 64)
			l.AddSeries(name, pairs(ps), series(func(s *charts.SingleSeries) {
				s.XAxisIndex, s.YAxisIndex, s.Color = i, i, qColors[qi]
				s.ShowSymbol = opts.Bool(len(ps) < 3)
				s.SymbolSize = 4
			}))
		}
	}
	l.SetGlobalOptions(charts.WithGridOpts(grids...))
	extra := map[string]any{"title": titles}
	return newSpec(chartLatency, "latency by phase", height, l, extra)
}

func fmtPercent(v float64) string { return strconv.FormatFloat(round(v, 4), 'f', -1, 64) + "%" }

func errorsChart(phases []string, statuses []string, counts map[[2]string]float64, throttled map[string]float64) (*chartSpec, error) {
	const height = 340
	b := charts.NewBar()
	b.SetGlobalOptions(
		initOpts(chartErrors, height),
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "60", Right: "30", Top: "50", Bottom: "40"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: "phase", NameLocation: "middle", NameGap: 28}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "count", MinInterval: 1}),
	)
	b.SetXAxis(phases)
	palette := []string{colRed, colOrange, colPurple, colTeal, colBlue, colGreen, "#b5651d", "#6b6b6b"}
	for si, st := range statuses {
		data := make([]opts.BarData, len(phases))
		for i, p := range phases {
			data[i] = opts.BarData{Value: round(counts[[2]string{p, st}], 6)}
		}
		color := palette[si%len(palette)]
		b.AddSeries("status "+st, data, series(func(s *charts.SingleSeries) {
			s.Stack, s.Color, s.BarMaxWidth = "errors", color, "48"
		}))
	}
	if len(throttled) > 0 {
		data := make([]opts.BarData, len(phases))
		for i, p := range phases {
			data[i] = opts.BarData{Value: round(throttled[p], 6)}
		}
		b.AddSeries("throttled (429, retried)", data, series(func(s *charts.SingleSeries) {
			s.Color, s.BarMaxWidth = colGrey, "48"
		}))
	}
	return newSpec(chartErrors, "errors by phase", height, b, nil)
}

// bytesUnit picks MiB or GiB for a byte range.
func bytesUnit(maxBytes float64) (string, float64) {
	if maxBytes >= 2*(1<<30) {
		return "GiB", 1.0 / (1 << 30)
	}
	return "MiB", 1.0 / (1 << 20)
}

func modelChart(m *CapacityModel, planned float64) (*chartSpec, error) {
	const height = 460
	maxB, maxX := m.LimitBytes, math.Max(m.ThresholdSize, planned)
	for _, p := range m.Measured {
		maxB, maxX = math.Max(maxB, p.Bytes), math.Max(maxX, p.Size)
	}
	for _, p := range m.Fitted {
		maxX = math.Max(maxX, p.Size)
	}
	for _, p := range m.Band {
		maxB, maxX = math.Max(maxB, p.Upper), math.Max(maxX, p.Size)
	}
	unit, scale := bytesUnit(maxB)
	xlabel := m.SizeLabel
	if xlabel == "" {
		xlabel = "workshop size (attendees)"
	}
	l := baseLine(chartModel, height)
	l.SetGlobalOptions(
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0",
			Data: []string{"prediction band", "fitted model", "measured peak"}}),
		charts.WithGridOpts(opts.Grid{Left: "70", Right: "40", Top: "50", Bottom: "50"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: xlabel, NameLocation: "middle", NameGap: 28, Min: 0}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "peak RSS (" + unit + ")", Min: 0}),
	)
	if len(m.Band) > 0 {
		// A custom series: the page's hubcapChart() gives series with id
		// bandSeriesID a renderItem that fills the polygon between the
		// lower and upper edges (stacking cannot do it on a value x axis).
		band := append([]BandPoint(nil), m.Band...)
		sort.Slice(band, func(i, j int) bool { return band[i].Size < band[j].Size })
		data := make([][3]float64, 0, len(band))
		for _, p := range band {
			if finite(p.Size) && finite(p.Lower) && finite(p.Upper) {
				data = append(data, [3]float64{round(p.Size, 6), round(p.Lower*scale, 4), round(p.Upper*scale, 4)})
			}
		}
		l.AddSeries("prediction band", nil, series(func(s *charts.SingleSeries) {
			s.Type, s.Id, s.Color, s.Data = "custom", bandSeriesID, colBlue, data
			s.Encode = &opts.Encode{X: 0, Y: []int{1, 2}}
		}))
	}
	var marks []interface{}
	if m.LimitBytes > 0 {
		marks = append(marks, mark("memory limit "+fmtBytes(m.LimitBytes), colRed, "insideEndTop",
			opts.MarkLineNameYAxisItem{Name: "memory limit", YAxis: round(m.LimitBytes*scale, 6)}))
	}
	if m.ThresholdSize > 0 && finite(m.ThresholdSize) {
		marks = append(marks, mark("predicted OOM at "+fmtCount(m.ThresholdSize), colRed, "end",
			opts.MarkLineNameXAxisItem{Name: "predicted threshold", XAxis: round(m.ThresholdSize, 6)}))
	}
	if planned > 0 {
		marks = append(marks, mark("planned "+fmtCount(planned), colGreen, "end",
			opts.MarkLineNameXAxisItem{Name: "planned size", XAxis: round(planned, 6)}))
	}
	fitted := append([]ModelPoint(nil), m.Fitted...)
	sort.Slice(fitted, func(i, j int) bool { return fitted[i].Size < fitted[j].Size })
	fp := make([]xy, len(fitted))
	for i, p := range fitted {
		fp[i] = xy{p.Size, p.Bytes * scale}
	}
	l.AddSeries("fitted model", pairs(fp), series(func(s *charts.SingleSeries) {
		s.Color, s.ShowSymbol = colBlue, opts.Bool(false)
		s.LineStyle = &opts.LineStyle{Width: 2}
		if len(marks) > 0 {
			s.MarkLines = &opts.MarkLines{Data: marks, MarkLineStyle: opts.MarkLineStyle{Symbol: []string{"none", "none"}}}
		}
	}))
	mp := make([]xy, len(m.Measured))
	for i, p := range m.Measured {
		mp[i] = xy{p.Size, p.Bytes * scale}
	}
	l.AddSeries("measured peak", pairs(mp), series(func(s *charts.SingleSeries) {
		s.Type, s.Color, s.SymbolSize = "scatter", colOrange, 10
	}))
	_ = maxX
	return newSpec(chartModel, "capacity model", height, l, nil)
}

// mark is one labelled, dashed mark line item.
func mark(label, color, pos string, item any) any {
	b, _ := json.Marshal(item)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["lineStyle"] = map[string]any{"color": color, "type": "dashed", "width": 2}
	m["label"] = map[string]any{"show": true, "formatter": label, "position": pos, "color": color}
	return m
}

func dbShapeChart(hist []ShapeBucket) (*chartSpec, error) {
	const height = 320
	b := charts.NewBar()
	b.SetGlobalOptions(
		initOpts(chartDBShape, height),
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithGridOpts(opts.Grid{Left: "60", Right: "20", Top: "30", Bottom: "50"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: "spawner rows per user (S_u)", NameLocation: "middle", NameGap: 30}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "users", MinInterval: 1}),
	)
	cats := make([]string, len(hist))
	data := make([]opts.BarData, len(hist))
	for i, h := range hist {
		cats[i] = strconv.FormatInt(h.Spawners, 10)
		data[i] = opts.BarData{Value: h.Users}
	}
	b.SetXAxis(cats)
	b.AddSeries("users", data, series(func(s *charts.SingleSeries) { s.Color, s.BarMaxWidth = colTeal, "40" }))
	return newSpec(chartDBShape, "spawners per user", height, b, nil)
}
