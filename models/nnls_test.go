package models

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mat"
)

func TestNNLS(t *testing.T) {
	cases := []struct {
		name   string
		intent string
		a      *mat.Dense
		b      []float64
		want   []float64
		rnorm  float64
		tol    float64
	}{
		{
			name: "hand3x2",
			// Unconstrained least squares gives x = (2, −1) (normal equations
			// [[2,1],[1,2]]x = (3,0)); with x₂ clamped to 0, x₁ minimises
			// (x₁−2)² + 1 + (x₁−1)² at 1.5, residual (−0.5, 1, 0.5), norm √1.5.
			// Computed by hand.
			intent: "a binding constraint moves the free variable to its constrained optimum",
			a:      mat.NewDense(3, 2, []float64{1, 0, 0, 1, 1, 1}),
			b:      []float64{2, -1, 1},
			want:   []float64{1.5, 0},
			rnorm:  math.Sqrt(1.5),
			tol:    1e-12,
		},
		{
			name: "mixed6x4",
			// Reference: computed with scipy 1.17.1 optimize.nnls on 2026-11-28
			// (input as given here; lstsq gives x₁ = −1.49, so x₁ must be 0).
			intent: "several constraints interplay: the unconstrained solution has a negative entry",
			a: mat.NewDense(6, 4, []float64{
				1, 2, 0, 3,
				4, 1, 2, 0,
				0, 3, 1, 1,
				2, 0, 4, 1,
				1, 1, 1, 1,
				3, 2, 0, 2,
			}),
			b:     []float64{4, -1, 5, 2, 1, -3},
			want:  []float64{0.0, 0.6685499058380419, 0.31638418079096065, 0.17137476459510292},
			rnorm: 6.1999027997969725,
			tol:   1e-10,
		},
		{
			name: "positive8x3",
			// b = A·(1.5, 0.25, 2) + small perturbation; reference computed
			// with scipy 1.17.1 optimize.nnls on 2026-11-28.
			intent: "with an interior optimum NNLS equals ordinary least squares",
			a: mat.NewDense(8, 3, []float64{
				1, 0.5, 2,
				1, 1.5, 0.1,
				1, 2.5, 1,
				1, 3, 4,
				1, 4.2, 0.3,
				1, 5, 2.2,
				1, 6.1, 1.1,
				1, 7, 3,
			}),
			b:     []float64{5.725, 1.8750000000000002, 4.175, 10.25, 3.3, 7.050000000000001, 5.244999999999999, 9.22},
			want:  []float64{1.5025168092586592, 0.24860794571154574, 2.000828375454501},
			rnorm: 0.2936330983856456,
			tol:   1e-10,
		},
		{
			name: "illscaled5x5",
			// Columns like (1, U, S, R, J) with magnitudes 1..1e6, targets in
			// bytes; reference computed with scipy 1.17.1 optimize.nnls on
			// 2026-11-28.
			intent: "columns spanning six orders of magnitude are solved without prior scaling",
			a: mat.NewDense(5, 5, []float64{
				1, 1, 1, 0, 0,
				1, 1, 1001, 1000, 1001000,
				1, 10, 3000, 3000, 900000,
				1, 100, 3000, 3000, 90000,
				1, 500, 1000, 1000, 2000,
			}),
			b:     []float64{6.0e7, 2.56e9, 2.35e9, 2.9e8, 6.6e7},
			want:  []float64{52197546.961273484, 0.0, 0.0, 7757.129969681864, 2510.263535090907},
			rnorm: 24241245.258099265,
			tol:   1e-6,
		},
		{
			name:   "allNegative",
			intent: "a target anti-correlated with every column gives x = 0 and residual ‖b‖",
			a:      mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6}),
			b:      []float64{-1, -2, -3},
			want:   []float64{0, 0},
			rnorm:  math.Sqrt(14),
			tol:    1e-12,
		},
		{
			name:   "duplicateColumns",
			intent: "exactly collinear columns terminate; the fit is b's projection (x₁+x₂ = 2)",
			a:      mat.NewDense(3, 2, []float64{1, 1, 2, 2, 3, 3}),
			b:      []float64{2, 4, 6},
			want:   nil, // only the sum is determined
			rnorm:  0,
			tol:    1e-10,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, rnorm, err := NNLS(c.a, c.b)
			if err != nil {
				t.Fatalf("%s: %v", c.intent, err)
			}
			for j, v := range x {
				if v < 0 {
					t.Errorf("%s: x[%d] = %v < 0", c.intent, j, v)
				}
			}
			if c.want != nil {
				for j := range c.want {
					if !scalar.EqualWithinAbsOrRel(x[j], c.want[j], c.tol, c.tol) {
						t.Errorf("%s: x[%d] = %.17g, want %.17g", c.intent, j, x[j], c.want[j])
					}
				}
			} else if !scalar.EqualWithinAbs(x[0]+x[1], 2, c.tol) {
				t.Errorf("%s: x = %v, want x₁+x₂ = 2", c.intent, x)
			}
			if !scalar.EqualWithinAbsOrRel(rnorm, c.rnorm, c.tol, c.tol) {
				t.Errorf("%s: residual norm %.17g, want %.17g", c.intent, rnorm, c.rnorm)
			}
		})
	}
}

// TestNNLSKKT checks the Kuhn–Tucker conditions on random problems: for the
// solution x and gradient w = Aᵀ(b − Ax), w_j ≤ tol where x_j = 0 and
// |w_j| ≤ tol where x_j > 0. This is the algorithm's own optimality
// certificate, independent of any reference implementation.
func TestNNLSKKT(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		m, n := 2+rnd.IntN(12), 1+rnd.IntN(6)
		a := mat.NewDense(m, n, nil)
		for i := range m {
			for j := range n {
				a.Set(i, j, rnd.NormFloat64())
			}
		}
		b := make([]float64, m)
		for i := range b {
			b[i] = rnd.NormFloat64()
		}
		x, _, err := NNLS(a, b)
		if err != nil {
			t.Fatalf("trial %d (%d×%d): %v", trial, m, n, err)
		}
		r := mat.NewVecDense(m, nil)
		r.MulVec(a, mat.NewVecDense(n, x))
		r.SubVec(mat.NewVecDense(m, b), r)
		var w mat.VecDense
		w.MulVec(a.T(), r)
		tol := 1e-9 * (1 + mat.Norm(a, 1)*mat.Norm(mat.NewVecDense(m, b), 2))
		for j := range n {
			switch {
			case x[j] < 0:
				t.Errorf("trial %d: x[%d] = %v < 0", trial, j, x[j])
			case x[j] == 0 && w.AtVec(j) > tol:
				t.Errorf("trial %d: x[%d] = 0 but gradient %v > 0: not optimal", trial, j, w.AtVec(j))
			case x[j] > 0 && math.Abs(w.AtVec(j)) > tol:
				t.Errorf("trial %d: x[%d] = %v free but gradient %v ≠ 0", trial, j, x[j], w.AtVec(j))
			}
		}
	}
}
