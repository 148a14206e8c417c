package check

import (
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/models"
)

func TestDecide(t *testing.T) {
	const gi = 1 << 30
	pred := func(point, lower, upper float64) models.Prediction {
		return models.Prediction{Point: point * gi, Lower: lower * gi, Upper: upper * gi}
	}
	cases := []struct {
		name    string
		c       Criteria
		want    Verdict
		reasons []string // substrings, in order
	}{
		{"comfortable", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 3 * gi, Headroom: 0.2, Match: MatchExact},
			Pass, nil},
		// 1.1 × 1.2 = 1.32 ≤ 1.32: exactly at the headroom still passes.
		{"at headroom", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 1.32 * gi, Headroom: 0.2, Match: MatchExact},
			Pass, nil},
		// The upper bound with headroom reaches past the limit.
		{"within headroom", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 1.3 * gi, Headroom: 0.2, Match: MatchExact},
			Warn, []string{"within 20% headroom"}},
		// The upper bound itself is over, the point is not.
		{"upper over", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 1.05 * gi, Headroom: 0.2, Match: MatchExact},
			Warn, []string{"over the memory limit"}},
		// The incident: the point estimate is over the limit.
		{"point over", Criteria{Peak: pred(6.2, 5.8, 6.6), Limit: 3 * gi, Headroom: 0.2, Match: MatchExact},
			Fail, []string{"OOM-killed"}},
		// Zero headroom: only the upper bound counts.
		{"no headroom", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 1.1 * gi, Headroom: 0, Match: MatchExact},
			Pass, nil},
		{"no limit", Criteria{Peak: pred(1, 0.9, 1.1), Headroom: 0.2, Match: MatchExact},
			Warn, []string{"no memory limit"}},
		{"same-query calibration", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 3 * gi, Headroom: 0.2, Match: MatchSameQuery, CalibrationRelease: "5.3.0", Release: "5.2.1"},
			Warn, []string{"calibration mismatch: the calibration measured JupyterHub 5.3.0, not 5.2.1"}},
		{"other-query calibration", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 3 * gi, Headroom: 0.2, Match: MatchOtherQuery, CalibrationRelease: "5.5.1", Release: "5.3.0"},
			Warn, []string{"not valid for this hub"}},
		{"assumed release", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 3 * gi, Headroom: 0.2, Match: MatchExact, Release: "5.3.0", Assumed: true},
			Warn, []string{"pass --release"}},
		// The incident's other failure: 96 s in init_spawners, with memory to spare.
		{"start-up over budget", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 8 * gi, Headroom: 0.2, Match: MatchExact,
			Seconds: &models.Prediction{Point: 96, Lower: 80, Upper: 110}, StartupBudget: 60},
			Fail, []string{"probe would restart the hub"}},
		{"start-up upper bound over budget", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 8 * gi, Headroom: 0.2, Match: MatchExact,
			Seconds: &models.Prediction{Point: 50, Lower: 40, Upper: 70}, StartupBudget: 60},
			Warn, []string{"start-up budget"}},
		{"start-up unchecked without a budget", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 8 * gi, Headroom: 0.2, Match: MatchExact,
			Seconds: &models.Prediction{Point: 96, Lower: 80, Upper: 110}},
			Pass, nil},
		// Far beyond the calibration: no PASS on an extrapolation.
		{"extrapolated", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 8 * gi, Headroom: 0.2, Match: MatchExact, Extrapolation: 2},
			Warn, []string{"hubcap replay"}},
		{"slightly beyond the calibration", Criteria{Peak: pred(1, 0.9, 1.1), Limit: 8 * gi, Headroom: 0.2, Match: MatchExact, Extrapolation: 1.4},
			Pass, nil},
		// The point is over, the interval reaches below: no claim either way.
		{"point over, interval straddles", Criteria{Peak: pred(2.07, 1.93, 2.21), Limit: 2 * gi, Headroom: 0.2, Match: MatchExact},
			Warn, []string{"likely OOM-killed"}},
		// FAIL stays FAIL whatever else warns, and its reason comes first.
		{"fail and warnings", Criteria{Peak: pred(4, 3.5, 4.5), Limit: 3 * gi, Headroom: 0.2, Match: MatchSameQuery, CalibrationRelease: "5.3.0", Release: "5.2.1", Assumed: true},
			Fail, []string{"OOM-killed", "calibration mismatch", "pass --release"}},
	}
	for _, c := range cases {
		got, reasons := Decide(c.c)
		if got != c.want {
			t.Errorf("%s: verdict %s, want %s (reasons %q)", c.name, got, c.want, reasons)
			continue
		}
		if len(reasons) != len(c.reasons) {
			t.Errorf("%s: reasons %q, want %d", c.name, reasons, len(c.reasons))
			continue
		}
		for i, want := range c.reasons {
			if !strings.Contains(reasons[i], want) {
				t.Errorf("%s: reason %d %q lacks %q", c.name, i, reasons[i], want)
			}
		}
	}
}

func TestQuantity(t *testing.T) {
	cases := []struct {
		bytes float64
		want  string
	}{
		{3 << 30, "3Gi"},            // whole GiB
		{3<<30 + 1, "3073Mi"},       // rounds up, never down
		{2.4 * (1 << 30), "2458Mi"}, // 2457.6 → 2458
		{1, "1Mi"},
		{0, "0"},
	}
	for _, c := range cases {
		if got := Quantity(c.bytes); got != c.want {
			t.Errorf("Quantity(%v) = %s, want %s", c.bytes, got, c.want)
		}
	}
}
