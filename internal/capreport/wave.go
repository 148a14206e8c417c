package capreport

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/reports"
)

// Defaults of the login-wave analysis: what counts as saturated.
const (
	// DefaultCPUTarget is the hub CPU (cores) counted as saturated: the hub
	// is one Python process, so one core is all it can use.
	DefaultCPUTarget = 0.95
	// DefaultLoginTarget is the p95 login latency (ms) counted as saturated.
	DefaultLoginTarget = 2000
	// WaveWindow is the width of the CPU model's windows: the telemetry's
	// default /proc period, so every window holds one CPU reading. A short
	// run with denser readings gets narrower windows (see waveWindow).
	WaveWindow = 5 * time.Second
	// kneeWindow is the width of the latency windows (enough logins for a p95).
	kneeWindow = 15 * time.Second
)

// Telemetry metrics the wave analysis reads beside the report's fixed ones.
const (
	metricCPUCores   = "hub_cpu_cores"
	metricTotalUsers = "hub_total_users"
)

// WaveOp is one operation of the hub's CPU model: a phase of the attendee
// module whose samples count it, or the per-server background.
type WaveOp struct {
	Name   string
	Metric string // a trend of the attendee module; "" for server-seconds
}

// ServerSeconds names the per-running-server term: the hub polls each
// spawner every 30 s and takes each server's activity reports.
const ServerSeconds = "running server-seconds"

// WaveOps are the operations the CPU model fits: the attendee phases that
// reach the hub itself (login form, spawn with its progress stream and
// proxy route, the OAuth authorize and token exchange, stop with its route
// removal, logout) and the running servers. Phases served by the single-user
// server through the proxy (lab, contents, kernels, cells) do not touch the
// hub process.
var WaveOps = []WaveOp{
	{"login", "jupyterhub_login_duration"},
	{"spawn (progress, route)", "jupyterhub_spawn_duration"},
	{"oauth", "jupyterhub_oauth_duration"},
	{"stop server (route)", "jupyterhub_stop_server_duration"},
	{"logout", "jupyterhub_logout_duration"},
	{ServerSeconds, ""},
}

// Memory terms of the day-memory model (high-water marks so far).
var memoryTerms = []string{"attendees in session", "running servers", "users"}

// WaveInputs are what the login-wave analysis needs beside the results.
type WaveInputs struct {
	// PlannedRate is the plan's peak arrivals per minute (0: from the
	// scenario's parameters, else the run's peak).
	PlannedRate float64
	// Planned is the planned workshop size in attendees (0: the run's).
	Planned float64
	// LimitBytes is the hub's memory limit (0: unknown).
	LimitBytes float64
	// RestartPeakBytes is the restart model's predicted peak (0: unknown).
	RestartPeakBytes float64
	// CPUTarget and LoginTarget say what counts as saturated (0: defaults).
	CPUTarget, LoginTarget float64
	// Bootstrap resamples for intervals (0: models.DefaultBootstrap).
	Bootstrap int
}

// ErrNoWave: the results lack what the login-wave analysis needs.
var ErrNoWave = errors.New("capreport: no login-wave analysis")

