package models

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ErrInvalidFit reports a Fit that cannot be turned into a Model (wrong
// lengths, unknown terms, negative or non-finite numbers). A calibration
// file holding one was edited or corrupted: recalibrate with the calibrate
// command.
var ErrInvalidFit = errors.New("models: invalid fit")

// Prediction is a point prediction with its two-sided prediction interval
// at the fit's Level. Lower is clipped at 0 (the targets are non-negative).
type Prediction struct {
	Point float64 `json:"point"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// Model predicts a target from a Shape. Build it with NewModel from a Fit
// (fresh from FitTarget or loaded from a calibration file); it never
// refits. A Model is immutable and safe for concurrent use.
type Model struct {
	fit      Fit
	terms    []Term
	coef     []float64
	cov      []float64 // p×p row-major
	sigma    float64
	tq       float64 // t_{DoF,(1+Level)/2}
	relative bool
	form     float64 // model-form error (Fit.FormError)
	rng      Shape   // calibrated range (zero: unknown)
}

// NewModel validates f and precomputes the t quantile. It fails with
// ErrInvalidFit (joined with every problem found) if f is inconsistent.
func NewModel(f Fit) (*Model, error) {
	if errs := f.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m := &Model{fit: f, sigma: f.Sigma}
	for _, s := range f.Terms {
		t, _ := ParseTerm(s)
		m.terms = append(m.terms, t)
	}
	m.coef = append([]float64(nil), f.Coef...)
	p := len(f.Terms)
	m.cov = make([]float64, p*p)
	for i := range p {
		copy(m.cov[i*p:(i+1)*p], f.CovUnscaled[i])
	}
	w, _ := ParseWeighting(f.Weighting)
	m.relative = w == WeightRelative
	m.tq = tQuantile(f.DoF, (1+f.Level)/2)
	m.form = f.FormError
	if f.Range != nil {
		m.rng = *f.Range
	}
	return m, nil
}

// tQuantile is the p-quantile of Student's t with dof degrees of freedom.
// Above 10⁶ degrees of freedom it is the normal quantile (they differ by
// less than 10⁻⁶ relative there, and gonum's incomplete beta inversion
// loses accuracy for ν ≳ 10¹²).
func tQuantile(dof int, p float64) float64 {
	if dof > 1_000_000 {
		return distuv.UnitNormal.Quantile(p)
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(dof)}.Quantile(p)
}

// Fit returns the fit the model was built from.
func (m *Model) Fit() Fit { return m.fit }

// Terms returns the model's terms in canonical order.
func (m *Model) Terms() []Term { return append([]Term(nil), m.terms...) }

// Extrapolation is how far s lies beyond the calibrated range on the
// model's own terms: the largest ratio x₀_k / max_i x_ik over the model's
// non-constant terms (≤ 1 inside the range; 0 when the fit has no range).
func (m *Model) Extrapolation(s Shape) float64 {
	var r float64
	for _, t := range m.terms {
		if t == TermConst {
			continue
		}
		top := m.rng.Value(t)
		if top <= 0 {
			continue
		}
		r = max(r, s.Value(t)/top)
	}
	return r
}

// Predict returns ŷ₀ = Σ_k Coef_k·x₀_k and the interval
//
//	ŷ₀ ± t_{DoF,(1+Level)/2} · sqrt(σ²·(v₀ + x₀ᵀ·C·x₀) + (g·f)²·v₀)
//
// with C = (XᵀWX)⁻¹ (Fit.CovUnscaled), v₀ = 1 for unweighted fits or
// v₀ = ŷ₀² for relative weighting (noise proportional to the value), f the
// model-form error (Fit.FormError, estimated from held-out groups) and
// g = max(1, Extrapolation(s)): beyond the calibrated range the form error
// grows in proportion to the distance. It allocates nothing.
func (m *Model) Predict(s Shape) Prediction {
	var x [numTerms]float64
	p := len(m.terms)
	var point float64
	for k, t := range m.terms {
		x[k] = s.Value(t)
		point += m.coef[k] * x[k]
	}
	var q float64
	for i := range p {
		var r float64
		row := m.cov[i*p : (i+1)*p]
		for j := range p {
			r += row[j] * x[j]
		}
		q += x[i] * r
	}
	v0 := 1.0
	if m.relative {
		v0 = point * point
	}
	g := max(1, m.Extrapolation(s))
	fe := g * m.form
	half := m.tq * m.sigma * math.Sqrt(v0+max(q, 0))
	if fe > 0 {
		half = m.tq * math.Sqrt(m.sigma*m.sigma*(v0+max(q, 0))+fe*fe*v0)
	}
	return Prediction{Point: point, Lower: max(point-half, 0), Upper: point + half}
}

// Validate reports every problem that would make the fit unusable: an
// unknown weighting or term, a missing constant, duplicated terms, slices
// whose lengths disagree with Terms, negative or non-finite coefficients,
// standard errors, σ or covariance entries, an asymmetric covariance, DoF < 1
// or above N, or a Level outside (0, 1). Each error wraps ErrInvalidFit.
func (f Fit) Validate() []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidFit, fmt.Sprintf(format, a...)))
	}
	if _, err := ParseWeighting(f.Weighting); err != nil {
		bad("%v", err)
	}
	p := len(f.Terms)
	if p == 0 {
		bad("no terms; a fit has at least the constant \"1\"")
	}
	if p > len(AllTerms) {
		bad("%d terms; at most %d exist", p, len(AllTerms))
		return errs
	}
	seen := map[Term]bool{}
	for _, s := range f.Terms {
		t, err := ParseTerm(s)
		if err != nil {
			bad("%v", err)
			continue
		}
		if seen[t] {
			bad("term %q appears twice", s)
		}
		seen[t] = true
	}
	if p > 0 && !seen[TermConst] {
		bad("terms %v lack the constant \"1\"", f.Terms)
	}
	finiteNonNeg := func(name string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			bad("%s = %v; want a finite value ≥ 0", name, v)
		}
	}
	if len(f.Coef) != p {
		bad("%d coefficients for %d terms", len(f.Coef), p)
	} else {
		for i, c := range f.Coef {
			finiteNonNeg(fmt.Sprintf("coef[%s]", f.Terms[i]), c)
		}
	}
	if len(f.StdErr) != p {
		bad("%d standard errors for %d terms", len(f.StdErr), p)
	} else {
		for i, c := range f.StdErr {
			finiteNonNeg(fmt.Sprintf("std_err[%s]", f.Terms[i]), c)
		}
	}
	finiteNonNeg("sigma", f.Sigma)
	if f.DoF < 1 {
		bad("dof = %d; want ≥ 1", f.DoF)
	}
	if f.N < f.DoF {
		bad("n = %d samples but dof = %d; dof is n minus the active terms", f.N, f.DoF)
	}
	if !(f.Level > 0 && f.Level < 1) {
		bad("level = %v; want 0 < level < 1", f.Level)
	}
	if len(f.CovUnscaled) != p {
		bad("cov_unscaled has %d rows for %d terms", len(f.CovUnscaled), p)
		return errs
	}
	for i, row := range f.CovUnscaled {
		if len(row) != p {
			bad("cov_unscaled row %d has %d entries for %d terms", i, len(row), p)
			return errs
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				bad("cov_unscaled[%d][%d] = %v; want finite", i, j, v)
			}
		}
	}
	for i := range p {
		if f.CovUnscaled[i][i] < 0 {
			bad("cov_unscaled[%d][%d] = %v; a variance cannot be negative", i, i, f.CovUnscaled[i][i])
		}
		for j := range i {
			a, b := f.CovUnscaled[i][j], f.CovUnscaled[j][i]
			if math.Abs(a-b) > 1e-9*math.Max(math.Abs(a), math.Abs(b)) {
				bad("cov_unscaled is not symmetric at [%d][%d]: %v vs %v", i, j, a, b)
			}
		}
	}
	return errs
}
