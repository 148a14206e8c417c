package models

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// DefaultHuberK is the Huber tuning constant in units of the residuals'
// robust scale: 1.345 gives 95% efficiency at the normal distribution
// (P. J. Huber, "Robust Statistics", Wiley 1981, §7.7; the constant of
// R's MASS::rlm and statsmodels' HuberT).
const DefaultHuberK = 1.345

// DefaultBootstrap is the number of bootstrap resamples behind the
// intervals of the throughput and day-memory models.
const DefaultBootstrap = 200

// HuberNNLS solves the robust non-negative regression
//
//	minimize Σ_i ρ_k(r_i / s)  subject to  x ≥ 0,  r = b − A·x
//
// with Huber's loss ρ_k(u) = u²/2 for |u| ≤ k, k|u| − k²/2 beyond, by
// iteratively reweighted least squares (IRLS): each step solves the
// weighted NNLS problem with row weights w_i = min(1, k·s/|r_i|) from the
// previous residuals, where s = 1.4826·MAD(r) is the residuals' robust
// scale (the MAD scaled to estimate σ under normal errors). It starts from
// the plain NNLS solution and stops when no coefficient moves by more than
// 1e-6 of its size, or after 30 steps. Columns are scaled to unit 2-norm
// before each solve (NNLS's constraint is invariant under positive column
// scaling) and the solution is scaled back.
//
// Preconditions: A is m×n with m > n, len(b) = m, k > 0 (k ≤ 0 uses
// DefaultHuberK). An all-zero column gets coefficient 0. It returns x and
// the final weights.
func HuberNNLS(a mat.Matrix, b []float64, k float64) (x, w []float64, err error) {
	m, n := a.Dims()
	if len(b) != m {
		return nil, nil, fmt.Errorf("%w: %d targets for %d rows", ErrBadOptions, len(b), m)
	}
	if m <= n {
		return nil, nil, fmt.Errorf("%w: %d rows for %d unknowns", ErrTooFewSamples, m, n)
	}
	if k <= 0 {
		k = DefaultHuberK
	}
	w = make([]float64, m)
	for i := range w {
		w[i] = 1
	}
	norms := make([]float64, n)
	for j := range n {
		norms[j] = floats.Norm(mat.Col(nil, j, a), 2)
	}
	solve := func() ([]float64, error) {
		aw := mat.NewDense(m, n, nil)
		bw := make([]float64, m)
		for i := range m {
			sw := math.Sqrt(w[i])
			for j := range n {
				if norms[j] > 0 {
					aw.Set(i, j, sw*a.At(i, j)/norms[j])
				}
			}
			bw[i] = sw * b[i]
		}
		z, _, err := NNLS(aw, bw)
		for j := range z {
			if norms[j] > 0 {
				z[j] /= norms[j]
			} else {
				z[j] = 0
			}
		}
		return z, err
	}
	x, err = solve()
	if err != nil {
		return nil, nil, err
	}
	r := make([]float64, m)
	abs := make([]float64, m)
	for range 30 {
		for i := range m {
			r[i] = b[i]
			for j := range n {
				r[i] -= a.At(i, j) * x[j]
			}
			abs[i] = math.Abs(r[i])
		}
		slices.Sort(abs)
		s := 1.4826 * stat.Quantile(0.5, stat.Empirical, abs, nil)
		if s <= 0 {
			break // more than half the rows fit exactly: nothing to down-weight
		}
		for i := range m {
			if u := math.Abs(r[i]) / s; u > k {
				w[i] = k / u
			} else {
				w[i] = 1
			}
		}
		nx, err := solve()
		if err != nil {
			return nil, nil, err
		}
		moved := false
		for j := range x {
			if math.Abs(nx[j]-x[j]) > 1e-6*math.Max(math.Abs(x[j]), 1e-12) {
				moved = true
			}
		}
		x = nx
		if !moved {
			break
		}
	}
	return x, w, nil
}

// blockBootstrap draws, for each of reps resamples, the row indices of a
// moving-block bootstrap of m consecutive rows (H. R. Künsch, "The jackknife
// and the bootstrap for general stationary observations", Annals of
// Statistics 17(3), 1989): blocks of length l start at uniform positions in
// [0, m−l] and are concatenated until m rows are drawn. Blocks keep the
// serial correlation of neighbouring time windows (a spawn's hub work
// spills into the next window) that an i.i.d. bootstrap would break.
func blockBootstrap(rnd Source, m, l int) []int {
	l = max(1, min(l, m))
	idx := make([]int, 0, m+l)
	for len(idx) < m {
		s := intN(rnd, m-l+1)
		for i := s; i < s+l; i++ {
			idx = append(idx, i)
		}
	}
	return idx[:m]
}

// defaultBlock is the block length n^(1/3), rounded, at least 1: the order
// that minimises the bootstrap variance estimate's mean square error
// (P. Hall, J. L. Horowitz, B.-Y. Jing, Biometrika 82(3), 1995).
func defaultBlock(m int) int { return max(1, int(math.Round(math.Cbrt(float64(m))))) }

// percentileInterval returns the (1−level)/2 and (1+level)/2 empirical
// quantiles of draws, ignoring NaNs; NaN, NaN when there are none.
func percentileInterval(draws []float64, level float64) (lo, hi float64) {
	v := make([]float64, 0, len(draws))
	for _, d := range draws {
		if !math.IsNaN(d) {
			v = append(v, d)
		}
	}
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(v)
	return stat.Quantile((1-level)/2, stat.Empirical, v, nil), stat.Quantile((1+level)/2, stat.Empirical, v, nil)
}

// Source is a source of uniformly distributed 64-bit values; math/rand/v2's
// sources (rand.NewPCG, rand.NewChaCha8) are Sources. The package never
// uses a global random source.
type Source interface{ Uint64() uint64 }

// splitMix is SplitMix64 (G. L. Steele, D. Lea, C. H. Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014), the default Source.
type splitMix struct{ s uint64 }

func newSplitMix(seed uint64) *splitMix { return &splitMix{seed} }

func (r *splitMix) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intN returns a uniform integer in [0, n) by rejection (no modulo bias).
func intN(r Source, n int) int {
	if n <= 1 {
		return 0
	}
	un := uint64(n)
	limit := ^uint64(0) - (^uint64(0)%un+1)%un
	for {
		if v := r.Uint64(); v <= limit {
			return int(v % un)
		}
	}
}
