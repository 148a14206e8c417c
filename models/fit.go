package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Sentinel errors of the fitter.
var (
	// ErrTooFewSamples: not enough usable samples for even the constant
	// model with one residual degree of freedom. Seed more shapes
	// (see SweepPlan) and calibrate again.
	ErrTooFewSamples = errors.New("models: too few samples")
	// ErrBadTarget: a target value is unusable (NaN, infinite, or ≤ 0 with
	// relative weighting).
	ErrBadTarget = errors.New("models: bad target value")
	// ErrBadOptions: FitOptions are inconsistent.
	ErrBadOptions = errors.New("models: bad fit options")
	// ErrDegenerate: the selected terms are numerically collinear on these
	// samples, so their coefficients cannot be separated. Seed shapes that
	// vary the features independently (SweepPlan does).
	ErrDegenerate = errors.New("models: degenerate design")
)

// DefaultMargin is the relative leave-one-out error margin a term must
// earn its place by; see FitOptions.Margin.
const DefaultMargin = 0.10

// DefaultLevel is the coverage of prediction intervals.
const DefaultLevel = 0.95

// FitOptions configures FitTarget. The zero value selects terms from data
// with relative weighting, a 10% margin and 95% prediction intervals.
type FitOptions struct {
	// Weighting of the least squares problem (default WeightRelative).
	Weighting Weighting
	// Terms, if not nil, fixes the model's terms (must contain TermConst)
	// and skips selection.
	Terms []Term
	// Candidates are the non-constant terms selection may choose from
	// (default U, S, R, J).
	Candidates []Term
	// Margin is the selection rule's tolerance: the chosen subset is the
	// smallest one whose leave-one-out error is at most (1+Margin) times the
	// best subset's. Default DefaultMargin; must be ≥ 0.
	Margin float64
	// Level is the coverage of prediction intervals, in (0, 1). Default 0.95.
	Level float64
	// HoldOut lists groups of sample indices (e.g. every sample of one row
	// content, or the largest shapes) that are each held out in turn to
	// estimate the model-form error (Fit.FormError). Nil: none.
	HoldOut [][]int
}

// Candidate is one subset of terms tried by the selection, as recorded in a
// Fit for inspection.
type Candidate struct {
	Terms []string `json:"terms"`
	// CVError is the leave-one-out root mean square (weighted) error,
	// NaN (null in JSON) if the subset was ineligible.
	CVError float64 `json:"cv_error"`
	// AICc of the full-data fit (for information; not used by the rule).
	AICc     float64 `json:"aicc"`
	Selected bool    `json:"selected,omitempty"`
	// Note says why a subset was ineligible.
	Note string `json:"note,omitempty"`
}

