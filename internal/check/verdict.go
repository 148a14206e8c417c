package check

import (
	"fmt"
	"math"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/models"
)

// Verdict is the sign-off: PASS, WARN or FAIL.
type Verdict string

// Verdicts, from good to bad.
const (
	// Pass: the predicted start-up peak's upper bound plus headroom fits
	// under the memory limit, with an exact calibration and a known release.
	Pass Verdict = "PASS"
	// Warn: the upper bound plus headroom reaches the limit, or no limit was
	// given, or the calibration is of another release, or the release was
	// assumed.
	Warn Verdict = "WARN"
	// Fail: the whole interval of the predicted start-up peak (its lower
	// bound) is over the limit, or the predicted start-up time is over
	// the start-up budget.
	Fail Verdict = "FAIL"
)

func (v Verdict) worse(o Verdict) Verdict {
	rank := map[Verdict]int{Pass: 0, Warn: 1, Fail: 2}
	if rank[o] > rank[v] {
		return o
	}
	return v
}

// Criteria is everything the verdict depends on.
type Criteria struct {
	// Peak is the predicted start-up peak RSS, bytes.
	Peak models.Prediction
	// Limit is the hub's memory limit in bytes; 0 means none was given.
	Limit float64
	// Headroom is the fraction of safety margin required above the upper
	// bound (0.2 = the upper bound × 1.2 must fit under Limit).
	Headroom float64
	// Match is how well the calibration fits the release.
	Match Match
	// CalibrationRelease is the release the calibration measured.
	CalibrationRelease string
	// Release is the release predicted for; Assumed is true when it is the
	// worst case assumed for a database that cannot tell.
	Release string
	Assumed bool
	// Seconds is the predicted time to healthy (nil: not calibrated) and
	// StartupBudget the time the deployment allows, seconds (0: unchecked).
	Seconds       *models.Prediction
	StartupBudget float64
	// Extrapolation is how far the shape lies beyond the calibrated range
	// (a multiple of the largest calibrated value of the model's terms).
	Extrapolation float64
}

// Decide returns the verdict and its reasons, worst first. It is a pure
// function:
//
//	FAIL  Limit > 0 and Peak.Lower > Limit (the whole interval is over)
//	WARN  Limit > 0 and Peak.Point > Limit ≥ Peak.Lower (likely over)
//	WARN  Limit > 0 and Peak.Upper·(1+Headroom) > Limit (within headroom of the limit, or over it)
//	WARN  Limit = 0 (nothing to check the peak against)
//	WARN  the calibration is not of this release (Match ≠ exact)
//	WARN  the release is an assumed worst case
//	FAIL  StartupBudget > 0 and Seconds.Point > StartupBudget (the probe restarts the hub before it is up)
//	WARN  StartupBudget > 0 and Seconds.Upper > StartupBudget
//	WARN  Extrapolation > ReplayBeyond (measure with hubcap replay instead)
//	PASS  otherwise
func Decide(c Criteria) (Verdict, []string) {
	v := Pass
	var reasons []string
	add := func(w Verdict, format string, args ...any) {
		v = v.worse(w)
		reasons = append(reasons, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Limit <= 0:
		add(Warn, "no memory limit given (--memory-limit): the predicted peak %s (upper bound %s) is not checked against one",
			fmtBytes(c.Peak.Point), fmtBytes(c.Peak.Upper))
	case c.Peak.Lower > c.Limit:
		add(Fail, "the predicted start-up peak %s (%s – %s) is over the memory limit %s: the hub would be OOM-killed on restart",
			fmtBytes(c.Peak.Point), fmtBytes(c.Peak.Lower), fmtBytes(c.Peak.Upper), fmtBytes(c.Limit))
	case c.Peak.Point > c.Limit:
		add(Warn, "the predicted start-up peak %s is over the memory limit %s, but its interval (%s – %s) reaches below it: likely OOM-killed on restart; measure with hubcap replay",
			fmtBytes(c.Peak.Point), fmtBytes(c.Limit), fmtBytes(c.Peak.Lower), fmtBytes(c.Peak.Upper))
	case c.Peak.Upper > c.Limit:
		add(Warn, "the upper bound of the predicted peak, %s, is over the memory limit %s (point estimate %s)",
			fmtBytes(c.Peak.Upper), fmtBytes(c.Limit), fmtBytes(c.Peak.Point))
	case c.Peak.Upper*(1+c.Headroom) > c.Limit:
		add(Warn, "the upper bound of the predicted peak, %s, is within %s headroom of the memory limit %s",
			fmtBytes(c.Peak.Upper), fmtPct(c.Headroom), fmtBytes(c.Limit))
	}
	switch c.Match {
	case MatchExact:
	case MatchSameQuery:
		add(Warn, "calibration mismatch: the calibration measured JupyterHub %s, not %s (same start-up query, other release)",
			c.CalibrationRelease, c.Release)
	default:
		add(Warn, "calibration mismatch: the calibration measured JupyterHub %s, whose start-up query differs from %s's: the prediction is not valid for this hub; calibrate %s (make calibrate)",
			c.CalibrationRelease, c.Release, c.Release)
	}
	if c.Assumed {
		add(Warn, "the database cannot tell which 5.x release wrote it, so the worst case (%s, quadratic start-up) was assumed; pass --release to check the hub's actual release",
			c.Release)
	}
	if c.Seconds != nil && c.StartupBudget > 0 {
		switch {
		case c.Seconds.Point > c.StartupBudget:
			add(Fail, "the predicted start-up takes %.0f s (%.0f–%.0f s), over the %.0f s the deployment allows (--startup-budget): its probe would restart the hub before it is up, again and again, without any OOM",
				c.Seconds.Point, c.Seconds.Lower, c.Seconds.Upper, c.StartupBudget)
		case c.Seconds.Upper > c.StartupBudget:
			add(Warn, "the upper bound of the predicted start-up time, %.0f s, is over the %.0f s start-up budget (point estimate %.0f s)",
				c.Seconds.Upper, c.StartupBudget, c.Seconds.Point)
		}
	}
	if c.Extrapolation > ReplayBeyond {
		add(Warn, "the database is %.1f× beyond the largest calibrated shape on the model's terms: the model is extrapolated; run hubcap replay to measure this database instead",
			c.Extrapolation)
	}
	// The memory reason, if any, comes first.
	return v, reasons
}

// fmtBytes renders bytes for people ("2.39 GiB").
func fmtBytes(b float64) string {
	if math.IsNaN(b) || math.IsInf(b, 0) {
		return "?"
	}
	return bytesize.Format(int64(math.Round(b)))
}

// fmtPct renders a fraction as a percentage ("20%").
func fmtPct(f float64) string {
	return fmt.Sprintf("%.4g%%", f*100)
}

// Quantity renders bytes as a Kubernetes memory quantity rounded up to a
// whole MiB ("2474Mi"), safe to paste into a limit.
func Quantity(b float64) string {
	const mi = 1 << 20
	if b <= 0 || math.IsNaN(b) {
		return "0"
	}
	n := math.Ceil(b / mi)
	if math.Mod(n, 1024) == 0 {
		return fmt.Sprintf("%.0fGi", n/1024)
	}
	return fmt.Sprintf("%.0fMi", n)
}
