package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/testenv"
	"gonum.org/v1/gonum/floats/scalar"
)

const (
	kib = 1024.0
	mib = 1024 * kib
	gib = 1024 * mib
)

// quadTruth is a synthetic 5.0–5.3 hub: an empty hub of 60 MiB, 2.4 KiB per
// joined row and 4 KiB per running server. TestTruthsMatchFacts ties it to
// the measurements in the facts note.
func quadTruth(s Shape) float64 { return 60*mib + 2.4*kib*s.J + 4*kib*s.R }

// linTruth is a synthetic ≥ 5.4.3 hub: 60 MiB plus 4 KiB per running server
// and 1 KiB per spawner row, no joined rows.
func linTruth(s Shape) float64 { return 60*mib + 4*kib*s.R + 1*kib*s.S }

// synth draws y_i = truth(x_i)·(1 + relNoise·N(0,1)) from an explicit source.
func synth(rnd *rand.Rand, shapes []Shape, truth func(Shape) float64, relNoise float64) []float64 {
	y := make([]float64, len(shapes))
	for i, s := range shapes {
		y[i] = truth(s) * (1 + relNoise*rnd.NormFloat64())
	}
	return y
}

func planShapes(t testing.TB, budget int, opts SweepOptions) []Shape {
	t.Helper()
	plan, err := SweepPlan(budget, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []Shape
	for _, s := range plan {
		out = append(out, s.Shape())
	}
	return out
}

func TestTruthsMatchFacts(t *testing.T) {
	// The synthetic truths must reproduce the facts note's measurements
	// (SQLite, 5.3.0 ORM) within 5%, or the selection tests below would test
	// an invented problem.
	cases := []struct {
		intent string
		truth  func(Shape) float64
		shape  Shape
		want   float64
	}{
		{"1 user × 1000 running: 1,000,000 rows, 2.39 GiB", quadTruth, Even(1, 1000), 2.39 * gib},
		{"10 users × 300: 900,000 rows, 2.19 GiB", quadTruth, Even(10, 300), 2.19 * gib},
		{"100 users × 30: 90,000 rows, 271 MiB", quadTruth, Even(100, 30), 271 * mib},
	}
	for _, c := range cases {
		if got := c.truth(c.shape); !scalar.EqualWithinRel(got, c.want, 0.05) {
			t.Errorf("%s: truth gives %.3g, facts %.3g", c.intent, got, c.want)
		}
	}
	// The fixed query handles the same shapes under 75 MiB.
	for _, s := range []Shape{Even(1, 1000), Even(10, 300), Even(100, 30)} {
		if got := linTruth(s); got >= 75*mib {
			t.Errorf("linear truth at %+v = %.1f MiB, facts say under 75 MiB", s, got/mib)
		}
	}
}

func TestSelection(t *testing.T) {
	shapes := planShapes(t, 16, SweepOptions{})
	cases := []struct {
		intent string
		truth  func(Shape) float64
		noise  float64
		wantJ  bool
	}{
		{"a quadratic release is recognised from clean data", quadTruth, 0.01, true},
		{"a quadratic release is recognised through typical RSS jitter", quadTruth, 0.05, true},
		{"a quadratic release is recognised through heavy noise", quadTruth, 0.20, true},
		{"a linear release does not grow a J term from clean data", linTruth, 0.01, false},
		{"a linear release does not grow a J term from typical jitter", linTruth, 0.05, false},
		{"a linear release does not grow a J term even when noise swamps its R and S slopes", linTruth, 0.20, false},
	}
	const seeds = 12
	for _, c := range cases {
		for seed := range uint64(seeds) {
			y := synth(rand.New(rand.NewPCG(seed, 1)), shapes, c.truth, c.noise)
			f, err := FitTarget(TargetPeakRSS, "bytes", shapes, y, FitOptions{})
			if err != nil {
				t.Fatalf("%s (seed %d): %v", c.intent, seed, err)
			}
			if f.HasTerm("J") != c.wantJ {
				t.Errorf("%s (seed %d, noise %g): terms %v, coef %v", c.intent, seed, c.noise, f.Terms, f.Coef)
				continue
			}
			if !slices.Contains(f.Terms, "1") {
				t.Errorf("%s: terms %v lack the constant", c.intent, f.Terms)
			}
			m, err := NewModel(f)
			if err != nil {
				t.Fatal(err)
			}
			if c.wantJ {
				// The per-row cost is recovered: 2.4 KiB ± a tolerance that grows with the noise.
				coef, _, _ := f.Term("J")
				if !scalar.EqualWithinRel(coef, 2.4*kib, 0.05+2*c.noise) {
					t.Errorf("%s (seed %d): J coefficient %.0f B/row, truth %.0f", c.intent, seed, coef, 2.4*kib)
				}
			}
			// Extrapolating 4× beyond the largest calibrated J (250k) to the
			// facts note's 1 user × 1000 still lands near the truth.
			big := Even(1, 1000)
			if p := m.Predict(big); !scalar.EqualWithinRel(p.Point, c.truth(big), 0.1+c.noise) {
				t.Errorf("%s (seed %d): predicted %.0f MiB at 1×1000, truth %.0f MiB", c.intent, seed, p.Point/mib, c.truth(big)/mib)
			}
		}
	}
}

func TestExactDataRecoversCoefficients(t *testing.T) {
	// Noise-free data: every weighting recovers the true terms and
	// coefficients, and a term with a true coefficient of zero (U, S) is
	// not selected even though supersets fit equally well.
	shapes := planShapes(t, 12, SweepOptions{})
	y := synth(rand.New(rand.NewPCG(0, 0)), shapes, quadTruth, 0)
	for _, w := range []Weighting{WeightRelative, WeightNone} {
		f, err := FitTarget(TargetPeakRSS, "bytes", shapes, y, FitOptions{Weighting: w})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"1", "R", "J"}; !slices.Equal(f.Terms, want) {
			t.Errorf("%v: terms %v, want %v", w, f.Terms, want)
			continue
		}
		for i, want := range []float64{60 * mib, 4 * kib, 2.4 * kib} {
			if !scalar.EqualWithinRel(f.Coef[i], want, 1e-6) {
				t.Errorf("%v: coef[%s] = %v, want %v", w, f.Terms[i], f.Coef[i], want)
			}
		}
	}
}