// BuildWave fits the hub's CPU model and day-memory model to a run's
// results and predicts the login wave's saturation. It is a pure function;
// it returns ErrNoWave (with what is missing) when the results have no hub
// CPU telemetry or no arrivals.
func BuildWave(res *reports.Results, info ScenarioInfo, in WaveInputs) (*reports.LoginWave, error) {
	if in.CPUTarget == 0 {
		in.CPUTarget = DefaultCPUTarget
	}
	if in.LoginTarget == 0 {
		in.LoginTarget = DefaultLoginTarget
	}
	cpu := longestSeries(res, reports.MetricHubCPU)
	if len(cpu) < 8 {
		return nil, fmt.Errorf("%w: the results hold %d hub CPU readings (hub_cpu_seconds); run with hub telemetry (an admin token or --hub local:…)", ErrNoWave, len(cpu))
	}
	arrPts := mergeAll(res, reports.MetricArrivals)
	if len(arrPts) == 0 {
		return nil, fmt.Errorf("%w: no attendee arrivals (attendee_arrivals) in the results", ErrNoWave)
	}
	w := &reports.LoginWave{CPUTarget: in.CPUTarget, LoginTarget: in.LoginTarget, LimitBytes: in.LimitBytes,
		RestartPeakBytes: in.RestartPeakBytes}
	note := func(format string, a ...any) { w.Notes = append(w.Notes, fmt.Sprintf(format, a...)) }

	// CPU windows.
	width := waveWindow(cpu, len(WaveOps)+1)
	w.WindowSeconds = width.Seconds()
	win := reports.NewWindows(cpu[0].Time, cpu[len(cpu)-1].Time, width)
	inc := reports.IncreaseWindows(cpu, win)
	cov := reports.Coverage(cpu, win)
	arr := reports.SumWindows(arrPts, win)
	counts := make([][]float64, len(WaveOps))
	for j, op := range WaveOps {
		if op.Metric == "" {
			counts[j] = gaugeSeconds(mergeAll(res, reports.MetricHubRunning), win)
			continue
		}
		counts[j] = countWindows(mergeAll(res, op.Metric), win)
	}
	var ws []models.ThroughputWindow
	var totalArr float64
	totals := make([]float64, len(WaveOps))
	for i := range win.N {
		secs := cov[i].Seconds()
		if secs < 0.9*width.Seconds() {
			continue
		}
		c := make([]float64, len(WaveOps))
		ok := true
		for j := range WaveOps {
			c[j] = counts[j][i]
			ok = ok && !math.IsNaN(c[j])
		}
		if !ok {
			continue
		}
		ws = append(ws, models.ThroughputWindow{Seconds: secs, CPU: inc[i], Counts: c})
		totalArr += arr[i]
		for j := range c {
			totals[j] += c[j]
		}
	}
	names := make([]string, len(WaveOps))
	for j, op := range WaveOps {
		names[j] = op.Name
	}
	t, err := models.FitThroughput(names, ws, models.ThroughputOptions{Bootstrap: in.Bootstrap})
	if err != nil {
		return nil, fmt.Errorf("%w: CPU model: %w", ErrNoWave, err)
	}
	if totalArr <= 0 {
		return nil, fmt.Errorf("%w: no arrivals while the hub's CPU was measured", ErrNoWave)
	}
	w.R2, w.RMSE, w.Windows, w.Downweighted = t.R2, t.RMSE, t.Windows, t.Downweighted
	w.BaseCores = reports.Interval{Value: t.Base, Lower: t.BaseCI[0], Upper: t.BaseCI[1]}

	// The mix: operations per arrival; the servers running at the wave's
	// peak per arrival/s (Little's law for a steady wave: the server-seconds
	// an arrival adds).
	peakRate, peakAt := peakWindowRate(arr, max(1, int(30*time.Second/width)), width)
	w.PeakRunRate = peakRate * 60
	running := gaugeAt(mergeAll(res, reports.MetricHubRunning), win, peakAt, 6)
	mix := make([]float64, len(WaveOps))
	for j, op := range WaveOps {
		if op.Name == ServerSeconds {
			if peakRate > 0 && !math.IsNaN(running) {
				mix[j] = running / peakRate
				w.ServersPerRate = mix[j]
			}
			continue
		}
		mix[j] = totals[j] / totalArr
	}
	for j := range WaveOps {
		w.Ops = append(w.Ops, reports.OpCost{Name: names[j], PerArrival: mix[j],
			CPUSeconds: reports.Interval{Value: t.Cost[j], Lower: t.CostCI[j][0], Upper: t.CostCI[j][1]}})
	}
	ac := t.ArrivalCost(mix)
	w.ArrivalCost = reports.Interval(ac)

	perMin := func(e models.Estimate) reports.Interval {
		return reports.Interval{Value: 60 * e.Value, Lower: 60 * e.Lower, Upper: 60 * e.Upper}
	}
	sat, err := t.SaturationRate(mix, nil, in.CPUTarget)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoWave, err)
	}
	w.CPURate = perMin(sat)
	w.Saturation, w.Binding = w.CPURate, "CPU"

	// Latency against utilisation, in wider windows.
	kwin := reports.NewWindows(cpu[0].Time, cpu[len(cpu)-1].Time, kneeWindow)
	kinc := reports.IncreaseWindows(cpu, kwin)
	kcov := reports.Coverage(cpu, kwin)
	karr := reports.SumWindows(arrPts, kwin)
	logins := reports.QuantileWindows(mergeAll(res, WaveOps[0].Metric), kwin, []float64{0.95})
	spawns := reports.QuantileWindows(mergeAll(res, WaveOps[1].Metric), kwin, []float64{0.95})
	var rhoL, qL, rhoS, qS []float64
	for i := range kwin.N {
		secs := kcov[i].Seconds()
		if secs < 0.9*kneeWindow.Seconds() {
			continue
		}
		rho := kinc[i] / secs
		w.PeakRunCores = math.Max(w.PeakRunCores, rho)
		p := reports.WavePoint{RatePerMin: karr[i] / kneeWindow.Seconds() * 60, Cores: rho,
			P95Login: math.NaN(), P95Spawn: math.NaN(), Logins: logins[i].Count}
		if logins[i].Count >= 3 {
			p.P95Login = logins[i].Q[0]
			rhoL, qL = append(rhoL, rho), append(qL, p.P95Login)
		}
		if spawns[i].Count >= 3 {
			p.P95Spawn = spawns[i].Q[0]
			rhoS, qS = append(rhoS, rho), append(qS, p.P95Spawn)
		}
		w.Points = append(w.Points, p)
	}
	w.LatencyRate = math.NaN()
	if k, err := models.FitLatencyKnee(rhoL, qL); err == nil {
		w.LoginKnee = &reports.Knee{Floor: k.Floor, Scale: k.Scale, Busy: k.Busy, Points: k.Points}
		// The knee's uncertainty joins the CPU model's: bootstrap fits of
		// the knee paired with the CPU model's draws.
		boot := models.BootstrapLatencyKnee(rhoL, qL, t.Draws(), nil)
		target := func(i int) float64 {
			kk := k
			if i >= 0 && len(boot) > 0 {
				kk = boot[i%len(boot)]
			}
			return math.Min(kk.Utilisation(in.LoginTarget), in.CPUTarget)
		}
		if rk := k.Utilisation(in.LoginTarget); rk < in.CPUTarget {
			if ls, err := t.SaturationRateKnee(mix, nil, target); err == nil {
				w.LatencyRate = 60 * ls.Value
				if w.LatencyRate < w.Saturation.Value {
					w.Saturation, w.Binding = perMin(ls), "login latency"
				}
			} else {
				w.LatencyRate = 0
				w.Saturation, w.Binding = reports.Interval{}, "login latency"
				note("the fitted knee puts p95 login above %s already at the hub's idle load", reports.FormatMs(in.LoginTarget))
			}
		}
	} else {
		note("no latency knee for login: %v", err)
	}
	if k, err := models.FitLatencyKnee(rhoS, qS); err == nil {
		w.SpawnKnee = &reports.Knee{Floor: k.Floor, Scale: k.Scale, Busy: k.Busy, Points: k.Points}
	}
	w.Curve = waveCurve(t.Base, ac.Value, w)

	// The plan.
	w.PlannedPeakRate, w.PlannedSource = plannedRate(in.PlannedRate, info, in.Planned, w.PeakRunRate)
	if w.PeakRunCores > in.CPUTarget {
		note("the run itself went past saturation; fit from a run that stays below it (e.g. half a core) for a prediction that is not censored by queueing")
	}
	w.Measured = measuredSaturation(res, arrPts, in)
	// A saturation the run reached is evidence: the verdict takes it when
	// it comes at a lower rate than the prediction, or when there is none.
	if m := w.Measured; m != nil && m.RatePerMin > 0 && (!(w.Saturation.Value > 0) || m.RatePerMin < w.Saturation.Value) {
		w.Saturation = reports.Interval{Value: m.RatePerMin, Lower: math.NaN(), Upper: math.NaN()}
		w.Binding = m.Reason + ", measured in this run"
	}

	// Memory during the day.
	if err := dayMemory(res, info, in, w); err != nil {
		note("no day-memory model: %v", err)
	}
	return w, nil
}

