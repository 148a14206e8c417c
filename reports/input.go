package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/hubcap-dev/hubcap/shape"
)

// Input is everything a report shows. Every part is optional; a missing part
// renders as a short "not available" note, never as an error.
type Input struct {
	// Title heads the report (default "hubcap capacity report").
	Title string
	// Results is the run's k6 NDJSON stream (see ReadNDJSON).
	Results *Results
	// Verdict is the judgement the caller made (thresholds, capacity).
	Verdict *Verdict
	// Model is the fitted memory model to draw.
	Model *CapacityModel
	// Check is the database shape of the hub under test.
	Check *Check
	// Wave is the login wave's throughput and day-memory analysis (nil: none).
	Wave *LoginWave
	// Env describes what was run.
	Env *Environment
	// GeneratedAt is printed in the footer when set; leave it zero for
	// byte-for-byte reproducible output.
	GeneratedAt time.Time
	// EChartsJS is the ECharts library to inline. When nil the report finds
	// echarts.min.js installed by `make setup` (see LocateECharts).
	EChartsJS []byte
}

// Threshold is one k6-style threshold and whether it held.
type Threshold struct {
	Metric string // e.g. "jupyterhub_spawn_duration{phase:spawn}"
	Expr   string // e.g. "p(95)<30000"
	OK     bool
	// Observed is the value the expression was evaluated on, as text (optional).
	Observed string
}

// Verdict is the caller's judgement of the run and of the plan.
type Verdict struct {
	Thresholds []Threshold
	// PlannedSize is the workshop size being signed off (attendees, or the
	// model's size unit); 0 when unknown.
	PlannedSize float64
	// PredictedThreshold is the size at which the model's upper band reaches
	// MemoryLimitBytes (the predicted OOM point); 0 or +Inf when not reached.
	PredictedThreshold float64
	// MemoryLimitBytes is the hub's memory limit; 0 when unknown.
	MemoryLimitBytes float64
	// PredictedPeakBytes is the model's upper-band peak RSS at PlannedSize; 0 when unknown.
	PredictedPeakBytes float64
	// MinHeadroom is the fraction of the limit that must stay free at the
	// planned size (default 0.2): less gives WARN, none gives FAIL.
	MinHeadroom float64
	// SizeUnit names the size unit (default "attendees").
	SizeUnit string
}

// HeadroomBytes is MemoryLimitBytes − PredictedPeakBytes, NaN when either is unknown.
func (v *Verdict) HeadroomBytes() float64 {
	if v == nil || v.MemoryLimitBytes <= 0 || v.PredictedPeakBytes <= 0 {
		return math.NaN()
	}
	return v.MemoryLimitBytes - v.PredictedPeakBytes
}

// ModelPoint is one (size, bytes) pair: a measurement or a point of the fitted curve.
type ModelPoint struct {
	Size  float64
	Bytes float64
	// Label names a measured point (e.g. "100 users × 30 spawners"); optional.
	Label string
}

// BandPoint is the prediction band at one size.
type BandPoint struct {
	Size         float64
	Lower, Upper float64 // bytes
}

// CapacityModel is the memory model as drawn: what was measured, what was
// fitted and where it crosses the limit.
type CapacityModel struct {
	// SizeLabel names the x axis (default "workshop size (attendees)").
	SizeLabel string
	Measured  []ModelPoint
	Fitted    []ModelPoint
	Band      []BandPoint
	// LimitBytes is the memory limit line; 0 for none.
	LimitBytes float64
	// ThresholdSize is the predicted size where memory reaches the limit; 0 for none.
	ThresholdSize float64
	// Terms are the model terms selected (e.g. "J = Σ R_u·S_u", "U").
	Terms []string
	// Formula is the fitted model as text (optional), e.g. "peak = 71 MiB + 2.3 KiB·J".
	Formula string
}

// ShapeBucket is one bar of the spawners-per-user histogram.
type ShapeBucket struct {
	Spawners int64 // S_u value (or bucket lower bound)
	Users    int64 // how many users have it
}

// Check is the database shape of the hub under test (`hubcap check`).
type Check struct {
	// Shape holds the totals U, S, R, J and, in Users, the users with most
	// joined rows, largest first (the top users: not necessarily all).
	Shape shape.Shape
	// Histogram counts users by number of spawner rows, ascending.
	Histogram []ShapeBucket
	// Source says where the shape was read from (e.g. "sqlite:///…/jupyterhub.sqlite").
	Source string
}

// Environment is what was run, for the record.
type Environment struct {
	Release string            // JupyterHub release, e.g. "5.3.0"
	Config  string            // config summary or file text
	Params  map[string]string // scenario parameters; keys that look secret are redacted
}