func TestSimpleRegressionByHand(t *testing.T) {
	// Ordinary least squares of y on R with x = (0,1,2,3,4), y = (1,3,2,5,4),
	// by hand: x̄ = 2, ȳ = 3, Sxx = 10, Sxy = 8, slope 0.8, intercept 1.4,
	// residuals (−0.4, 0.8, −1, 1.2, −0.6), RSS = 3.6, s² = 3.6/3 = 1.2,
	// SE(slope) = sqrt(s²/Sxx), SE(intercept) = sqrt(s²(1/n + x̄²/Sxx)),
	// prediction at x₀ = 5: 5.4 ± t_{3,0.975}·s·sqrt(1 + 1/n + (x₀−x̄)²/Sxx),
	// t_{3,0.975} = 3.182446 (Student's t table).
	var shapes []Shape
	for k := range 5 {
		shapes = append(shapes, OneUser(k))
	}
	y := []float64{1, 3, 2, 5, 4}
	f, err := FitTarget("y", "", shapes, y, FitOptions{Weighting: WeightNone, Terms: []Term{TermConst, TermR}})
	if err != nil {
		t.Fatal(err)
	}
	const n, xbar, sxx, s2, t3 = 5.0, 2.0, 10.0, 1.2, 3.182446305284263
	checks := []struct {
		name      string
		got, want float64
	}{
		{"intercept", f.Coef[0], 1.4},
		{"slope", f.Coef[1], 0.8},
		{"sigma", f.Sigma, math.Sqrt(s2)},
		{"SE(intercept)", f.StdErr[0], math.Sqrt(s2 * (1/n + xbar*xbar/sxx))},
		{"SE(slope)", f.StdErr[1], math.Sqrt(s2 / sxx)},
		{"dof", float64(f.DoF), 3},
	}
	m, err := NewModel(f)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Predict(OneUser(5))
	half := t3 * math.Sqrt(s2) * math.Sqrt(1+1/n+(5-xbar)*(5-xbar)/sxx)
	checks = append(checks,
		struct {
			name      string
			got, want float64
		}{"point", p.Point, 5.4},
		struct {
			name      string
			got, want float64
		}{"upper", p.Upper, 5.4 + half},
		struct {
			name      string
			got, want float64
		}{"lower", p.Lower, 5.4 - half})
	for _, c := range checks {
		if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-9, 1e-9) {
			t.Errorf("%s = %.12g, want %.12g", c.name, c.got, c.want)
		}
	}
}