// waveCurve is the models' prediction over arrival rates up to 1.25× the
// largest rate of interest.
func waveCurve(base, perArrival float64, w *reports.LoginWave) []reports.WaveCurvePoint {
	top := math.Max(w.PeakRunRate, math.Max(w.PlannedPeakRate, w.CPURate.Value)) * 1.25
	if !(top > 0) || !(perArrival > 0) {
		return nil
	}
	const n = 24
	out := make([]reports.WaveCurvePoint, 0, n+1)
	for i := range n + 1 {
		r := top * float64(i) / n
		rho := base + r/60*perArrival
		p := reports.WaveCurvePoint{RatePerMin: r, Cores: rho, P95Login: math.NaN(), P95Spawn: math.NaN()}
		if w.LoginKnee != nil {
			p.P95Login = kneeAt(w.LoginKnee, rho)
		}
		if w.SpawnKnee != nil {
			p.P95Spawn = kneeAt(w.SpawnKnee, rho)
		}
		out = append(out, p)
	}
	return out
}

func kneeAt(k *reports.Knee, rho float64) float64 {
	u := math.Max(1, k.Busy) * rho
	if u >= 1 {
		return math.Inf(1)
	}
	return k.Floor + k.Scale/(1-u)
}

// plannedRate is the plan's peak arrivals per minute: given, else from the
// scenario's parameters (workshop.js: a triangular wave of ATTENDEES over
// ARRIVAL_WINDOW seconds peaks at 2·ATTENDEES/ARRIVAL_WINDOW, with the
// planned size in place of ATTENDEES when one is given; login-ramp.js:
// PEAK_RATE), else the run's own peak.
func plannedRate(given float64, info ScenarioInfo, planned, runPeak float64) (float64, string) {
	if given > 0 {
		return given, "given"
	}
	p := info.Params
	if a, err := strconv.ParseFloat(p[ParamAttendees], 64); err == nil && a > 0 {
		if win := paramSeconds(p["ARRIVAL_WINDOW"]); win > 0 {
			if planned > 0 {
				return 2 * planned / (win / 60), "the scenario's wave for the planned size: 2 × attendees / ARRIVAL_WINDOW"
			}
			return 2 * a / (win / 60), "the scenario's wave: 2 × ATTENDEES / ARRIVAL_WINDOW"
		}
	}
	if r, err := strconv.ParseFloat(p["PEAK_RATE"], 64); err == nil && r > 0 {
		return r, "the scenario's PEAK_RATE"
	}
	return runPeak, "the run's peak (30 s)"
}

