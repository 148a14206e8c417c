package reports

import (
	"math"
	"sort"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// chartWave is the login wave's chart id.
const chartWave = "chart-wave"

// waveView is the "Login wave" section.
type waveView struct {
	Chart   *chartSpec
	Summary []kv
	Ops     []row // operation, CPU ms, interval, per arrival
	Points  []row // arrival rate, cores, p95 login, p95 spawn, logins
	Curve   []row // arrival rate, cores, p95 login, p95 spawn
	Memory  []row // term, per unit, interval, at peak
	MemSum  []kv
	Notes   []string
}

func fmtInterval(i Interval, f func(float64) string) string {
	if !finite(i.Lower) || !finite(i.Upper) {
		return "–"
	}
	return f(i.Lower) + " – " + f(i.Upper)
}

func fmtRate(v float64) string {
	if !finite(v) {
		return "–"
	}
	return sig3(v) + "/min"
}

func fmtMsOrDash(v float64) string {
	if math.IsInf(v, 1) {
		return "saturated"
	}
	if !finite(v) {
		return "–"
	}
	return fmtMs(v)
}

func buildWaveView(w *LoginWave) (*waveView, error) {
	if w == nil {
		return nil, nil
	}
	v := &waveView{Notes: w.Notes}
	ms := func(s float64) string { return sig3(1000 * s) }
	v.Summary = []kv{
		{"planned peak arrivals", fmtRate(w.PlannedPeakRate) + " (" + w.PlannedSource + ")"},
		{"saturation (the verdict's)", fmtRate(w.Saturation.Value) + " (" + fmtInterval(w.Saturation, fmtRate) + "), " + w.Binding + " binds"},
		{"headroom", fmtPct(w.Headroom())},
		{"rate at " + sig3(w.CPUTarget) + " core of CPU", fmtRate(w.CPURate.Value) + " (" + fmtInterval(w.CPURate, fmtRate) + ")"},
		{"rate at p95 login " + fmtMs(w.LoginTarget), fmtRate(w.LatencyRate)},
	}
	if m := w.Measured; m != nil {
		what := m.Reason
		if m.Reason == "CPU" {
			what += ", " + sig3(m.Cores) + " cores"
		} else {
			what += ", p95 login " + fmtMs(m.P95)
		}
		v.Summary = append(v.Summary, kv{"saturation measured in this run", fmtRate(m.RatePerMin) + " at " + sig3(m.AtSeconds) + " s (" + what + ")"})
	}
	v.Summary = append(v.Summary,
		kv{"run's peak arrivals (30 s)", fmtRate(w.PeakRunRate)},
		kv{"run's peak hub CPU (15 s)", sig3(w.PeakRunCores) + " cores"},
		kv{"hub CPU per arrival", ms(w.ArrivalCost.Value) + " ms (" + fmtInterval(w.ArrivalCost, ms) + ")"},
		kv{"idle hub CPU", sig3(w.BaseCores.Value) + " cores (" + fmtInterval(w.BaseCores, sig3) + ")"},
		kv{"servers running per arrival/s at the peak", sig3(w.ServersPerRate) + " s"},
		kv{"CPU model fit", "R² " + sig3(w.R2) + ", RMSE " + ms(w.RMSE) + " ms CPU per " + sig3(w.WindowSeconds) + "-s window, " +
			fmtCount(float64(w.Windows)) + " windows, " + fmtCount(float64(w.Downweighted)) + " down-weighted"},
	)
	if k := w.LoginKnee; k != nil {
		v.Summary = append(v.Summary, kv{"login p95 knee", kneeText(k)})
	}
	if k := w.SpawnKnee; k != nil {
		v.Summary = append(v.Summary, kv{"spawn p95 knee", kneeText(k)})
	}
	for _, o := range w.Ops {
		v.Ops = append(v.Ops, row{Cells: []string{o.Name, ms(o.CPUSeconds.Value), fmtInterval(o.CPUSeconds, ms), sig3(o.PerArrival)}})
	}
	pts := append([]WavePoint(nil), w.Points...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].RatePerMin < pts[j].RatePerMin })
	for _, p := range pts {
		if p.RatePerMin == 0 && p.Logins == 0 {
			continue // before and after the wave
		}
		v.Points = append(v.Points, row{Cells: []string{sig3(p.RatePerMin), sig3(p.Cores), fmtMsOrDash(p.P95Login), fmtMsOrDash(p.P95Spawn), fmtCount(float64(p.Logins))}})
	}
	for _, c := range w.Curve {
		v.Curve = append(v.Curve, row{Cells: []string{sig3(c.RatePerMin), sig3(c.Cores), fmtMsOrDash(c.P95Login), fmtMsOrDash(c.P95Spawn)}})
	}
	if len(w.Memory) > 0 {
		v.Memory = append(v.Memory, row{Cells: []string{"base", fmtBytes(w.MemoryBase.Value), fmtInterval(w.MemoryBase, fmtBytes), "1"}})
		for _, m := range w.Memory {
			v.Memory = append(v.Memory, row{Cells: []string{m.Name, fmtBytes(m.Bytes.Value), fmtInterval(m.Bytes, fmtBytes), fmtCount(m.AtPeak)}})
		}
		v.MemSum = []kv{
			{"predicted hub RSS at peak concurrency", fmtBytes(w.PeakMemory.Value) + " (" + fmtInterval(w.PeakMemory, fmtBytes) + ")"},
			{"measured peak RSS of this run", fmtBytes(w.MeasuredPeakRSS)},
			{"memory model fit", "R² " + sig3(w.MemoryR2) + ", RMSE " + fmtBytes(w.MemoryRMSE) + ", " + fmtCount(float64(w.MemorySamples)) + " samples"},
		}
		if w.RestartPeakBytes > 0 {
			v.MemSum = append(v.MemSum, kv{"restart peak at the planned size (capacity model)", fmtBytes(w.RestartPeakBytes)})
		}
		if w.LimitBytes > 0 {
			v.MemSum = append(v.MemSum, kv{"memory limit", fmtBytes(w.LimitBytes)})
		}
	}
	var err error
	if len(w.Points) > 0 || len(w.Curve) > 0 {
		v.Chart, err = waveChart(w)
	}
	return v, err
}