func TestPredictionIntervalCoverage(t *testing.T) {
	// Over many independent calibrations, a fresh observation falls inside
	// the 95% interval about 95% of the time, with and without weighting,
	// inside the calibrated range and when extrapolating to 1 × 1000.
	testenv.Short(t, "coverage needs many fits")
	shapes := planShapes(t, 12, SweepOptions{})
	probes := []Shape{Even(5, 100), OneUser(300), Even(1000, 2), Even(1, 1000)}
	noises := map[Weighting]func(rnd *rand.Rand, mu float64) float64{
		WeightNone:     func(rnd *rand.Rand, mu float64) float64 { return mu + 20*mib*rnd.NormFloat64() },
		WeightRelative: func(rnd *rand.Rand, mu float64) float64 { return mu * (1 + 0.05*rnd.NormFloat64()) },
	}
	const trials = 1000
	for w, noise := range noises {
		hits, total := 0, 0
		for seed := range uint64(trials) {
			rnd := rand.New(rand.NewPCG(seed, 2))
			y := make([]float64, len(shapes))
			for i, s := range shapes {
				y[i] = noise(rnd, quadTruth(s))
			}
			f, err := FitTarget(TargetPeakRSS, "bytes", shapes, y, FitOptions{Weighting: w, Terms: []Term{TermConst, TermR, TermJ}})
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewModel(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range probes {
				p := m.Predict(s)
				if y0 := noise(rnd, quadTruth(s)); y0 >= p.Lower && y0 <= p.Upper {
					hits++
				}
				total++
			}
		}
		t.Logf("%v weighting: coverage %.3f over %d draws", w, float64(hits)/float64(total), total)
		// Binomial standard deviation at 4000 draws is 0.0034; allow ±0.02.
		if cov := float64(hits) / float64(total); math.Abs(cov-0.95) > 0.02 {
			t.Errorf("%v weighting: coverage %.3f over %d draws, want 0.95 ± 0.02", w, cov, total)
		}
	}
}

func TestFitTargetErrors(t *testing.T) {
	good := planShapes(t, 6, SweepOptions{})
	ys := func(f func(int) float64) []float64 {
		y := make([]float64, len(good))
		for i := range y {
			y[i] = f(i)
		}
		return y
	}
	positive := ys(func(i int) float64 { return quadTruth(good[i]) })
	cases := []struct {
		intent string
		shapes []Shape
		y      []float64
		opts   FitOptions
		want   error
	}{
		{"one sample leaves no degree of freedom", good[:1], positive[:1], FitOptions{}, ErrTooFewSamples},
		{"a NaN measurement is refused, not fitted", good, ys(func(i int) float64 {
			if i == 2 {
				return math.NaN()
			}
			return positive[i]
		}), FitOptions{}, ErrBadTarget},
		{"relative weighting cannot divide by a zero peak", good, ys(func(int) float64 { return 0 }), FitOptions{}, ErrBadTarget},
		{"shapes and targets must pair up", good, positive[:3], FitOptions{}, ErrBadOptions},
		{"a level of 95 (percent) instead of 0.95 is caught", good, positive, FitOptions{Level: 95}, ErrBadOptions},
		{"fixed terms without the constant are refused", good, positive, FitOptions{Terms: []Term{TermJ}}, ErrBadOptions},
		{"a negative margin is refused", good, positive, FitOptions{Margin: -0.1}, ErrBadOptions},
		{"fixed terms need more samples than terms", good[:3], positive[:3], FitOptions{Terms: AllTerms}, ErrTooFewSamples},
		{"an impossible shape is reported", append([]Shape{{U: 1, S: 1, R: 5, J: 5}}, good[1:]...), positive, FitOptions{}, ErrInvalidShape},
	}
	for _, c := range cases {
		if _, err := FitTarget("peak", "bytes", c.shapes, c.y, c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.intent, err, c.want)
		}
	}
}

func TestCollinearFixedTerms(t *testing.T) {
	// With every running server on one user, S = R+1 and U = 1: asking for
	// U, S and R together must still give a usable model (NNLS keeps a
	// non-degenerate subset) rather than a singular covariance.
	var shapes []Shape
	for _, k := range []int{1, 5, 20, 50, 100, 200} {
		shapes = append(shapes, OneUser(k))
	}
	y := synth(rand.New(rand.NewPCG(3, 3)), shapes, linTruth, 0.01)
	f, err := FitTarget("peak", "bytes", shapes, y, FitOptions{Terms: []Term{TermConst, TermU, TermS, TermR}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(f)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Predict(OneUser(150))
	if !(p.Lower <= p.Point && p.Point <= p.Upper) || math.IsNaN(p.Upper) || math.IsInf(p.Upper, 0) {
		t.Errorf("prediction %+v is not a finite ordered interval (terms %v coef %v)", p, f.Terms, f.Coef)
	}
	if !scalar.EqualWithinRel(p.Point, linTruth(OneUser(150)), 0.05) {
		t.Errorf("predicted %.1f MiB, truth %.1f MiB", p.Point/mib, linTruth(OneUser(150))/mib)
	}
}
