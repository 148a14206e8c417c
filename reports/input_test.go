package reports

import (
	"math"
	"strings"
	"testing"
)

func TestAssess(t *testing.T) {
	const gib = 1 << 30
	completed := &Results{Status: StatusCompleted}
	good := func() *Verdict {
		return &Verdict{
			Thresholds:         []Threshold{{Metric: "m", Expr: "p(95)<1000", OK: true}},
			PlannedSize:        90,
			PredictedThreshold: 121,
			MemoryLimitBytes:   3 * gib,
			PredictedPeakBytes: 1.7 * gib,
		}
	}
	for _, tc := range []struct {
		name     string
		in       Input
		level    Level
		reason   string // a substring of one reason
		cutShort bool
	}{
		{"everything fine", Input{Results: completed, Verdict: good()}, Pass, "all thresholds held", false},
		{"a failed threshold fails", Input{Results: completed, Verdict: func() *Verdict {
			v := good()
			v.Thresholds = append(v.Thresholds, Threshold{Metric: "checks", Expr: "rate>0.99", OK: false})
			return v
		}()}, Fail, "threshold checks rate>0.99 failed", false},
		{"plan at the predicted threshold fails", Input{Results: completed, Verdict: func() *Verdict {
			v := good()
			v.PlannedSize = 121
			return v
		}()}, Fail, "reaches the predicted OOM threshold", false},
		{"predicted peak over the limit fails", Input{Results: completed, Verdict: func() *Verdict {
			v := good()
			v.PredictedPeakBytes = 3.2 * gib
			return v
		}()}, Fail, "exceeds the memory limit", false},
		// 2.6 of 3 GiB leaves 13 %, under the default 20 %.
		{"thin headroom warns", Input{Results: completed, Verdict: func() *Verdict {
			v := good()
			v.PredictedPeakBytes = 2.6 * gib
			return v
		}()}, Warn, "headroom", false},
		{"a stricter headroom wish warns earlier", Input{Results: completed, Verdict: func() *Verdict {
			v := good()
			v.MinHeadroom = 0.5 // 1.7 of 3 GiB leaves 43 %
			return v
		}()}, Warn, "below the 50% wanted", false},
		{"no status marker warns cut short", Input{Results: &Results{}, Verdict: good()}, Warn, "run cut short", true},
		{"a truncated tail warns cut short", Input{Results: &Results{Status: StatusCompleted, TruncatedTail: true}, Verdict: good()}, Warn, "incomplete", true},
		{"interrupted warns", Input{Results: &Results{Status: StatusInterrupted}, Verdict: good()}, Warn, "interrupted", true},
		{"the hub dying fails", Input{Results: &Results{Status: StatusHubDied}, Verdict: good()}, Fail, "hub died", true},
		{"an abort fails", Input{Results: &Results{Status: StatusAborted}, Verdict: good()}, Fail, "aborted", true},
		{"nothing to judge capacity with warns", Input{Results: completed, Verdict: &Verdict{}}, Warn, "no capacity verdict", false},
		{"a model that never reaches the limit still judges by headroom", Input{Results: completed, Verdict: func() *Verdict {
			v := good()
			v.PredictedThreshold = math.Inf(1)
			return v
		}()}, Pass, "all thresholds held", false},
		{"no results warns", Input{Verdict: good()}, Warn, "no run results", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Assess(tc.in)
			if a.Level != tc.level {
				t.Errorf("Level = %v, want %v (reasons %q)", a.Level, tc.level, a.Reasons)
			}
			if !strings.Contains(strings.Join(a.Reasons, "\n"), tc.reason) {
				t.Errorf("reasons %q lack %q", a.Reasons, tc.reason)
			}
			if a.CutShort != tc.cutShort {
				t.Errorf("CutShort = %v, want %v", a.CutShort, tc.cutShort)
			}
		})
	}
}

// Failures are listed before warnings so the banner leads with the worst.
func TestAssessOrdersFailuresFirst(t *testing.T) {
	a := Assess(Input{Results: &Results{}, Verdict: &Verdict{Thresholds: []Threshold{{Metric: "m", Expr: "x", OK: false}}}})
	if a.Level != Fail || !strings.HasPrefix(a.Reasons[0], "threshold m x failed") {
		t.Errorf("Assess = %+v", a)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtBytes(2.39 * (1 << 30)), "2.39 GiB"},
		{fmtBytes(271 * (1 << 20)), "271 MiB"},
		{fmtBytes(512), "512 B"},
		{fmtBytes(math.NaN()), "–"},
		{fmtMs(850), "850 ms"},
		{fmtMs(12345), "12.3 s"},
		{fmtMs(600000), "10.0 min"},
		{fmtCount(1746), "1,746"},
		{fmtCount(1000000), "1,000,000"},
		{fmtCount(-1234), "−1,234"},
		{fmtCount(2.5), "2.50"},
		{fmtPct(0.4236), "42.4%"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
