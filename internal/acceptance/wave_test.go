package acceptance

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/capreport"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
)

// A short login ramp against 5.5.1 (30 → 120 arrivals/min over 45 s,
// servers held 5 s): the login-wave analysis fits the hub's CPU per
// arrival and its day memory from it, and the report carries the section.
func TestScenarioLoginRampFits(t *testing.T) {
	root, _ := hubtest.Require(t, "5.5.1")
	dir := t.TempDir()
	out := filepath.Join(dir, "ramp.ndjson")
	r := startHubcap(t, root, "run", "--hub", "local:5.5.1", "--run-dir", filepath.Join(dir, "run"), "--progress", "off",
		"--telemetry-interval", "1s", "--shape-interval", "5s", "--out", "json="+out,
		"-e", "START_RATE=30", "-e", "PEAK_RATE=120", "-e", "RAMP=45s", "-e", "HOLD=5s", "-e", "ABORT=false",
		"scenarios/login-ramp.js")
	if code := r.wait(t, 3*time.Minute); code != 0 && code != 99 {
		t.Fatalf("exit %d\n%s%s", code, tailString(r.stdout.String(), 3000), tailString(r.stderr.String(), 3000))
	}
	res := readResultsFile(t, out)
	info := capreport.ScenarioInfoOf(res)
	if info.Script != "login-ramp.js" {
		t.Errorf("scenario %q, want login-ramp.js", info.Script)
	}
	w, err := capreport.BuildWave(res, info, capreport.WaveInputs{Bootstrap: 50})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one arrival %.1f ms CPU (%.1f–%.1f), saturation %.0f/min (%s), RSS at peak %.0f MiB, measured %.0f MiB",
		1000*w.ArrivalCost.Value, 1000*w.ArrivalCost.Lower, 1000*w.ArrivalCost.Upper, w.Saturation.Value, w.Binding,
		w.PeakMemory.Value/(1<<20), w.MeasuredPeakRSS/(1<<20))
	// A login, a spawn with its progress stream and OAuth cost the hub
	// milliseconds to a few hundred milliseconds of CPU, never nothing.
	if c := w.ArrivalCost.Value; !(c > 0.002 && c < 1) {
		t.Errorf("CPU per arrival %.4g s, want between 2 ms and 1 s", c)
	}
	if w.PlannedPeakRate != 120 {
		t.Errorf("planned peak %v/min, want the scenario's PEAK_RATE 120", w.PlannedPeakRate)
	}
	if !(w.Saturation.Value > 0) || math.IsInf(w.Saturation.Value, 0) {
		t.Errorf("saturation %v/min, want a finite positive rate", w.Saturation.Value)
	}
	// In sample, the day-memory model lands near the run's own peak RSS.
	if d := w.PeakMemory.Value/w.MeasuredPeakRSS - 1; math.Abs(d) > 0.15 {
		t.Errorf("RSS at the run's peak load %.0f MiB, measured %.0f MiB (%+.0f%%)", w.PeakMemory.Value/(1<<20), w.MeasuredPeakRSS/(1<<20), 100*d)
	}
	rep, err := capreport.Build(capreport.Inputs{ResultsPath: out, Calibration: nil})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Input.Wave == nil {
		t.Errorf("the report has no login-wave section; notes: %v", rep.Notes)
	}
}
