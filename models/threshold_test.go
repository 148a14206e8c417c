package models

import (
	"errors"
	"math"
	"testing"
)

// handModel builds a model straight from coefficients over terms, with a
// chosen relative σ and an identity-free covariance (zeros): its interval
// is then ŷ·(1 ± t·σ), easy to invert by hand.
func handModel(t testing.TB, terms []string, coef []float64, sigma float64) *Model {
	t.Helper()
	p := len(terms)
	cov := make([][]float64, p)
	for i := range cov {
		cov[i] = make([]float64, p)
	}
	m, err := NewModel(Fit{
		Target: TargetPeakRSS, Weighting: "relative", Terms: terms, Coef: coef,
		StdErr: make([]float64, p), Sigma: sigma, DoF: 1000, CovUnscaled: cov, Level: 0.95, N: 1000 + p,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// largestK is the reference answer by brute force: the largest k ≤ maxK
// with value(k) ≤ limit, scanning every k.
func largestK(m *Model, limit float64, family func(int) Shape, useUpper bool, maxK int) int {
	best := -1
	for k := 0; k <= maxK; k++ {
		p := m.Predict(family(k))
		v := p.Point
		if useUpper {
			v = p.Upper
		}
		if v <= limit {
			best = k
		}
	}
	return best
}

func TestThreshold(t *testing.T) {
	quad := handModel(t, []string{"1", "R", "J"}, []float64{60 * mib, 4 * kib, 2.4 * kib}, 0.05)
	lin := handModel(t, []string{"1", "R", "S"}, []float64{60 * mib, 4 * kib, 1 * kib}, 0.05)
	flat := handModel(t, []string{"1"}, []float64{60 * mib}, 0.05)
	base := []UserShape{{Name: "alice", S: 10, R: 4}, {Name: "bob", S: 300, R: 300}}
	plusBob, err := PlusFamily(base, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// OneUser under the quadratic point model, solved by hand:
	// 60 MiB + 4 KiB·k + 2.4 KiB·k(k+1) ≤ L  ⇔  2.4k² + 6.4k − (L − 60 MiB)/KiB ≤ 0.
	closedForm := func(limit float64) int {
		c := (limit - 60*mib) / kib
		return int(math.Floor((-6.4 + math.Sqrt(6.4*6.4+4*2.4*c)) / (2 * 2.4)))
	}
	cases := []struct {
		intent   string
		m        *Model
		limit    float64
		family   func(int) Shape
		useUpper bool
		maxK     int
		want     int // -1: use brute force
		err      error
	}{
		{"one user's servers under 3 GiB on 5.3, checked against the quadratic formula",
			quad, 3 * gib, OneUser, false, DefaultMaxK, closedForm(3 * gib), nil},
		{"one user's servers under 1 GiB on 5.3, checked against the quadratic formula",
			quad, 1 * gib, OneUser, false, DefaultMaxK, closedForm(1 * gib), nil},
		{"the safe answer (upper bound) is found by brute force too",
			quad, 2 * gib, OneUser, true, 2000, -1, nil},
		{"even spreads: users of 30 servers each under 2 GiB",
			quad, 2 * gib, EvenUsers(30), false, 4000, -1, nil},
		{"today's database plus k servers for bob",
			quad, 3 * gib, plusBob, true, 2000, -1, nil},
		{"a linear release under 3 GiB allows hundreds of thousands of servers",
			lin, 3 * gib, OneUser, false, DefaultMaxK, -1, nil},
		{"a limit below the empty hub has no safe size",
			quad, 50 * mib, OneUser, false, DefaultMaxK, 0, ErrLimitTooLow},
		{"a model without size terms never reaches the limit",
			flat, 3 * gib, OneUser, false, 1 << 20, 1 << 20, ErrNoThreshold},
		{"a limit crossed exactly at the search bound is found, not called unbounded",
			quad, quad.Predict(OneUser(1000)).Point * (1 - 1e-12), OneUser, false, 1000, 999, nil},
		{"a size still within the limit at the bound is only known to be ≥ maxK",
			quad, quad.Predict(OneUser(1000)).Point, OneUser, false, 1000, 1000, ErrNoThreshold},
	}
	for _, c := range cases {
		got, err := ThresholdWithin(c.m, c.limit, c.family, c.useUpper, c.maxK)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: err = %v, want %v", c.intent, err, c.err)
			}
			if errors.Is(err, ErrNoThreshold) && got != c.want {
				t.Errorf("%s: got %d, want maxK %d", c.intent, got, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.intent, err)
			continue
		}
		want := c.want
		if want < 0 {
			if c.maxK > 1<<16 {
				// Too many sizes to scan: check the bracketing property instead.
				if v := c.m.Predict(c.family(got)).Point; v > c.limit {
					t.Errorf("%s: k = %d is predicted at %v > %v", c.intent, got, v, c.limit)
				}
				if v := c.m.Predict(c.family(got + 1)).Point; v <= c.limit {
					t.Errorf("%s: k+1 = %d is still within: %v ≤ %v", c.intent, got+1, v, c.limit)
				}
				continue
			}
			want = largestK(c.m, c.limit, c.family, c.useUpper, c.maxK)
		}
		if got != want {
			t.Errorf("%s: k = %d, want %d", c.intent, got, want)
		}
	}
}

func TestThresholdUpperIsSafer(t *testing.T) {
	// The upper bound answer never allows more servers than the point answer.
	m := handModel(t, []string{"1", "J"}, []float64{60 * mib, 2.4 * kib}, 0.08)
	for _, limit := range []float64{256 * mib, 1 * gib, 3 * gib, 6 * gib} {
		point, err1 := Threshold(m, limit, OneUser, false)
		safe, err2 := Threshold(m, limit, OneUser, true)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if safe > point {
			t.Errorf("limit %.0f MiB: safe k %d > point k %d", limit/mib, safe, point)
		}
	}
}

func TestThresholdRejects(t *testing.T) {
	m := handModel(t, []string{"1", "J"}, []float64{60 * mib, 2.4 * kib}, 0.05)
	shrinking := func(k int) Shape { return Even(1, max(0, 1000-k)) }
	cases := []struct {
		intent string
		limit  float64
		family func(int) Shape
		maxK   int
		want   error
	}{
		{"a family that shrinks as k grows would make bisection lie", 3 * gib, shrinking, DefaultMaxK, ErrNotMonotone},
		{"a NaN limit is an error, not k = 0", math.NaN(), OneUser, DefaultMaxK, ErrBadLimit},
		{"a negative limit is an error", -1, OneUser, DefaultMaxK, ErrBadLimit},
		{"a search bound below 1 is an error", 3 * gib, OneUser, 0, ErrBadLimit},
	}
	for _, c := range cases {
		if _, err := ThresholdWithin(m, c.limit, c.family, false, c.maxK); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.intent, err, c.want)
		}
	}
}

func TestRequiredLimitInvertsThreshold(t *testing.T) {
	// The limit RequiredLimit gives for a shape lets Threshold (upper bound)
	// reach that shape's size: the two are inverse up to rounding of k.
	m := handModel(t, []string{"1", "R", "J"}, []float64{60 * mib, 4 * kib, 2.4 * kib}, 0.05)
	for _, k := range []int{0, 1, 10, 300, 1000, 5000} {
		for _, headroom := range []float64{0, 0.2} {
			limit, err := RequiredLimit(m, OneUser(k), headroom)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Threshold(m, limit, OneUser, true)
			if err != nil {
				t.Fatalf("k=%d: %v", k, err)
			}
			if got < k {
				t.Errorf("k=%d headroom %g: limit %.0f MiB admits only k=%d", k, headroom, limit/mib, got)
			}
			if headroom == 0 && got != k {
				t.Errorf("k=%d: with no headroom the limit should admit exactly k, got %d", k, got)
			}
		}
	}
	if _, err := RequiredLimit(m, OneUser(1), -0.1); !errors.Is(err, ErrBadLimit) {
		t.Errorf("negative headroom: err = %v, want ErrBadLimit", err)
	}
}
