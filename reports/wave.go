package reports

import (
	"fmt"
	"math"
	"strings"
)

// Interval is a value with its interval (NaN bounds when unknown).
type Interval struct {
	Value, Lower, Upper float64
}

// OpCost is one operation of the hub's CPU model.
type OpCost struct {
	Name string
	// CPUSeconds per operation, with its interval.
	CPUSeconds Interval
	// PerArrival is how many of it one arrival brings in the run's mix.
	PerArrival float64
}

// MemoryTerm is one term of the day-memory model.
type MemoryTerm struct {
	Name string
	// Bytes per unit, with its interval.
	Bytes Interval
	// AtPeak is the term's load at the plan's peak.
	AtPeak float64
}

// WavePoint is one window of the run: its arrival rate, the hub's CPU and
// the p95 latencies of login and spawn (NaN when no sample).
type WavePoint struct {
	RatePerMin         float64
	Cores              float64
	P95Login, P95Spawn float64 // ms
	Logins             int
}

// WaveCurvePoint is the models' prediction at one arrival rate.
type WaveCurvePoint struct {
	RatePerMin         float64
	Cores              float64
	P95Login, P95Spawn float64 // ms, +Inf past saturation
}

// LoginWave is the "Login wave" section: where the morning's arrivals
// saturate the hub, and the hub's memory during the day.
type LoginWave struct {
	// PlannedPeakRate is the plan's peak arrivals per minute; PlannedSource
	// says where it came from.
	PlannedPeakRate float64
	PlannedSource   string
	// Saturation is the arrival rate (per minute) at which the hub
	// saturates: the lower of CPURate and LatencyRate, or the run's Measured
	// saturation when that is lower (Binding then says "measured").
	Saturation Interval
	// CPUTarget is the utilisation counted as saturated (0.95 core);
	// CPURate the rate reaching it.
	CPUTarget float64
	CPURate   Interval
	// LoginTarget is the p95 login latency counted as saturated (ms);
	// LatencyRate the rate reaching it (NaN: no knee fitted).
	LoginTarget float64
	LatencyRate float64
	// Binding names what saturates first: "CPU" or "login latency".
	Binding string
	// Measured is the saturation the run itself reached (nil: not reached).
	Measured *MeasuredSaturation
	// PeakRunRate is the highest arrival rate the run sustained (per minute)
	// and PeakRunCores the hub's highest CPU (cores) in a window.
	PeakRunRate, PeakRunCores float64

	// The CPU model.
	BaseCores      Interval
	Ops            []OpCost
	ArrivalCost    Interval // CPU-seconds per arrival of the mix
	ServersPerRate float64  // servers running per arrival/s at the wave's peak
	R2, RMSE       float64  // RMSE in CPU-seconds per window
	Windows        int
	WindowSeconds  float64
	Downweighted   int
	// Knees: p95 = Floor + Scale/(1−ρ), ms (nil: not fitted).
	LoginKnee, SpawnKnee *Knee

	Points []WavePoint
	Curve  []WaveCurvePoint

	// Memory during the day.
	MemoryBase      Interval
	Memory          []MemoryTerm
	MemoryR2        float64
	MemoryRMSE      float64 // bytes
	MemorySamples   int
	PeakMemory      Interval // predicted RSS at the plan's peak concurrency
	MeasuredPeakRSS float64  // the run's highest RSS
	// RestartPeakBytes is the restart model's predicted peak at the planned
	// size (the verdict's), for the comparison; 0 when unknown.
	RestartPeakBytes float64
	LimitBytes       float64

	// Notes are caveats (e.g. too few windows, a knee not fitted).
	Notes []string
}

// Knee is a fitted latency knee p95(ρ) = Floor + Scale/(1 − Busy·ρ) in ms
// (Busy: seconds the hub's event loop is held per CPU-second, ≥ 1).
type Knee struct {
	Floor, Scale, Busy float64
	Points             int
}

// MeasuredSaturation is where a run (login-ramp.js) saturated the hub.
type MeasuredSaturation struct {
	RatePerMin float64
	// AtSeconds is the time into the run.
	AtSeconds float64
	// Reason: "CPU" (hub CPU ≥ the target) or "login latency".
	Reason string
	Cores  float64
	P95    float64 // ms, the p95 login of the window
}

// Headroom is 1 − planned/saturation: the fraction of the predicted
// saturation rate the plan leaves unused (NaN when unknown).
func (w *LoginWave) Headroom() float64 {
	if w == nil || !(w.PlannedPeakRate > 0) || !(w.Saturation.Value > 0) {
		return math.NaN()
	}
	return 1 - w.PlannedPeakRate/w.Saturation.Value
}