// Fit is a fitted linear model y ≈ Σ_k Coef_k·x_k(Shape) over Terms, with
// everything needed to predict with intervals and without refitting. It is
// the unit stored in a calibration file (see Calibration).
//
// Coefficients come from non-negative least squares, weighted per
// Weighting. The uncertainty is that of the weighted least squares fit
// restricted to the active terms (Coef_k > 0); terms held at zero by the
// constraint are treated as fixed (zero row and column in CovUnscaled,
// StdErr 0). With X the n×p matrix of active features, W = diag(w_i),
// w_i = 1 (none) or 1/ŷ_i² (relative), and p the number of active terms:
//
//	CovUnscaled = (XᵀWX)⁻¹
//	Sigma²      = Σ w_i (y_i − ŷ_i)² / DoF,   DoF = n − p
//	StdErr_k    = Sigma·sqrt(CovUnscaled_kk)
//
// Prediction at a new shape x₀ (see Model.Predict), with v₀ = 1 (none) or
// v₀ = ŷ₀² (relative):
//
//	ŷ₀ ± t_{DoF, (1+Level)/2} · Sigma · sqrt(v₀ + x₀ᵀ·CovUnscaled·x₀)
//
// These intervals are exact for Gaussian noise when no constraint binds and
// the terms are the true ones (approximately so under relative weighting);
// they ignore the uncertainty of the selection itself, so a term dropped
// as insignificant inside the calibrated range is also missing when
// extrapolating far beyond it.
type Fit struct {
	// Target names what was fitted, e.g. TargetPeakRSS.
	Target string `json:"target"`
	// Unit of the target, e.g. "bytes" or "seconds".
	Unit string `json:"unit,omitempty"`
	// Weighting is "relative" or "none".
	Weighting string `json:"weighting"`
	// Terms of the model, canonical order, always including "1".
	Terms       []string    `json:"terms"`
	Coef        []float64   `json:"coef"`
	StdErr      []float64   `json:"std_err"`
	Sigma       float64     `json:"sigma"`
	DoF         int         `json:"dof"`
	CovUnscaled [][]float64 `json:"cov_unscaled"`
	// Level is the prediction interval coverage, e.g. 0.95.
	Level float64 `json:"level"`
	// N is the number of samples fitted.
	N int `json:"n"`
	// CVError is the leave-one-out error of the selected subset, in target
	// units (none) or as a relative error (relative).
	CVError float64 `json:"cv_error"`
	AICc    float64 `json:"aicc"`
	// Margin is the selection margin used (0 when Terms were fixed).
	Margin float64 `json:"margin"`
	// Rule describes how Terms were chosen.
	Rule string `json:"rule"`
	// Candidates lists every subset tried, empty when Terms were fixed.
	Candidates []Candidate `json:"candidates,omitempty"`
	// FormError is the model-form error: the root mean square relative
	// (or, unweighted, absolute) error of predictions for held-out groups
	// of samples — whole row-content classes, shape families, the largest
	// shapes — refitted without them (see holdOutError;
	// FitOptions.HoldOut). Prediction intervals add it, scaled by the
	// distance beyond the calibrated range. 0: not estimated.
	FormError float64 `json:"form_error,omitempty"`
	// HoldOutError is sqrt(mean(e²)) over the held-out groups' samples.
	HoldOutError float64 `json:"holdout_error,omitempty"`
	// Range is the largest value of each feature over the samples: the
	// calibrated range. Predictions beyond it widen (Model.Extrapolation).
	Range *Shape `json:"range,omitempty"`
}

// Term returns the coefficient and standard error of the named term, and
// false if the model does not have it.
func (f Fit) Term(name string) (coef, stdErr float64, ok bool) {
	for i, t := range f.Terms {
		if t == name {
			return f.Coef[i], f.StdErr[i], true
		}
	}
	return 0, 0, false
}

// HasTerm reports whether the model includes the named term with a
// positive coefficient.
func (f Fit) HasTerm(name string) bool {
	c, _, ok := f.Term(name)
	return ok && c > 0
}

