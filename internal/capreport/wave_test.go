package capreport

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/output"
	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// The synthetic hub of TestBuildWaveRecoversCosts: what each operation
// costs it in CPU-seconds, its idle load and what a running server costs
// per second (its activity reports and proxy polls).
var (
	waveTrueCost = map[string]float64{
		"login": 0.030, "spawn": 0.080, "oauth": 0.020, "stop_server": 0.030, "logout": 0.010,
	}
	waveBaseCores = 0.03
	waveServerCPU = 0.0005 // CPU-seconds per server-second
	waveHold      = 60.0   // seconds a server runs
	waveOpOffsets = []struct {
		phase string
		at    float64
	}{{"login", 0}, {"spawn", 1}, {"oauth", 3}, {"stop_server", 3 + waveHold}, {"logout", 4 + waveHold}}
)

// syntheticWave writes the NDJSON of a login ramp (10 → 60 arrivals/min
// over 8 minutes) against a hub whose CPU is exactly the costs above plus
// noise, read every 5 s as /proc does.
func syntheticWave(t *testing.T) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	length := 8 * time.Minute
	var all []samples.Sample
	add := func(m string, at time.Time, v float64, tags map[string]string) {
		tt := map[string]string{"scenario": "wave"}
		for k, v := range tags {
			tt[k] = v
		}
		all = append(all, samples.Sample{Metric: m, Time: at, Value: v, Tags: tt})
	}
	add(MetricScenarioInfo, start, 1, map[string]string{TagScript: "login-ramp.js", TagHubVersion: "5.5.1", "PEAK_RATE": "60"})
	// CPU-seconds spent, as events in time.
	type event struct {
		at  time.Time
		cpu float64
	}
	var cpuEvents []event
	var ups, downs []time.Time
	// Arrivals of a rate rising linearly: the i-th at the time the
	// integral of the rate reaches i.
	r0, r1, secs := 10.0/60, 60.0/60, length.Seconds()-90
	for i := 0; ; i++ {
		// r0·x + (r1−r0)·x²/(2·secs) = i
		a := (r1 - r0) / (2 * secs)
		x := (-r0 + math.Sqrt(r0*r0+4*a*float64(i))) / (2 * a)
		if x >= secs {
			break
		}
		at := start.Add(time.Duration(x * float64(time.Second)))
		add(reports.MetricArrivals, at, 1, nil)
		for _, op := range waveOpOffsets {
			tm := at.Add(time.Duration(op.at * float64(time.Second)))
			lat := 150 + 40*rng.Float64()
			add("jupyterhub_"+op.phase+"_duration", tm, lat, map[string]string{"phase": op.phase, "result": "ok"})
			cpuEvents = append(cpuEvents, event{tm, waveTrueCost[op.phase]})
		}
		ups = append(ups, at.Add(3*time.Second))
		downs = append(downs, at.Add(time.Duration((3+waveHold)*float64(time.Second))))
	}
	cpu := 5.0
	prev := start
	for tick := start; !tick.After(start.Add(length)); tick = tick.Add(5 * time.Second) {
		running := 0
		for i := range ups {
			if !tick.Before(ups[i]) && tick.Before(downs[i]) {
				running++
			}
		}
		if tick.After(start) {
			cpu += waveBaseCores * tick.Sub(prev).Seconds()
			for _, e := range cpuEvents {
				if e.at.After(prev) && !e.at.After(tick) {
					cpu += e.cpu
				}
			}
			cpu += waveServerCPU * float64(running) * tick.Sub(prev).Seconds()
			cpu += 0.004 * rng.NormFloat64()
		}
		prev = tick
		add(reports.MetricHubCPU, tick, cpu, map[string]string{"source": "proc"})
		add(reports.MetricHubRunning, tick, float64(running), map[string]string{"source": "metrics"})
		add(reports.MetricActive, tick, float64(running), nil)
		add(reports.MetricHubUsers, tick, float64(len(ups)), map[string]string{"source": "api"})
		add(reports.MetricHubRSS, tick, 100<<20+float64(running)*(1<<20)+float64(rng.IntN(1<<19)), map[string]string{"source": "proc"})
	}
	add(reports.MetricRunStatus, start.Add(length+time.Second), 1, map[string]string{"status": reports.StatusCompleted})
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	describeWave := func(name string) (output.MetricMeta, bool) {
		for _, op := range WaveOps {
			if name == op.Metric {
				return output.MetricMeta{Metric: samples.Metric{Name: name, Kind: samples.Trend, Contains: samples.Time}}, true
			}
		}
		return describe(name)
	}
	var buf bytes.Buffer
	w := output.NewJSON(&buf, describeWave)
	for _, s := range all {
		w.AddSample(s)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "wave.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// From a ramp against a hub of known costs, the login-wave analysis
// recovers the CPU of one arrival and the rate at which the hub reaches
// its CPU target; what the caller gives (planned rate, CPU target)
// overrides the scenario's and moves the prediction as the model says.
func TestBuildWaveRecoversCosts(t *testing.T) {
	res, err := ReadResults(syntheticWave(t))
	if err != nil {
		t.Fatal(err)
	}
	info := ScenarioInfoOf(res)
	w, err := BuildWave(res, info, WaveInputs{Bootstrap: 200})
	if err != nil {
		t.Fatal(err)
	}
	var perArrival float64
	for _, c := range waveTrueCost {
		perArrival += c
	}
	// A server held waveHold seconds adds its per-second cost too (the
	// analysis counts it through the servers running per arrival/s).
	truth := perArrival + waveHold*waveServerCPU
	t.Logf("arrival %.4f s [%.4f, %.4f] (truth %.4f: operations %.4f, server-seconds %.4f); saturation %.1f/min [%.1f, %.1f]",
		w.ArrivalCost.Value, w.ArrivalCost.Lower, w.ArrivalCost.Upper, truth, perArrival, waveHold*waveServerCPU,
		w.Saturation.Value, w.Saturation.Lower, w.Saturation.Upper)
	if math.Abs(w.ArrivalCost.Value/truth-1) > 0.1 {
		t.Errorf("CPU per arrival %.4f s, want %.4f s ±10%%", w.ArrivalCost.Value, truth)
	}
	if math.Abs(w.BaseCores.Value-waveBaseCores) > 0.02 {
		t.Errorf("idle load %.3f cores, want %.3f", w.BaseCores.Value, waveBaseCores)
	}
	// The hub reaches 0.95 of a core at (0.95 − base)/(CPU per arrival/s).
	wantSat := 60 * (DefaultCPUTarget - waveBaseCores) / truth
	if w.Binding != "CPU" {
		t.Errorf("binding %q, want CPU (logins stay at ~170 ms)", w.Binding)
	}
	if d := w.Saturation.Value/wantSat - 1; math.Abs(d) > 0.1 {
		t.Errorf("saturation %.1f/min, want %.1f ±10%% (%+.0f%%)", w.Saturation.Value, wantSat, 100*d)
	}
	if !(w.Saturation.Lower <= w.Saturation.Value && w.Saturation.Value <= w.Saturation.Upper) {
		t.Errorf("saturation %v outside its own interval [%v, %v]", w.Saturation.Value, w.Saturation.Lower, w.Saturation.Upper)
	}
	if w.PlannedPeakRate != 60 || w.PlannedSource != "the scenario's PEAK_RATE" {
		t.Errorf("planned %v/min from %q, want the scenario's PEAK_RATE 60", w.PlannedPeakRate, w.PlannedSource)
	}

	// Overrides: a given planned rate wins over the scenario's; half the CPU
	// target lowers the saturation rate in proportion to the headroom.
	o, err := BuildWave(res, info, WaveInputs{Bootstrap: 200, PlannedRate: 500, CPUTarget: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if o.PlannedPeakRate != 500 || o.PlannedSource != "given" {
		t.Errorf("planned %v/min from %q, want the given 500", o.PlannedPeakRate, o.PlannedSource)
	}
	if o.CPUTarget != 0.5 {
		t.Errorf("CPU target %v, want the given 0.5", o.CPUTarget)
	}
	ratio := (0.5 - w.BaseCores.Value) / (DefaultCPUTarget - w.BaseCores.Value)
	if d := o.Saturation.Value/(w.Saturation.Value*ratio) - 1; math.Abs(d) > 0.02 {
		t.Errorf("saturation at a 0.5-core target %.1f/min, want %.1f (the 0.95 one × %.3f)", o.Saturation.Value, w.Saturation.Value*ratio, ratio)
	}
	if h := o.Headroom(); !(h < 0) {
		t.Errorf("headroom %v for a plan of 500/min far past saturation, want negative", h)
	}
}
