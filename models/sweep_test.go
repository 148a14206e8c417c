package models

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// conditionNumber is the 2-norm condition number of the design matrix
// [1 U S R J] with each column scaled to unit norm (scaling removes the
// units, so what remains measures collinearity).
func conditionNumber(shapes []Shape) float64 {
	a := mat.NewDense(len(shapes), len(CountTerms)+1, nil)
	for i, s := range shapes {
		for j, t := range append([]Term{TermConst}, CountTerms...) {
			a.Set(i, j, s.Value(t))
		}
	}
	for j := range len(CountTerms) + 1 {
		n := mat.Norm(a.ColView(j), 2)
		for i := range shapes {
			a.Set(i, j, a.At(i, j)/n)
		}
	}
	var svd mat.SVD
	svd.Factorize(a, mat.SVDNone)
	return svd.Cond()
}

func TestSweepPlan(t *testing.T) {
	cases := []struct {
		intent string
		budget int
		opts   SweepOptions
	}{
		{"the smallest plan still separates all five terms", MinSweepBudget, SweepOptions{}},
		{"a typical plan", 16, SweepOptions{}},
		{"a plan for a 256 MiB cgroup stays under the memory guess", 16, SweepOptions{MaxMemory: 256 << 20}},
		{"a plan with tight caps", 12, SweepOptions{MaxJoinedRows: 5000, MaxRunning: 200}},
		{"a large plan for the facts note's sizes", 24, SweepOptions{MaxJoinedRows: 1e6, MaxRunning: 3000}},
	}
	for _, c := range cases {
		plan, err := SweepPlan(c.budget, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.intent, err)
		}
		o, _ := c.opts.withDefaults()
		if len(plan) > c.budget || len(plan) < MinSweepBudget {
			t.Errorf("%s: %d shapes for budget %d", c.intent, len(plan), c.budget)
		}
		var shapes []Shape
		families := map[string]bool{}
		seen := map[Shape]bool{}
		for i, s := range plan {
			sh := s.Shape()
			shapes = append(shapes, sh)
			families[s.Family] = true
			if es := sh.Validate(); es != nil {
				t.Errorf("%s: %s is not a possible database: %v", c.intent, s.Label, es)
			}
			if sh.J > o.MaxJoinedRows || sh.R > float64(o.MaxRunning) {
				t.Errorf("%s: %s exceeds the caps: %+v", c.intent, s.Label, sh)
			}
			if o.MaxMemory > 0 && o.BaseBytes+o.BytesPerJoinedRow*sh.J > o.MaxMemory {
				t.Errorf("%s: %s is guessed at %.0f MiB > %.0f MiB", c.intent, s.Label,
					(o.BaseBytes+o.BytesPerJoinedRow*sh.J)/(1<<20), o.MaxMemory/(1<<20))
			}
			if seen[sh] {
				t.Errorf("%s: %s duplicates an earlier shape", c.intent, s.Label)
			}
			seen[sh] = true
			if i > 0 && sh.J < plan[i-1].Shape().J {
				t.Errorf("%s: not sorted by joined rows at %s", c.intent, s.Label)
			}
			if got, _ := ShapeOf(s.UserShapes("u")); got != sh {
				t.Errorf("%s: %s per-user expansion %+v ≠ %+v", c.intent, s.Label, got, sh)
			}
		}
		if len(families) != 5 {
			t.Errorf("%s: families %v, want all five", c.intent, families)
		}
		// No feature is (nearly) a combination of the others.
		if cn := conditionNumber(shapes); !(cn < 1e4) {
			t.Errorf("%s: design condition number %.3g", c.intent, cn)
		}
		// Pure: the same request gives the same plan.
		again, _ := SweepPlan(c.budget, c.opts)
		if !reflect.DeepEqual(plan, again) {
			t.Errorf("%s: plan not deterministic", c.intent)
		}
	}
}

func TestEvenSpreadsAloneAreCollinear(t *testing.T) {
	// The reason for the mixed design: with even spreads of fixed s, J = s·R
	// on every shape, so the design matrix is singular and J cannot be told
	// from R. The plan's mix is well conditioned (TestSweepPlan).
	var shapes []Shape
	for _, n := range []int{1, 3, 10, 30, 100, 300} {
		shapes = append(shapes, Even(n, 30))
	}
	if cn := conditionNumber(shapes); !(cn > 1e12 || math.IsInf(cn, 1)) {
		t.Errorf("even spreads: condition number %.3g, expected singular", cn)
	}
}

func TestSweepPlanErrors(t *testing.T) {
	cases := []struct {
		intent string
		budget int
		opts   SweepOptions
	}{
		{"four shapes cannot identify five terms", 4, SweepOptions{}},
		{"a memory limit below an empty hub leaves nothing to measure", 12, SweepOptions{MaxMemory: 32 << 20}},
		{"negative caps are refused", 12, SweepOptions{MaxRunning: -5}},
		{"a NaN cap is refused", 12, SweepOptions{MaxJoinedRows: math.NaN()}},
		{"caps too small for any family are refused", 12, SweepOptions{MaxJoinedRows: 2, MaxRunning: 1}},
	}
	for _, c := range cases {
		if _, err := SweepPlan(c.budget, c.opts); !errors.Is(err, ErrBadSweep) {
			t.Errorf("%s: err = %v, want ErrBadSweep", c.intent, err)
		}
	}
}