// FitTarget fits y (one value per shape) on the shapes, selecting terms
// from the data unless opts.Terms is set. target and unit are recorded in
// the Fit.
//
// Selection rule (the fitter is never told the hub release): every subset
// of the candidate terms, each with the constant, is fitted by NNLS and
// scored by leave-one-out cross-validation,
//
//	e_i   = (y_i − ŷ_{T,−i}(x_i)) / scale_i,  scale_i = 1 (none) or ŷ_{T,−i}(x_i) (relative)
//	CV(T) = sqrt( (1/n) Σ_i e_i² )
//
// where ŷ_{T,−i} is refitted without sample i. Subsets with fewer than one
// residual degree of freedom (n − p < 1), or whose fits fail, are
// ineligible. With B the subset of smallest CV, a subset T is "as good as
// B" when, after setting aside the one sample on which B beats T the most
// (largest e²_{T,i} − e²_{B,i}), T's CV over the remaining n−1 samples is
// at most (1+Margin) times B's (+ a 1e-9 relative floor for exact data).
// The chosen subset is the one with the fewest terms among those as good
// as B; ties go to the lower CV. So a term is kept only if dropping it
// costs more than Margin in prediction error, on more than a single
// sample: a feature that fits the noise of one high-leverage shape (the
// biggest restart, say) does not earn its place. Terms whose full-data
// NNLS coefficient is 0 are then dropped (except the constant).
func FitTarget(target, unit string, shapes []Shape, y []float64, opts FitOptions) (Fit, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Fit{}, err
	}
	if len(shapes) != len(y) {
		return Fit{}, fmt.Errorf("%w: %d shapes but %d target values", ErrBadOptions, len(shapes), len(y))
	}
	n := len(y)
	if n < 2 {
		return Fit{}, fmt.Errorf("%w: %d for %s; need at least 2 (better 10 or more: see SweepPlan)", ErrTooFewSamples, n, target)
	}
	d, err := newDesign(shapes, y, opts.Weighting)
	if err != nil {
		return Fit{}, fmt.Errorf("%s: %w", target, err)
	}
	if opts.Candidates == nil {
		// The content terms are candidates only when the samples carry
		// row content (a column of zeros identifies nothing).
		opts.Candidates = slices.Clone(CountTerms)
		for _, t := range []Term{TermJB, TermJP, TermLP} {
			if d.varies(t) {
				opts.Candidates = append(opts.Candidates, t)
			}
		}
	}

	fit := Fit{
		Target:    target,
		Unit:      unit,
		Weighting: opts.Weighting.String(),
		Level:     opts.Level,
		N:         n,
	}
	var terms []Term
	if opts.Terms != nil {
		terms = canonical(opts.Terms)
		if n-len(terms) < 1 {
			return Fit{}, fmt.Errorf("%w: %d samples for %d terms of %s; need at least %d", ErrTooFewSamples, n, len(terms), target, len(terms)+1)
		}
		fit.Rule = "fixed terms"
		_, cv, err := d.looErrors(terms)
		if err != nil {
			return Fit{}, fmt.Errorf("%s: %w", target, err)
		}
		fit.CVError = cv
	} else {
		terms, err = d.selectTerms(opts, &fit)
		if err != nil {
			return Fit{}, fmt.Errorf("%s: %w", target, err)
		}
	}
	if err := d.finish(terms, &fit); err != nil {
		return Fit{}, fmt.Errorf("%s: %w", target, err)
	}
	var rng Shape
	for _, s := range shapes {
		rng = Shape{U: max(rng.U, s.U), S: max(rng.S, s.S), R: max(rng.R, s.R), J: max(rng.J, s.J),
			JB: max(rng.JB, s.JB), JP: max(rng.JP, s.JP), LP: max(rng.LP, s.LP)}
	}
	fit.Range = &rng
	if len(opts.HoldOut) > 0 {
		kept := make([]Term, 0, len(fit.Terms))
		for _, t := range fit.Terms {
			kt, _ := ParseTerm(t)
			kept = append(kept, kt)
		}
		ho, err := holdOutError(shapes, y, opts.Weighting, kept, opts.HoldOut)
		if err != nil {
			return Fit{}, fmt.Errorf("%s: %w", target, err)
		}
		fit.HoldOutError, fit.FormError = ho, ho
	}
	return fit, nil
}

