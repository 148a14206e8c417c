package reports

import (
	"math"
	"strings"
	"testing"
)

// fixtureWave is a login-wave analysis as capreport builds it: 80 ms of hub
// CPU per arrival, saturation at 600 arrivals/min, latencies rising on a
// knee, memory growing per attendee.
func fixtureWave() *LoginWave {
	const mib = 1 << 20
	w := &LoginWave{
		PlannedPeakRate: 450, PlannedSource: "the scenario's wave",
		Saturation: Interval{600, 540, 660}, CPUTarget: 0.95, CPURate: Interval{600, 540, 660},
		LoginTarget: 2000, LatencyRate: 690, Binding: "CPU",
		PeakRunRate: 300, PeakRunCores: 0.48,
		BaseCores: Interval{0.03, 0.02, 0.04},
		Ops: []OpCost{
			{"login", Interval{0.04, 0.03, 0.05}, 1},
			{"spawn (progress, route)", Interval{0.03, 0.02, 0.045}, 1},
			{"oauth", Interval{0.01, 0, 0.02}, 1},
		},
		ArrivalCost: Interval{0.08, 0.072, 0.088}, ServersPerRate: 45,
		R2: 0.93, RMSE: 0.05, Windows: 96, WindowSeconds: 5, Downweighted: 3,
		LoginKnee:  &Knee{Floor: 40, Scale: 60, Points: 30},
		SpawnKnee:  &Knee{Floor: 300, Scale: 200, Points: 30},
		MemoryBase: Interval{110 * mib, 108 * mib, 112 * mib},
		Memory: []MemoryTerm{
			{"attendees in session", Interval{60 << 10, 40 << 10, 80 << 10}, 700},
			{"running servers", Interval{20 << 10, 0, 40 << 10}, 770},
			{"users", Interval{90 << 10, 70 << 10, 110 << 10}, 700},
		},
		MemoryR2: 0.98, MemoryRMSE: 1.5 * mib, MemorySamples: 60,
		PeakMemory: Interval{220 * mib, 205 * mib, 236 * mib}, MeasuredPeakRSS: 160 * mib,
		LimitBytes: 3 << 30,
	}
	for r := 30.0; r <= 300; r += 30 {
		rho := 0.03 + r/60*0.08
		w.Points = append(w.Points, WavePoint{RatePerMin: r, Cores: rho, P95Login: 40 + 60/(1-rho), P95Spawn: 300 + 200/(1-rho), Logins: int(r / 4)})
	}
	for r := 0.0; r <= 750; r += 50 {
		rho := 0.03 + r/60*0.08
		c := WaveCurvePoint{RatePerMin: r, Cores: rho, P95Login: math.Inf(1), P95Spawn: math.Inf(1)}
		if rho < 1 {
			c.P95Login, c.P95Spawn = 40+60/(1-rho), 300+200/(1-rho)
		}
		w.Curve = append(w.Curve, c)
	}
	return w
}

func TestAssessWave(t *testing.T) {
	cases := []struct {
		name               string
		planned            float64
		mem                float64
		wantFail, wantWarn string
	}{
		// Well under the interval's lower bound: nothing to say.
		{"fits", 400, 200, "", ""},
		// Inside the interval: WARN.
		{"inside interval", 560, 200, "", "inside the saturation interval"},
		// At or past the predicted rate: FAIL.
		{"past saturation", 610, 200, "reaches the login-wave saturation", ""},
		// The day's memory past the limit: FAIL.
		{"memory", 400, 4000, "exceeds the limit", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := fixtureWave()
			w.PlannedPeakRate = c.planned
			w.PeakMemory = Interval{c.mem * (1 << 20), c.mem * (1 << 20), c.mem * (1 << 20)}
			fails, warns := assessWave(w)
			check := func(kind string, got []string, want string) {
				if want == "" && len(got) > 0 || want != "" && (len(got) != 1 || !strings.Contains(got[0], want)) {
					t.Errorf("%s = %q, want one containing %q", kind, got, want)
				}
			}
			check("fails", fails, c.wantFail)
			check("warns", warns, c.wantWarn)
		})
	}
}

func TestLimitsOrderAndBindingSentence(t *testing.T) {
	in := Input{Wave: fixtureWave(), Verdict: &Verdict{MemoryLimitBytes: 3 << 30, PredictedPeakBytes: 1 << 30}}
	ls := Limits(in)
	if len(ls) != 3 {
		t.Fatalf("limits %+v, want CPU, restart memory and day memory", ls)
	}
	// 450/600 = 75% of the CPU, 1 GiB of 3 = 33% at restart, 220 MiB of 3 GiB = 7% in the day.
	want := []string{"CPU during the login wave", "memory at restart", "memory during the day"}
	for i, l := range ls {
		if l.Name != want[i] {
			t.Errorf("limit %d is %q, want %q", i, l.Name, want[i])
		}
	}
	s := bindingSentence(in)
	if !strings.HasPrefix(s, "CPU during the login wave binds first (75.0% used: 450 of 600 arrivals/min)") {
		t.Errorf("binding sentence %q", s)
	}
	a := Assess(Input{Results: readFixture(t), Wave: fixtureWave(), Verdict: in.Verdict})
	if !strings.Contains(strings.Join(a.Reasons, "\n"), "binds first") {
		t.Errorf("the assessment does not say which limit binds first: %q", a.Reasons)
	}
	if h := fixtureWave().Headroom(); math.Abs(h-0.25) > 1e-12 {
		t.Errorf("headroom %v, want 0.25", h)
	}
}
