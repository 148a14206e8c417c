package models

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// ErrNNLSNoConvergence is returned by NNLS when the active-set iteration does
// not terminate within its iteration bound (3n outer steps); it indicates a
// numerically degenerate problem (e.g. exactly collinear columns at the tolerance).
var ErrNNLSNoConvergence = errors.New("models: NNLS did not converge")

// NNLS solves the non-negative least squares problem
//
//	minimize ‖A·x − b‖₂  subject to  x ≥ 0
//
// for an m×n matrix A and an m-vector b, with the active set algorithm of
// Lawson and Hanson (C. L. Lawson, R. J. Hanson, "Solving Least Squares
// Problems", Prentice-Hall 1974, chapter 23, Algorithm NNLS). With P the
// passive set (variables free to move) and Z the active set (variables held
// at zero):
//
//  1. P = ∅, Z = {1..n}, x = 0.
//  2. w = Aᵀ(b − A·x), the negative gradient of ½‖A·x − b‖².
//  3. If Z = ∅ or w_j ≤ tol for all j ∈ Z, stop: x satisfies the
//     Kuhn–Tucker conditions.
//  4. Move t = argmax_{j∈Z} w_j from Z to P.
//  5. Solve the unconstrained least squares problem on the columns in P:
//     z_P = argmin ‖A_P·z − b‖, z_Z = 0.
//  6. If z_j > 0 for all j ∈ P, set x = z and go to 2.
//  7. Otherwise α = min over j ∈ P with z_j ≤ 0 of x_j / (x_j − z_j),
//     x = x + α(z − x), move every j ∈ P with x_j ≤ 0 (within tol) to Z,
//     and go to 5.
//
// Step 5 uses a thin SVD with rank cut-off 1e-12·σ_max (minimum-norm solution
// when the passive columns are numerically dependent). tol defaults to
// 10·ε·‖A‖₁·max(m, n) (ε the float64 machine epsilon), as in the reference
// implementations. Columns should be scaled to comparable norms by the caller
// (the fitter scales each to unit 2-norm); the constraint is invariant under
// positive column scaling.
//
// NNLS returns x, the residual norm ‖A·x − b‖₂, and ErrNNLSNoConvergence
// (with the last iterate) if the loop exceeds 3n outer iterations. It panics
// if len(b) ≠ m.
func NNLS(a mat.Matrix, b []float64) (x []float64, rnorm float64, err error) {
	m, n := a.Dims()
	if len(b) != m {
		panic(fmt.Sprintf("models: NNLS: len(b) = %d, A has %d rows", len(b), m))
	}
	x = make([]float64, n)
	if n == 0 {
		return x, mat.Norm(mat.NewVecDense(m, append([]float64(nil), b...)), 2), nil
	}
	tol := 10 * eps * mat.Norm(a, 1) * float64(max(m, n))
	bv := mat.NewVecDense(m, append([]float64(nil), b...))

	passive := make([]bool, n)
	w := mat.NewVecDense(n, nil)
	resid := mat.NewVecDense(m, nil)
	z := make([]float64, n)

	residual := func() {
		resid.MulVec(a, mat.NewVecDense(n, x))
		resid.SubVec(bv, resid)
	}
	residual()

	maxIter := 3 * n
	// skip holds variables that step 5 just rejected (their unconstrained
	// value was not positive) for the current x; it is cleared when x moves.
	// Without it, a variable whose gradient is positive only by rounding
	// would be picked again forever.
	skip := make([]bool, n)
	for iter := 0; ; iter++ {
		// Steps 2–3: the gradient on the active set.
		w.MulVec(a.T(), resid)
		t, wmax := -1, tol
		for j := range n {
			if !passive[j] && !skip[j] && w.AtVec(j) > wmax {
				t, wmax = j, w.AtVec(j)
			}
		}
		if t < 0 {
			break
		}
		if iter >= maxIter {
			return x, mat.Norm(resid, 2), fmt.Errorf("%w after %d iterations", ErrNNLSNoConvergence, iter)
		}
		// Step 4.
		passive[t] = true
		moved := false

		// Steps 5–7: inner loop until the passive solution is feasible.
		for inner := 0; ; inner++ {
			solvePassive(a, bv, passive, z)
			feasible := true
			for j := range n {
				if passive[j] && z[j] <= 0 {
					feasible = false
					break
				}
			}
			if feasible {
				copy(x, z)
				moved = true
				break
			}
			if inner > maxIter {
				residual()
				return x, mat.Norm(resid, 2), fmt.Errorf("%w: inner loop after %d steps", ErrNNLSNoConvergence, inner)
			}
			alpha := 1.0
			for j := range n {
				if passive[j] && z[j] <= 0 {
					r := 0.0
					if d := x[j] - z[j]; d > 0 {
						r = x[j] / d
					}
					alpha = min(alpha, r)
				}
			}
			for j := range n {
				nx := x[j] + alpha*(z[j]-x[j])
				if nx != x[j] {
					moved = true
				}
				x[j] = nx
				if passive[j] && x[j] <= tol {
					passive[j] = false
					x[j] = 0
				}
			}
			if !anyTrue(passive) {
				break
			}
		}
		if moved {
			clear(skip)
		} else if !passive[t] {
			skip[t] = true
		}
		residual()
	}
	return x, mat.Norm(resid, 2), nil
}

// eps is the float64 machine epsilon, 2^-52.
const eps = 0x1p-52

// solvePassive writes into z the least squares solution on the passive
// columns (minimum norm, thin SVD) and zeros elsewhere.
func solvePassive(a mat.Matrix, b *mat.VecDense, passive []bool, z []float64) {
	m, n := a.Dims()
	var cols []int
	for j := range n {
		z[j] = 0
		if passive[j] {
			cols = append(cols, j)
		}
	}
	if len(cols) == 0 {
		return
	}
	ap := mat.NewDense(m, len(cols), nil)
	for i := range m {
		for k, j := range cols {
			ap.Set(i, k, a.At(i, j))
		}
	}
	var svd mat.SVD
	if !svd.Factorize(ap, mat.SVDThin) {
		return
	}
	rank := svd.Rank(1e-12)
	if rank < 1 {
		return
	}
	var sol mat.VecDense
	svd.SolveVecTo(&sol, b, rank)
	for k, j := range cols {
		z[j] = sol.AtVec(k)
	}
}

func anyTrue(v []bool) bool {
	for _, b := range v {
		if b {
			return true
		}
	}
	return false
}