// paramSeconds reads a duration parameter: seconds as the scenarios'
// dur() records them ("180"), or a Go/k6 duration ("3m"); 0 when neither.
func paramSeconds(v string) float64 {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d.Seconds()
	}
	return 0
}

// measuredSaturation finds where the run saturated the hub: the first hub
// CPU reading (hub_cpu_cores) at or above the target, or the first 15-s
// window (sliding by 5 s) whose p95 login exceeds the target, after the
// first 20 s. The rate is the arrivals of the 30 s before it, per minute.
func measuredSaturation(res *reports.Results, arrPts []reports.Point, in WaveInputs) *reports.MeasuredSaturation {
	start := res.Start.Add(20 * time.Second)
	var at time.Time
	var m reports.MeasuredSaturation
	for _, p := range longestSeries(res, metricCPUCores) {
		if p.Time.After(start) && p.Value >= in.CPUTarget {
			at, m.Reason, m.Cores = p.Time, "CPU", p.Value
			break
		}
	}
	logins := mergeAll(res, WaveOps[0].Metric)
	for t := start; len(logins) > 0 && t.Before(logins[len(logins)-1].Time) && (at.IsZero() || t.Before(at)); t = t.Add(WaveWindow) {
		var v []float64
		for _, p := range logins {
			if !p.Time.Before(t.Add(-kneeWindow)) && p.Time.Before(t) {
				v = append(v, p.Value)
			}
		}
		if len(v) < 3 {
			continue
		}
		sort.Float64s(v)
		if q := reports.Percentile(v, 0.95); q > in.LoginTarget {
			at, m.Reason, m.P95, m.Cores = t, "login latency", q, math.NaN()
			break
		}
	}
	if at.IsZero() {
		return nil
	}
	n := 0.0
	for _, p := range arrPts {
		if !p.Time.Before(at.Add(-30*time.Second)) && !p.Time.After(at) {
			n += p.Value
		}
	}
	m.RatePerMin = n * 2
	m.AtSeconds = at.Sub(res.Start).Seconds()
	if m.Reason == "CPU" {
		m.P95 = math.NaN()
	}
	return &m
}