// assessWave adds the login wave's fails and warns: FAIL when the plan's
// peak reaches the predicted saturation rate, WARN when it lies inside its
// interval (the lower bound), or when the day's memory at peak reaches the
// limit.
func assessWave(w *LoginWave) (fails, warns []string) {
	if w == nil {
		return nil, nil
	}
	if w.PlannedPeakRate > 0 && w.Saturation.Value > 0 {
		switch {
		case w.PlannedPeakRate >= w.Saturation.Value:
			fails = append(fails, fmt.Sprintf("the plan's peak of %s arrivals/min reaches the login-wave saturation of %s/min (%s)",
				sig3(w.PlannedPeakRate), sig3(w.Saturation.Value), w.Binding))
		case finite(w.Saturation.Lower) && w.PlannedPeakRate >= w.Saturation.Lower:
			warns = append(warns, fmt.Sprintf("the plan's peak of %s arrivals/min is inside the saturation interval %s–%s/min",
				sig3(w.PlannedPeakRate), sig3(w.Saturation.Lower), sig3(w.Saturation.Upper)))
		}
	}
	if w.LimitBytes > 0 && w.PeakMemory.Value > 0 {
		up := w.PeakMemory.Upper
		if !finite(up) {
			up = w.PeakMemory.Value
		}
		switch {
		case w.PeakMemory.Value >= w.LimitBytes:
			fails = append(fails, fmt.Sprintf("predicted hub memory at peak concurrency %s exceeds the limit %s",
				fmtBytes(w.PeakMemory.Value), fmtBytes(w.LimitBytes)))
		case up >= w.LimitBytes:
			warns = append(warns, fmt.Sprintf("the upper bound of hub memory at peak concurrency %s reaches the limit %s",
				fmtBytes(up), fmtBytes(w.LimitBytes)))
		}
	}
	return fails, warns
}

// waveJudged reports whether the login wave gives a verdict on the plan.
func waveJudged(w *LoginWave) bool {
	return w != nil && w.PlannedPeakRate > 0 && w.Saturation.Value > 0
}

// Limit is one of the hub's limits as a share of what it can take.
type Limit struct {
	Name  string  // e.g. "CPU during the login wave"
	Share float64 // used / available at the plan (1 = at the limit)
	What  string  // the figures, e.g. "467 of 610 arrivals/min"
}

// Limits returns the hub's limits at the plan, largest share first: CPU
// during the login wave, or its login latency when that saturates first
// (planned peak rate / saturation rate), memory during
// the day (RSS at peak concurrency / limit) and memory at restart (the
// restart model's peak / limit). Limits without figures are left out.
func Limits(in Input) []Limit {
	var out []Limit
	w := in.Wave
	if w != nil && w.PlannedPeakRate > 0 && w.Saturation.Value > 0 {
		name := "CPU during the login wave"
		if w.Binding != "" && !strings.HasPrefix(w.Binding, "CPU") {
			name = "the login wave (" + w.Binding + ")"
		}
		out = append(out, Limit{name, w.PlannedPeakRate / w.Saturation.Value,
			fmt.Sprintf("%s of %s arrivals/min", sig3(w.PlannedPeakRate), sig3(w.Saturation.Value))})
	}
	limit := 0.0
	if in.Verdict != nil {
		limit = in.Verdict.MemoryLimitBytes
	}
	if w != nil && limit > 0 && w.PeakMemory.Value > 0 {
		out = append(out, Limit{"memory during the day", w.PeakMemory.Value / limit,
			fmt.Sprintf("%s of %s", fmtBytes(w.PeakMemory.Value), fmtBytes(limit))})
	}
	if in.Verdict != nil && limit > 0 && in.Verdict.PredictedPeakBytes > 0 {
		out = append(out, Limit{"memory at restart", in.Verdict.PredictedPeakBytes / limit,
			fmt.Sprintf("%s of %s", fmtBytes(in.Verdict.PredictedPeakBytes), fmtBytes(limit))})
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Share > out[j-1].Share; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// bindingSentence says which limit binds first, e.g. "CPU during the login
// wave binds first (77% used: 467 of 610 arrivals/min); then memory at
// restart (40%), memory during the day (6%)". "" with no limits.
func bindingSentence(in Input) string {
	ls := Limits(in)
	if len(ls) == 0 {
		return ""
	}
	s := fmt.Sprintf("%s binds first (%s used: %s)", ls[0].Name, fmtPct(ls[0].Share), ls[0].What)
	for i, l := range ls[1:] {
		if i == 0 {
			s += "; then "
		} else {
			s += ", "
		}
		s += fmt.Sprintf("%s (%s)", l.Name, fmtPct(l.Share))
	}
	return s
}
