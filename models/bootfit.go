package models

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// withDefaults returns o with its defaults filled in (Level 0.9,
// DefaultBootstrap resamples, a SplitMix64 seeded with 1), or
// ErrBadOptions when Level is outside (0, 1).
func (o ThroughputOptions) withDefaults() (ThroughputOptions, error) {
	if o.Level == 0 {
		o.Level = 0.9
	}
	if !(o.Level > 0 && o.Level < 1) {
		return o, fmt.Errorf("%w: level %v not in (0, 1)", ErrBadOptions, o.Level)
	}
	if o.Bootstrap == 0 {
		o.Bootstrap = DefaultBootstrap
	}
	if o.Rand == nil {
		o.Rand = newSplitMix(1)
	}
	return o, nil
}

// bootFit is a HuberNNLS fit b ≈ A·x, x ≥ 0, with its moving-block
// bootstrap: the fit FitThroughput and FitDayMemory share.
type bootFit struct {
	x, w     []float64 // coefficients; Huber weights of the observations
	r2, rmse float64   // of the full fit (fitQuality)
	// ci are the percentile intervals of each coefficient at o.Level over
	// the resamples' fits; NaN, NaN without resamples (o.Bootstrap < 0).
	ci    [][2]float64
	draws [][]float64 // the resamples' coefficients
}

// fitHuberBootstrap fits p coefficients to n observations: row(i, a)
// writes observation i's row of A into a (len p) and returns b_i. Unless
// o.Bootstrap < 0 it then refits o.Bootstrap moving-block resamples
// (blockBootstrap, block o.Block, default n^(1/3)) in o.Rand's order,
// skipping degenerate ones, for percentile intervals. o must have its
// defaults (withDefaults).
func fitHuberBootstrap(n, p int, row func(i int, a []float64) float64, o ThroughputOptions) (*bootFit, error) {
	design := func(rows []int) (*mat.Dense, []float64) {
		data := make([]float64, len(rows)*p)
		b := make([]float64, len(rows))
		for r, i := range rows {
			b[r] = row(i, data[r*p:(r+1)*p])
		}
		return mat.NewDense(len(rows), p, data), b
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	a, b := design(all)
	x, w, err := HuberNNLS(a, b, o.HuberK)
	if err != nil {
		return nil, err
	}
	f := &bootFit{x: x, w: w, ci: make([][2]float64, p)}
	f.r2, f.rmse = fitQuality(a, b, x)
	for j := range f.ci {
		f.ci[j] = [2]float64{math.NaN(), math.NaN()}
	}
	if o.Bootstrap < 0 {
		return f, nil
	}
	block := o.Block
	if block <= 0 {
		block = defaultBlock(n)
	}
	for range o.Bootstrap {
		ab, bb := design(blockBootstrap(o.Rand, n, block))
		xb, _, err := HuberNNLS(ab, bb, o.HuberK)
		if err != nil {
			continue // a degenerate resample; the others carry the interval
		}
		f.draws = append(f.draws, xb)
	}
	for j := range f.ci {
		v := make([]float64, len(f.draws))
		for i, d := range f.draws {
			v[i] = d[j]
		}
		f.ci[j][0], f.ci[j][1] = percentileInterval(v, o.Level)
	}
	return f, nil
}

// estimateOver is f at the fitted coefficients x with the percentile
// interval at level of f over the bootstrap draws (NaN, NaN without).
func estimateOver(x []float64, draws [][]float64, level float64, f func(x []float64) float64) Estimate {
	e := Estimate{Value: f(x), Lower: math.NaN(), Upper: math.NaN()}
	if len(draws) > 0 {
		v := make([]float64, len(draws))
		for i, d := range draws {
			v[i] = f(d)
		}
		e.Lower, e.Upper = percentileInterval(v, level)
	}
	return e
}