// dayMemory fits the hub's RSS against the high-water marks of attendees
// in session, running servers and users, and predicts it at the plan's
// peak: the run's marks scaled by planned / the run's size.
func dayMemory(res *reports.Results, info ScenarioInfo, in WaveInputs, w *reports.LoginWave) error {
	ss, marks, peakRSS, err := memorySamples(res)
	if err != nil {
		return err
	}
	w.MeasuredPeakRSS = peakRSS
	d, err := models.FitDayMemory(memoryTerms, ss, models.ThroughputOptions{Bootstrap: in.Bootstrap})
	if err != nil {
		return err
	}
	scale := 1.0
	if runSize, err := strconv.ParseFloat(info.Params[ParamAttendees], 64); err == nil && runSize > 0 && in.Planned > 0 {
		scale = in.Planned / runSize
	}
	peak := make([]float64, len(marks))
	for j := range marks {
		peak[j] = marks[j] * scale
	}
	e, err := d.Predict(peak)
	if err != nil {
		return err
	}
	w.MemoryBase = reports.Interval{Value: d.Base, Lower: d.BaseCI[0], Upper: d.BaseCI[1]}
	for j, name := range memoryTerms {
		w.Memory = append(w.Memory, reports.MemoryTerm{Name: name, AtPeak: peak[j],
			Bytes: reports.Interval{Value: d.PerUnit[j], Lower: d.UnitCI[j][0], Upper: d.UnitCI[j][1]}})
	}
	w.MemoryR2, w.MemoryRMSE, w.MemorySamples = d.R2, d.RMSE, d.Samples
	w.PeakMemory = reports.Interval(e)
	return nil
}

// memorySamples pairs each hub RSS reading with the high-water marks so far
// of attendees in session, running servers and users (hub_total_users, else
// hub_users). It also returns the run's final marks and its highest RSS.
func memorySamples(res *reports.Results) (ss []models.MemorySample, marks []float64, peakRSS float64, err error) {
	rss := longestSeries(res, reports.MetricHubRSS)
	if len(rss) < 8 {
		return nil, nil, 0, fmt.Errorf("%d hub RSS readings", len(rss))
	}
	users := mergeAll(res, metricTotalUsers)
	if len(users) == 0 {
		users = mergeAll(res, reports.MetricHubUsers)
	}
	loads := [][]reports.Point{mergeAll(res, reports.MetricActive), mergeAll(res, reports.MetricHubRunning), users}
	marks = make([]float64, len(loads))
	idx := make([]int, len(loads))
	for _, p := range rss {
		for j, pts := range loads {
			for idx[j] < len(pts) && !pts[idx[j]].Time.After(p.Time) {
				if v := pts[idx[j]].Value; v > marks[j] {
					marks[j] = v
				}
				idx[j]++
			}
		}
		ss = append(ss, models.MemorySample{RSS: p.Value, Load: append([]float64(nil), marks...)})
		peakRSS = math.Max(peakRSS, p.Value)
	}
	for j, pts := range loads {
		for _, p := range pts {
			marks[j] = math.Max(marks[j], p.Value)
		}
	}
	return ss, marks, peakRSS, nil
}