// Level is the banner colour of a report.
type Level int

// Levels, from best to worst.
const (
	Pass Level = iota
	Warn
	Fail
)

// String returns PASS, WARN or FAIL.
func (l Level) String() string {
	switch l {
	case Pass:
		return "PASS"
	case Warn:
		return "WARN"
	}
	return "FAIL"
}

// Assessment is the banner: a level and the reasons for it, worst first.
type Assessment struct {
	Level   Level
	Reasons []string
	// CutShort is set when the run did not complete on its own.
	CutShort bool
}

// Assess decides the banner from the run status, the thresholds and the
// capacity verdict. FAIL: a threshold failed, the hub died, the run was
// aborted by a threshold, or the planned size reaches the predicted OOM
// threshold / the predicted peak reaches the limit. WARN: the run was cut
// short (no status marker, incomplete last line, interrupted), headroom is
// below MinHeadroom, or there is nothing to judge capacity with. PASS
// otherwise. It is a pure function of its input.
func Assess(in Input) Assessment {
	var fails, warns []string
	res := in.Results
	a := Assessment{}
	switch {
	case res == nil:
		warns = append(warns, "no run results were given")
	default:
		switch res.Status {
		case StatusCompleted:
		case StatusHubDied:
			fails = append(fails, "the hub died during the run")
		case StatusAborted:
			fails = append(fails, "the run was aborted (a threshold with abortOnFail failed)")
		case StatusInterrupted:
			warns = append(warns, "run cut short: interrupted before the scenario finished")
		case "":
			warns = append(warns, "run cut short: the results have no final "+MetricRunStatus+" marker (the runner was killed or the file was copied mid-run)")
		default:
			warns = append(warns, fmt.Sprintf("run ended with unknown status %q", res.Status))
		}
		if res.TruncatedTail {
			warns = append(warns, "run cut short: the last line of the results was incomplete and was dropped")
		}
		if res.MalformedCount > 0 {
			first := res.Malformed[0]
			warns = append(warns, fmt.Sprintf("damaged results: %d malformed lines were skipped (the first, line %d: %s); this report shows the rest",
				res.MalformedCount, first.Line, first.Err))
		}
		a.CutShort = res.CutShort()
	}
	v := in.Verdict
	if v != nil {
		for _, t := range v.Thresholds {
			if !t.OK {
				fails = append(fails, fmt.Sprintf("threshold %s %s failed", t.Metric, t.Expr))
			}
		}
	}
	capacityJudged := false
	if v != nil && v.PlannedSize > 0 && v.PredictedThreshold > 0 && !math.IsInf(v.PredictedThreshold, 0) {
		capacityJudged = true
		if v.PlannedSize >= v.PredictedThreshold {
			fails = append(fails, fmt.Sprintf("planned size %s reaches the predicted OOM threshold %s",
				fmtCount(v.PlannedSize), fmtCount(v.PredictedThreshold)))
		}
	}
	if h := v.HeadroomBytes(); finite(h) {
		capacityJudged = true
		minH := v.MinHeadroom
		if minH <= 0 {
			minH = 0.2
		}
		switch frac := h / v.MemoryLimitBytes; {
		case h <= 0:
			fails = append(fails, fmt.Sprintf("predicted peak %s exceeds the memory limit %s",
				fmtBytes(v.PredictedPeakBytes), fmtBytes(v.MemoryLimitBytes)))
		case frac < minH:
			warns = append(warns, fmt.Sprintf("headroom %s (%.0f%% of the limit) is below the %.0f%% wanted",
				fmtBytes(h), 100*frac, 100*minH))
		}
	}
	wf, ww := assessWave(in.Wave)
	fails, warns = append(fails, wf...), append(warns, ww...)
	switch {
	case !capacityJudged && waveJudged(in.Wave):
		warns = append(warns, "no restart-memory verdict: planned size, predicted threshold or memory limit missing")
	case !capacityJudged:
		warns = append(warns, "no capacity verdict: planned size, predicted threshold or memory limit missing")
	}
	a.Reasons = append(fails, warns...)
	if b := bindingSentence(in); b != "" && len(a.Reasons) > 0 {
		a.Reasons = append(a.Reasons, b)
	}
	switch {
	case len(fails) > 0:
		a.Level = Fail
	case len(warns) > 0:
		a.Level = Warn
	default:
		a.Level = Pass
		a.Reasons = []string{"all thresholds held, the run completed and the plan fits under the limit with headroom"}
		if b := bindingSentence(in); b != "" {
			a.Reasons = append(a.Reasons, b)
		}
	}
	return a
}
