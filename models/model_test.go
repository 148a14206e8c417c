package models

import (
	"errors"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

func TestTQuantile(t *testing.T) {
	// Reference values: two-sided 95% critical values of Student's t from
	// the NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.2
	// (3 decimals), and the normal 97.5% point 1.959964 for huge dof.
	cases := []struct {
		intent string
		dof    int
		want   float64
		tol    float64
	}{
		{"one degree of freedom has very wide intervals", 1, 12.706, 5e-4},
		{"ten", 10, 2.228, 5e-4},
		{"thirty", 30, 2.042, 5e-4},
		{"a hundred", 100, 1.984, 5e-4},
		{"a billion degrees of freedom is the normal quantile, not gonum's inaccurate tail", 1_000_000_000, 1.959964, 1e-6},
	}
	for _, c := range cases {
		if got := tQuantile(c.dof, 0.975); !scalar.EqualWithinAbs(got, c.want, c.tol) {
			t.Errorf("%s: t(%d, 0.975) = %v, want %v", c.intent, c.dof, got, c.want)
		}
	}
}

func TestNewModelRejects(t *testing.T) {
	good := func() Fit {
		return Fit{Target: "peak_rss", Weighting: "relative", Terms: []string{"1", "J"}, Coef: []float64{6e7, 2400},
			StdErr: []float64{1e5, 10}, Sigma: 0.03, DoF: 10, Level: 0.95, N: 12,
			CovUnscaled: [][]float64{{4, -1}, {-1, 2}}}
	}
	if _, err := NewModel(good()); err != nil {
		t.Fatalf("the reference fit must be valid: %v", err)
	}
	cases := []struct {
		intent string
		edit   func(f *Fit)
	}{
		{"an unknown weighting", func(f *Fit) { f.Weighting = "log" }},
		{"no terms at all", func(f *Fit) { f.Terms, f.Coef, f.StdErr, f.CovUnscaled = nil, nil, nil, nil }},
		{"a duplicated term", func(f *Fit) { f.Terms = []string{"1", "1"} }},
		{"a missing constant", func(f *Fit) { f.Terms = []string{"U", "J"} }},
		{"more terms than exist", func(f *Fit) { f.Terms = []string{"1", "U", "S", "R", "J", "J"} }},
		{"a coefficient count mismatch", func(f *Fit) { f.Coef = f.Coef[:1] }},
		{"a NaN coefficient", func(f *Fit) { f.Coef[1] = math.NaN() }},
		{"a negative standard error", func(f *Fit) { f.StdErr[0] = -1 }},
		{"an infinite sigma", func(f *Fit) { f.Sigma = math.Inf(1) }},
		{"zero degrees of freedom", func(f *Fit) { f.DoF = 0 }},
		{"more degrees of freedom than samples", func(f *Fit) { f.N = 3 }},
		{"a level given in percent", func(f *Fit) { f.Level = 95 }},
		{"a ragged covariance", func(f *Fit) { f.CovUnscaled[1] = []float64{1} }},
		{"a covariance of the wrong size", func(f *Fit) { f.CovUnscaled = f.CovUnscaled[:1] }},
		{"a negative variance", func(f *Fit) { f.CovUnscaled[0][0] = -4 }},
		{"an asymmetric covariance", func(f *Fit) { f.CovUnscaled[0][1] = 7 }},
	}
	for _, c := range cases {
		f := good()
		c.edit(&f)
		if _, err := NewModel(f); !errors.Is(err, ErrInvalidFit) {
			t.Errorf("%s: err = %v, want ErrInvalidFit", c.intent, err)
		}
	}
}

func TestPredictProperties(t *testing.T) {
	c := validCalibration(t)
	m, err := c.PeakModel()
	if err != nil {
		t.Fatal(err)
	}
	prev := Prediction{}
	for k := 0; k <= 2000; k += 50 {
		p := m.Predict(OneUser(k))
		// The interval contains the point and is not degenerate.
		if !(p.Lower <= p.Point && p.Point < p.Upper) {
			t.Fatalf("k=%d: %+v is not an interval around the point", k, p)
		}
		// Non-negative coefficients: more servers never predict less memory.
		if p.Point < prev.Point {
			t.Fatalf("k=%d: point %v < previous %v", k, p.Point, prev.Point)
		}
		prev = p
	}
	// The point is the linear combination of the stored coefficients.
	f := m.Fit()
	s := Even(7, 13)
	var want float64
	for i, name := range f.Terms {
		term, _ := ParseTerm(name)
		want += f.Coef[i] * s.Value(term)
	}
	if got := m.Predict(s).Point; !scalar.EqualWithinRel(got, want, 1e-12) {
		t.Errorf("Predict = %v, Σ coef·x = %v", got, want)
	}
	// Predicting allocates nothing (it runs inside threshold searches).
	if a := testing.AllocsPerRun(100, func() { m.Predict(s) }); a != 0 {
		t.Errorf("Predict allocates %v times", a)
	}
}

func TestNoScriptingOrClockDependencies(t *testing.T) {
	// Style rule: the model package has no JS runtime, k6 or clock
	// dependency; it is pure numerics on gonum.
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.Contains(p, "sobek") || strings.Contains(p, "k6") || p == "math/rand" || p == "math/rand/v2" {
				t.Errorf("%s imports %s", name, p)
			}
		}
		if strings.Contains(string(src), "time.Now(") {
			t.Errorf("%s reads the clock", name)
		}
	}
}