// longestSeries returns the points of metric's series with the most
// points (one source of a gauge; the report's rule for hub telemetry).
func longestSeries(res *reports.Results, metric string) []reports.Point {
	var best []reports.Point
	for _, s := range res.SeriesOf(metric) {
		if len(s.Points) > len(best) {
			best = s.Points
		}
	}
	return best
}

// mergeAll returns every point of metric, over all tag sets, in time order.
func mergeAll(res *reports.Results, metric string) []reports.Point {
	var out []reports.Point
	for _, s := range res.SeriesOf(metric) {
		out = append(out, s.Points...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// waveWindow is the width of the CPU model's windows for readings cpu
// and a model of p unknowns: WaveWindow, or, when that leaves fewer than
// 3·p windows and the readings are denser, the narrowest width that
// gives 3·p windows but not narrower than twice the readings' median
// spacing (each window must hold a reading), in whole seconds.
func waveWindow(cpu []reports.Point, p int) time.Duration {
	if len(cpu) < 2 {
		return WaveWindow
	}
	span := cpu[len(cpu)-1].Time.Sub(cpu[0].Time)
	if span >= time.Duration(3*p)*WaveWindow {
		return WaveWindow
	}
	gaps := make([]float64, 0, len(cpu)-1)
	for i := 1; i < len(cpu); i++ {
		gaps = append(gaps, cpu[i].Time.Sub(cpu[i-1].Time).Seconds())
	}
	sort.Float64s(gaps)
	floor := time.Duration(2 * gaps[len(gaps)/2] * float64(time.Second))
	w := (span / time.Duration(3*p)).Truncate(time.Second)
	w = max(w, floor.Round(time.Second), time.Second)
	return min(w, WaveWindow)
}

// countWindows counts the points per window.
func countWindows(pts []reports.Point, w reports.Windows) []float64 {
	out := make([]float64, w.N)
	for _, p := range pts {
		if i := w.Index(p.Time); i >= 0 {
			out[i]++
		}
	}
	return out
}

// gaugeSeconds integrates a gauge over each window (value × seconds, the
// value held from one sample to the next); windows before its first sample
// count 0, as do gauges without samples.
func gaugeSeconds(pts []reports.Point, w reports.Windows) []float64 {
	out := make([]float64, w.N)
	if len(pts) == 0 {
		return out
	}
	for i := range w.N {
		ws := w.Start.Add(time.Duration(i) * w.Width)
		we := ws.Add(w.Width)
		// the value held at each instant: last sample at or before it
		k := sort.Search(len(pts), func(k int) bool { return pts[k].Time.After(ws) }) - 1
		t := ws
		for t.Before(we) {
			next := we
			if k+1 < len(pts) && pts[k+1].Time.Before(we) {
				next = pts[k+1].Time
			}
			if k >= 0 && finite(pts[k].Value) {
				out[i] += pts[k].Value * next.Sub(t).Seconds()
			}
			t = next
			k++
		}
	}
	return out
}

// gaugeAt is the mean over n windows ending with window peak of the gauge's
// held value (NaN when it has no samples).
func gaugeAt(pts []reports.Point, w reports.Windows, peak, n int) float64 {
	if len(pts) == 0 || peak < 0 {
		return math.NaN()
	}
	g := gaugeSeconds(pts, w)
	sum, secs := 0.0, 0.0
	for i := max(0, peak-n+1); i <= peak && i < len(g); i++ {
		sum += g[i]
		secs += w.Width.Seconds()
	}
	return sum / secs
}

// peakWindowRate is the highest arrival rate (per second) over n
// consecutive windows, and the index of the last of them.
func peakWindowRate(arr []float64, n int, width time.Duration) (float64, int) {
	best, at := 0.0, -1
	for i := range arr {
		s := 0.0
		for k := max(0, i-n+1); k <= i; k++ {
			s += arr[k]
		}
		if r := s / (float64(n) * width.Seconds()); r > best {
			best, at = r, i
		}
	}
	return best, at
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
