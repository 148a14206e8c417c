package models

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors of the threshold search.
var (
	// ErrNoThreshold: the prediction stays within the limit for every size up
	// to the search bound; the size is unbounded within that range.
	ErrNoThreshold = errors.New("models: no threshold")
	// ErrLimitTooLow: even size 0 of the family is predicted above the
	// limit; raise the limit (see RequiredLimit).
	ErrLimitTooLow = errors.New("models: limit too low")
	// ErrNotMonotone: the family's features decreased as k grew, so a
	// bisection would not find the largest size.
	ErrNotMonotone = errors.New("models: family not monotone")
	// ErrBadLimit: a limit or headroom that is NaN, infinite or negative.
	ErrBadLimit = errors.New("models: bad limit")
)

// DefaultMaxK bounds Threshold's search: sizes above 2^24 (16.7 M servers)
// are reported as unbounded.
const DefaultMaxK = 1 << 24

// Threshold returns the largest size k ≥ 0 of the family whose predicted
// value (Point, or Upper when useUpper, the safe choice) stays within limit:
// value(k) ≤ limit < value(k+1). It searches k ∈ [0, DefaultMaxK]; see
// ThresholdWithin.
func Threshold(m *Model, limit float64, family func(k int) Shape, useUpper bool) (int, error) {
	return ThresholdWithin(m, limit, family, useUpper, DefaultMaxK)
}

// ThresholdWithin is Threshold with an explicit bound maxK ≥ 1.
//
// Search: value(0) > limit fails with ErrLimitTooLow (k = -1). Otherwise
// k = 1, 2, 4, … doubles until value(k) > limit (exponential search), then
// bisection on (k/2, k] keeps value(lo) ≤ limit < value(hi) until
// hi = lo+1: O(log k) predictions. If value(maxK) ≤ limit it returns maxK
// and ErrNoThreshold ("unbounded within maxK").
//
// The answer is the largest such k when value is non-decreasing in k. Point
// predictions are, because coefficients are ≥ 0, as long as no feature of
// the family decreases with k; the search checks that on every shape it
// evaluates (ErrNotMonotone otherwise). The upper bound adds an interval
// half-width that can shrink near the calibrated shapes, so with useUpper a
// non-monotone stretch is possible but small; the result then still
// satisfies value(k) ≤ limit < value(k+1).
func ThresholdWithin(m *Model, limit float64, family func(k int) Shape, useUpper bool, maxK int) (int, error) {
	if math.IsNaN(limit) || math.IsInf(limit, 0) || limit < 0 {
		return -1, fmt.Errorf("%w: %v; want a finite value ≥ 0", ErrBadLimit, limit)
	}
	if maxK < 1 {
		return -1, fmt.Errorf("%w: maxK = %d; want ≥ 1", ErrBadLimit, maxK)
	}
	// Shapes seen so far, by k, to check monotonicity against neighbours.
	type point struct {
		k  int
		sh Shape
	}
	var seen []point
	var monoErr error
	value := func(k int) float64 {
		sh := family(k)
		for _, p := range seen {
			if (p.k < k && !p.sh.atMost(sh)) || (p.k > k && !sh.atMost(p.sh)) {
				monoErr = fmt.Errorf("%w: shape at k=%d %+v vs k=%d %+v", ErrNotMonotone, p.k, p.sh, k, sh)
			}
		}
		seen = append(seen, point{k, sh})
		pr := m.Predict(sh)
		if useUpper {
			return pr.Upper
		}
		return pr.Point
	}
	if v := value(0); v > limit {
		return -1, fmt.Errorf("%w: size 0 is predicted at %.4g > limit %.4g; raise the limit to at least %.4g",
			ErrLimitTooLow, v, limit, v)
	}
	lo, hi := 0, 1
	for {
		if hi >= maxK {
			hi = maxK
			if value(hi) <= limit {
				if monoErr != nil {
					return -1, monoErr
				}
				return maxK, fmt.Errorf("%w: unbounded within %d (prediction at k=%d is still within %.4g)",
					ErrNoThreshold, maxK, maxK, limit)
			}
			break
		}
		if value(hi) > limit {
			break
		}
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if value(mid) <= limit {
			lo = mid
		} else {
			hi = mid
		}
	}
	if monoErr != nil {
		return -1, monoErr
	}
	return lo, nil
}

// RequiredLimit returns the memory limit that covers the shape with the
// given headroom: Upper·(1 + headroom), Upper the prediction interval's
// upper bound. It is the inverse of Threshold with useUpper: the shape's
// upper bound stays within the returned limit. headroom is a fraction (0.2 = 20%) ≥ 0.
func RequiredLimit(m *Model, s Shape, headroom float64) (float64, error) {
	if math.IsNaN(headroom) || math.IsInf(headroom, 0) || headroom < 0 {
		return 0, fmt.Errorf("%w: headroom %v; want a fraction ≥ 0 such as 0.2", ErrBadLimit, headroom)
	}
	return m.Predict(s).Upper * (1 + headroom), nil
}
