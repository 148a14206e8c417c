package models

import (
	"fmt"
	"math"
)

// MemorySample is the hub's resident memory at one instant of a run beside
// the load it carried up to then.
type MemorySample struct {
	// RSS is the hub process's resident set in bytes.
	RSS float64
	// Load are the high-water marks so far of the model's terms (e.g.
	// attendees in session, running servers, users), one per term.
	Load []float64
}

// DayMemory is the hub's memory during a workshop day as a function of the
// load it has carried:
//
//	RSS = Base + Σ_j PerUnit_j·Load_j
//
// with Load_j the high-water mark of term j so far (attendees in session,
// running servers, users known to the hub). High-water marks, not current
// values, because CPython's allocator keeps freed arenas mapped: the hub's
// RSS follows the largest set of live objects it has held (a User wrapper
// per user touched, never evicted; a Spawner and a poll callback per
// running server; tokens and OAuth clients per spawn), not what is live
// now. Fitted by HuberNNLS (costs are non-negative; RSS samples taken
// during a garbage collection or a burst of requests are outliers) with
// moving-block bootstrap intervals, as FitThroughput.
type DayMemory struct {
	Terms []string
	// Base is the hub's RSS with no load, in bytes.
	Base float64
	// PerUnit is the bytes one unit of each term adds.
	PerUnit []float64
	BaseCI  [2]float64
	UnitCI  [][2]float64
	Level   float64
	// R2 and RMSE (bytes) describe the fit; Samples how many were fitted.
	R2, RMSE float64
	Samples  int

	draws [][]float64
}

// FitDayMemory fits the model to samples. Preconditions: each sample has
// len(terms) non-negative loads and a finite RSS > 0; more samples than
// len(terms)+1. Options as FitThroughput's.
func FitDayMemory(terms []string, ss []MemorySample, o ThroughputOptions) (*DayMemory, error) {
	p := len(terms) + 1
	if len(ss) <= p {
		return nil, fmt.Errorf("%w: %d memory samples for %d unknowns; run longer", ErrTooFewSamples, len(ss), p)
	}
	for i, s := range ss {
		if len(s.Load) != len(terms) {
			return nil, fmt.Errorf("%w: sample %d has %d loads for %d terms", ErrBadOptions, i, len(s.Load), len(terms))
		}
		ok := finite(s.RSS) && s.RSS > 0
		for _, v := range s.Load {
			ok = ok && finite(v) && v >= 0
		}
		if !ok {
			return nil, fmt.Errorf("%w: memory sample %d has a non-finite, negative or zero value", ErrBadTarget, i)
		}
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := fitHuberBootstrap(len(ss), p, func(i int, a []float64) float64 {
		a[0] = 1
		copy(a[1:], ss[i].Load)
		return ss[i].RSS
	}, o)
	if err != nil {
		return nil, err
	}
	return &DayMemory{Terms: append([]string(nil), terms...), Base: f.x[0], PerUnit: f.x[1:], Level: o.Level, Samples: len(ss),
		R2: f.r2, RMSE: f.rmse, BaseCI: f.ci[0], UnitCI: f.ci[1:], draws: f.draws}, nil
}

// Predict returns the RSS at loads (high-water marks, one per term) with
// the bootstrap interval: Base + Σ_j PerUnit_j·load_j.
func (d *DayMemory) Predict(load []float64) (Estimate, error) {
	if len(load) != len(d.Terms) {
		return Estimate{}, fmt.Errorf("%w: %d loads for %d terms", ErrBadOptions, len(load), len(d.Terms))
	}
	f := func(x []float64) float64 { return x[0] + dot(x[1:], load) }
	return estimateOver(append([]float64{d.Base}, d.PerUnit...), d.draws, d.Level, f), nil
}

// HighWater replaces each value of xs by the largest value so far:
// out_i = max(xs_0, …, xs_i). NaNs are skipped (they carry the mark so far).
func HighWater(xs []float64) []float64 {
	out := make([]float64, len(xs))
	m := math.Inf(-1)
	for i, v := range xs {
		if !math.IsNaN(v) && v > m {
			m = v
		}
		out[i] = m
	}
	return out
}