// waveChart draws p95 login and spawn latency (left axis) and hub CPU
// (right axis) against the arrival rate: the run's windows as points, the
// models as lines, the plan and the predicted saturation as marks.
func waveChart(w *LoginWave) (*chartSpec, error) {
	const height = 460
	l := baseLine(chartWave, height)
	l.SetGlobalOptions(
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "70", Right: "70", Top: "60", Bottom: "50"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "arrivals / min", NameLocation: "middle", NameGap: 28, Min: 0}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "p95 latency (s)", Min: 0}),
	)
	l.ExtendYAxis(opts.YAxis{Type: "value", Name: "hub CPU (cores)", Position: "right", Min: 0, Max: 1.2,
		SplitLine: &opts.SplitLine{Show: opts.Bool(false)}})
	var login, spawn, cores []xy
	for _, p := range w.Points {
		if finite(p.P95Login) {
			login = append(login, xy{p.RatePerMin, p.P95Login / 1000})
		}
		if finite(p.P95Spawn) {
			spawn = append(spawn, xy{p.RatePerMin, p.P95Spawn / 1000})
		}
		cores = append(cores, xy{p.RatePerMin, p.Cores})
	}
	scatter := func(name string, ps []xy, color string, yi int) {
		l.AddSeries(name, pairs(ps), series(func(s *charts.SingleSeries) {
			s.Type, s.Color, s.SymbolSize, s.YAxisIndex = "scatter", color, 7, yi
		}))
	}
	scatter("p95 login (run)", login, colBlue, 0)
	scatter("p95 spawn (run)", spawn, colGreen, 0)
	scatter("hub CPU (run)", cores, colOrange, 1)
	var mLogin, mSpawn, mCores []xy
	maxLat := 0.0
	for _, p := range login {
		maxLat = math.Max(maxLat, p.y)
	}
	for _, p := range spawn {
		maxLat = math.Max(maxLat, p.y)
	}
	capLat := math.Max(2*w.LoginTarget/1000, 1.5*maxLat)
	for _, c := range w.Curve {
		if finite(c.P95Login) && c.P95Login/1000 <= capLat {
			mLogin = append(mLogin, xy{c.RatePerMin, c.P95Login / 1000})
		}
		if finite(c.P95Spawn) && c.P95Spawn/1000 <= capLat {
			mSpawn = append(mSpawn, xy{c.RatePerMin, c.P95Spawn / 1000})
		}
		if c.Cores <= 1.2 {
			mCores = append(mCores, xy{c.RatePerMin, c.Cores})
		}
	}
	var marks []interface{}
	if w.PlannedPeakRate > 0 {
		marks = append(marks, mark("planned peak "+fmtRate(w.PlannedPeakRate), colGreen, "end",
			opts.MarkLineNameXAxisItem{Name: "planned peak", XAxis: round(w.PlannedPeakRate, 6)}))
	}
	if w.Saturation.Value > 0 {
		marks = append(marks, mark("saturation "+fmtRate(w.Saturation.Value), colRed, "end",
			opts.MarkLineNameXAxisItem{Name: "predicted saturation", XAxis: round(w.Saturation.Value, 6)}))
	}
	line := func(name string, ps []xy, color string, yi int, withMarks bool) {
		l.AddSeries(name, pairs(ps), series(func(s *charts.SingleSeries) {
			s.Color, s.ShowSymbol, s.YAxisIndex = color, opts.Bool(false), yi
			s.LineStyle = &opts.LineStyle{Width: 2, Type: "dashed"}
			if withMarks && len(marks) > 0 {
				s.MarkLines = &opts.MarkLines{Data: marks, MarkLineStyle: opts.MarkLineStyle{Symbol: []string{"none", "none"}}}
			}
		}))
	}
	line("hub CPU (model)", mCores, colOrange, 1, true)
	line("p95 login (model)", mLogin, colBlue, 0, false)
	line("p95 spawn (model)", mSpawn, colGreen, 0, false)
	return newSpec(chartWave, "login wave", height, l, nil)
}

// kneeText is "40 ms + 60 ms/(1 − 1.5·ρ), 30 windows".
func kneeText(k *Knee) string {
	busy := ""
	if k.Busy > 1 {
		busy = sig3(k.Busy) + "·"
	}
	return fmtMs(k.Floor) + " + " + fmtMs(k.Scale) + "/(1 − " + busy + "ρ), " + fmtCount(float64(k.Points)) + " windows"
}