// holdOutError refits terms without each group in turn (the same
// weighting, terms fixed) and predicts the held-out samples; it returns
// the root mean square of their standardised errors (relative to the
// prediction under relative weighting). Groups that leave too few samples
// for the terms are skipped.
//
// That error is used as the form error itself, not net of the reduced
// fits' own prediction variance: with a handful of groups the net
// estimate is noise, and it came out 0 for the shipped 5.3.0 calibration
// whose predictions were then 4% off on a family it never saw (the
// validation matrix in models/calibrations/README.md).
func holdOutError(shapes []Shape, y []float64, w Weighting, terms []Term, groups [][]int) (float64, error) {
	var ss float64
	var n int
	for _, g := range groups {
		out := map[int]bool{}
		for _, i := range g {
			if i < 0 || i >= len(y) {
				return 0, fmt.Errorf("%w: hold-out index %d outside %d samples", ErrBadOptions, i, len(y))
			}
			out[i] = true
		}
		var ks []Shape
		var ky []float64
		for i := range y {
			if !out[i] {
				ks, ky = append(ks, shapes[i]), append(ky, y[i])
			}
		}
		if len(ky) <= len(terms)+1 || len(out) == 0 {
			continue
		}
		f, err := FitTarget("holdout", "", ks, ky, FitOptions{Weighting: w, Terms: terms})
		if err != nil {
			continue
		}
		m, err := NewModel(f)
		if err != nil {
			continue
		}
		for i := range out {
			p := m.Predict(shapes[i]).Point
			scale := 1.0
			if w == WeightRelative {
				scale = max(p, 1e-6*y[i])
			}
			e := (y[i] - p) / scale
			ss += e * e
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	return math.Sqrt(ss / float64(n)), nil
}

func (o FitOptions) withDefaults() (FitOptions, error) {
	var errs []error
	if o.Weighting != WeightRelative && o.Weighting != WeightNone {
		errs = append(errs, fmt.Errorf("%w: unknown weighting %d", ErrBadOptions, int(o.Weighting)))
	}
	if o.Margin == 0 {
		o.Margin = DefaultMargin
	}
	if !(o.Margin >= 0) || math.IsInf(o.Margin, 0) {
		errs = append(errs, fmt.Errorf("%w: margin %v; want a finite value ≥ 0", ErrBadOptions, o.Margin))
	}
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if !(o.Level > 0 && o.Level < 1) {
		errs = append(errs, fmt.Errorf("%w: level %v; want 0 < level < 1 (e.g. 0.95)", ErrBadOptions, o.Level))
	}
	if o.Terms != nil && !slices.Contains(o.Terms, TermConst) {
		errs = append(errs, fmt.Errorf("%w: fixed terms %v lack the constant; add TermConst", ErrBadOptions, o.Terms))
	}
	for _, t := range append(slices.Clone(o.Terms), o.Candidates...) {
		if t < TermConst || t >= numTerms {
			errs = append(errs, fmt.Errorf("%w: unknown term %d", ErrBadOptions, int(t)))
		}
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	return o, nil
}

// canonical returns the distinct terms in canonical order.
func canonical(ts []Term) []Term {
	out := slices.Clone(ts)
	slices.Sort(out)
	return slices.Compact(out)
}

// design holds the samples.
type design struct {
	x        [][numTerms]float64 // raw features per sample, indexed by Term
	y        []float64
	relative bool
	// floor is the absolute CV tolerance: 1e-9 of the error scale.
	floor float64
}

// varies reports whether some sample has a non-zero value of term t.
func (d *design) varies(t Term) bool {
	for _, x := range d.x {
		if x[t] != 0 {
			return true
		}
	}
	return false
}

// irlsPasses is the number of reweighting passes of a relative fit.
const irlsPasses = 2

func newDesign(shapes []Shape, y []float64, w Weighting) (*design, error) {
	d := &design{x: make([][numTerms]float64, len(y)), y: y, relative: w == WeightRelative}
	var errs []error
	var ss float64
	for i, s := range shapes {
		for _, t := range AllTerms {
			d.x[i][t] = s.Value(t)
		}
		if es := s.Validate(); es != nil {
			errs = append(errs, fmt.Errorf("sample %d: %w", i, errors.Join(es...)))
		}
		v := y[i]
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			errs = append(errs, fmt.Errorf("%w: sample %d is %v", ErrBadTarget, i, v))
		case d.relative && v <= 0:
			errs = append(errs, fmt.Errorf("%w: sample %d is %v; relative weighting needs values > 0", ErrBadTarget, i, v))
		}
		ss += v * v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if d.relative {
		d.floor = 1e-9
	} else {
		d.floor = 1e-9 * math.Sqrt(ss/float64(len(y)))
	}
	return d, nil
}

// scale is the denominator of sample i's standardised residual given the
// prediction mu: 1 without weights, else the prediction itself (Var(y) =
// σ²·μ²), floored at 1e-6·y_i so that a zero prediction is a huge error
// rather than a division by zero.
func (d *design) scale(i int, mu float64) float64 {
	if !d.relative {
		return 1
	}
	return math.Max(mu, 1e-6*d.y[i])
}

// fit fits the terms on the given rows (nil = all) and returns the
// coefficients in raw units and, per row, the square root of the final
// weight. Without weights it is one NNLS solve. With relative weighting it
// is iteratively reweighted: weights 1/y_i² first, then irlsPasses refits
// with 1/ŷ_i² from the previous fit, which removes the bias of weighting by
// the noisy observation itself (a low draw would otherwise pull the fit down).
func (d *design) fit(rows []int, terms []Term) (beta, sw []float64, err error) {
	if rows == nil {
		rows = make([]int, len(d.y))
		for i := range rows {
			rows[i] = i
		}
	}
	sw = make([]float64, len(rows))
	for r, i := range rows {
		sw[r] = 1
		if d.relative {
			sw[r] = 1 / d.y[i]
		}
	}
	passes := 0
	if d.relative {
		passes = irlsPasses
	}
	for pass := 0; ; pass++ {
		beta, err = d.solve(rows, terms, sw)
		if err != nil {
			return nil, nil, err
		}
		for r, i := range rows {
			sw[r] = 1 / d.scale(i, d.predict(i, terms, beta))
		}
		if pass == passes {
			return beta, sw, nil
		}
	}
}

// solve is one weighted NNLS fit of the terms on rows. Columns are
// weighted, then scaled to unit 2-norm for conditioning; an all-zero
// column gets coefficient 0.
func (d *design) solve(rows []int, terms []Term, sw []float64) ([]float64, error) {
	m, p := len(rows), len(terms)
	a := mat.NewDense(m, p, nil)
	b := make([]float64, m)
	for r, i := range rows {
		for k, t := range terms {
			a.Set(r, k, sw[r]*d.x[i][t])
		}
		b[r] = sw[r] * d.y[i]
	}
	norms := make([]float64, p)
	for k := range p {
		norms[k] = mat.Norm(a.ColView(k), 2)
		if norms[k] == 0 {
			continue
		}
		for r := range m {
			a.Set(r, k, a.At(r, k)/norms[k])
		}
	}
	g, _, err := NNLS(a, b)
	if err != nil {
		return nil, err
	}
	beta := make([]float64, p)
	for k := range p {
		if norms[k] > 0 {
			beta[k] = g[k] / norms[k]
		}
	}
	return beta, nil
}

func (d *design) predict(i int, terms []Term, beta []float64) float64 {
	var s float64
	for k, t := range terms {
		s += beta[k] * d.x[i][t]
	}
	return s
}

// looErrors returns the leave-one-out squared standardised errors
// e_i² = ((y_i − ŷ_{−i})/scale_i)², scale_i = 1 or ŷ_{−i}, and their CV
// error sqrt(mean e_i²).
func (d *design) looErrors(terms []Term) (e2 []float64, cv float64, err error) {
	n := len(d.y)
	rows := make([]int, 0, n-1)
	e2 = make([]float64, n)
	var sum float64
	for i := range n {
		rows = rows[:0]
		for j := range n {
			if j != i {
				rows = append(rows, j)
			}
		}
		beta, _, err := d.fit(rows, terms)
		if err != nil {
			return nil, math.NaN(), err
		}
		mu := d.predict(i, terms, beta)
		e := (d.y[i] - mu) / d.scale(i, mu)
		e2[i] = e * e
		sum += e2[i]
	}
	return e2, math.Sqrt(sum / float64(n)), nil
}

// rss is the weighted residual sum of squares Σ ((y_i − ŷ_i)/scale_i)².
func (d *design) rss(terms []Term, beta []float64) float64 {
	var s float64
	for i := range d.y {
		mu := d.predict(i, terms, beta)
		e := (d.y[i] - mu) / d.scale(i, mu)
		s += e * e
	}
	return s
}

// aicc is the small-sample corrected Akaike criterion of a Gaussian fit
// with p coefficients plus the variance: k = p+1,
// AICc = n·ln(RSS/n) + 2k + 2k(k+1)/(n−k−1); NaN when undefined.
func aicc(n, p int, rss float64) float64 {
	k := p + 1
	if n-k-1 <= 0 || rss <= 0 {
		return math.NaN()
	}
	nf, kf := float64(n), float64(k)
	return nf*math.Log(rss/nf) + 2*kf + 2*kf*(kf+1)/(nf-kf-1)
}

func (d *design) selectTerms(opts FitOptions, fit *Fit) ([]Term, error) {
	cands := canonical(opts.Candidates)
	cands = slices.DeleteFunc(cands, func(t Term) bool { return t == TermConst })
	n := len(d.y)
	type scored struct {
		terms []Term
		e2    []float64
		cv    float64
	}
	var eligible []scored
	for mask := range 1 << len(cands) {
		terms := []Term{TermConst}
		for k, t := range cands {
			if mask&(1<<k) != 0 {
				terms = append(terms, t)
			}
		}
		c := Candidate{Terms: termStrings(terms), CVError: math.NaN(), AICc: math.NaN()}
		if n-len(terms) < 1 {
			c.Note = fmt.Sprintf("needs more than %d samples", len(terms))
			fit.Candidates = append(fit.Candidates, c)
			continue
		}
		e2, cv, err := d.looErrors(terms)
		if err != nil {
			c.Note = err.Error()
			fit.Candidates = append(fit.Candidates, c)
			continue
		}
		c.CVError = cv
		if beta, _, err := d.fit(nil, terms); err == nil {
			p := 0
			for _, b := range beta {
				if b > 0 {
					p++
				}
			}
			c.AICc = aicc(n, p, d.rss(terms, beta))
		}
		fit.Candidates = append(fit.Candidates, c)
		eligible = append(eligible, scored{terms, e2, cv})
	}
	if len(eligible) == 0 {
		return nil, fmt.Errorf("%w: no subset of terms could be fitted to %d samples", ErrTooFewSamples, n)
	}
	best := eligible[0]
	for _, s := range eligible[1:] {
		if s.cv < best.cv {
			best = s
		}
	}
	// within reports whether s is as good as best up to the margin, once
	// the single sample on which best beats s the most is set aside.
	within := func(s scored) bool {
		k, adv := -1, math.Inf(-1)
		for i := range s.e2 {
			if a := s.e2[i] - best.e2[i]; a > adv {
				k, adv = i, a
			}
		}
		var ss, sb float64
		for i := range s.e2 {
			if i != k {
				ss += s.e2[i]
				sb += best.e2[i]
			}
		}
		m := float64(len(s.e2) - 1)
		return math.Sqrt(ss/m) <= (1+opts.Margin)*math.Sqrt(sb/m)+d.floor
	}
	chosen := best
	for _, s := range eligible {
		if !within(s) {
			continue
		}
		if len(s.terms) < len(chosen.terms) || (len(s.terms) == len(chosen.terms) && s.cv < chosen.cv) {
			chosen = s
		}
	}
	name := strings.Join(termStrings(chosen.terms), ",")
	for i := range fit.Candidates {
		if strings.Join(fit.Candidates[i].Terms, ",") == name {
			fit.Candidates[i].Selected = true
		}
	}
	fit.CVError = chosen.cv
	fit.Margin = opts.Margin
	fit.Rule = fmt.Sprintf("fewest terms with leave-one-out error ≤ (1+%g)×best's, best's most favourable sample set aside (best %s at %.4g)",
		opts.Margin, strings.Join(termStrings(best.terms), "+"), best.cv)
	return chosen.terms, nil
}

// finish refits the chosen terms on all samples and fills coefficients,
// σ, DoF and the unscaled covariance of the active terms.
func (d *design) finish(terms []Term, fit *Fit) error {
	beta, _, err := d.fit(nil, terms)
	if err != nil {
		return err
	}
	// Drop non-constant terms held at zero: the model is the smaller one.
	var kept []Term
	var kb []float64
	for k, t := range terms {
		if t == TermConst || beta[k] > 0 {
			kept = append(kept, t)
			kb = append(kb, beta[k])
		}
	}
	terms, beta = kept, kb
	var active []int
	for k, b := range beta {
		if b > 0 {
			active = append(active, k)
		}
	}
	n, p := len(d.y), len(terms)
	dof := n - len(active)
	if dof < 1 {
		return fmt.Errorf("%w: %d samples for %d coefficients", ErrTooFewSamples, n, len(active))
	}
	rss := d.rss(terms, beta)

	cov := make([][]float64, p)
	for k := range cov {
		cov[k] = make([]float64, p)
	}
	if len(active) > 0 {
		ca, err := d.unscaledCov(terms, beta, active)
		if err != nil {
			return err
		}
		for a, ka := range active {
			for b, kb := range active {
				cov[ka][kb] = ca.At(a, b)
			}
		}
	}
	sigma := math.Sqrt(rss / float64(dof))
	se := make([]float64, p)
	for k := range p {
		se[k] = sigma * math.Sqrt(cov[k][k])
	}
	fit.Terms = termStrings(terms)
	fit.Coef = beta
	fit.StdErr = se
	fit.Sigma = sigma
	fit.DoF = dof
	fit.CovUnscaled = cov
	fit.AICc = aicc(n, len(active), rss)
	return nil
}

// unscaledCov returns (XᵀWX)⁻¹ over the active columns, computed from the
// thin SVD of the column-scaled weighted matrix: with Xw = Xs·D,
// (XwᵀXw)⁻¹ = D⁻¹·V·Σ⁻²·Vᵀ·D⁻¹.
func (d *design) unscaledCov(terms []Term, beta []float64, active []int) (*mat.Dense, error) {
	n, p := len(d.y), len(active)
	sw := make([]float64, n)
	for i := range n {
		sw[i] = 1 / d.scale(i, d.predict(i, terms, beta))
	}
	a := mat.NewDense(n, p, nil)
	for i := range n {
		for c, k := range active {
			a.Set(i, c, sw[i]*d.x[i][terms[k]])
		}
	}
	norms := make([]float64, p)
	for c := range p {
		norms[c] = mat.Norm(a.ColView(c), 2)
		for i := range n {
			a.Set(i, c, a.At(i, c)/norms[c])
		}
	}
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThin) {
		return nil, fmt.Errorf("%w: SVD failed", ErrDegenerate)
	}
	sv := svd.Values(nil)
	if sv[len(sv)-1] <= 1e-10*sv[0] {
		return nil, fmt.Errorf("%w: terms %v have condition number %.3g on these samples",
			ErrDegenerate, termStrings(terms), sv[0]/sv[len(sv)-1])
	}
	var v mat.Dense
	svd.VTo(&v)
	cov := mat.NewDense(p, p, nil)
	for r := range p {
		for c := range p {
			var s float64
			for k := range p {
				s += v.At(r, k) * v.At(c, k) / (sv[k] * sv[k])
			}
			cov.Set(r, c, s/(norms[r]*norms[c]))
		}
	}
	return cov, nil
}
