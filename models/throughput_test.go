package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// waveWindows simulates a login ramp: arrivals per 5-s window rising
// linearly, each arrival bringing one login and one spawn in its window
// and one stop three windows later; the hub's CPU is base·5 s plus the
// true costs, with Gaussian noise of sd noise CPU-s and, in every 12th
// window, a housekeeping spike of spike CPU-s.
func waveWindows(rnd *rand.Rand, n int, base, login, spawn, stop, noise, spike float64) []ThroughputWindow {
	ws := make([]ThroughputWindow, n)
	arr := make([]float64, n)
	for i := range n {
		arr[i] = math.Round(float64(i)/float64(n)*20 + 2*rnd.Float64())
	}
	for i := range n {
		stops := 0.0
		if i >= 3 {
			stops = arr[i-3]
		}
		cpu := base*5 + login*arr[i] + spawn*arr[i] + stop*stops + noise*rnd.NormFloat64()
		if i%12 == 11 {
			cpu += spike
		}
		ws[i] = ThroughputWindow{Seconds: 5, CPU: math.Max(0, cpu), Counts: []float64{arr[i], arr[i], stops}}
	}
	return ws
}

func TestFitThroughputRecoversArrivalCost(t *testing.T) {
	ops := []string{"login", "spawn", "stop"}
	cases := []struct {
		name         string
		noise, spike float64
	}{
		// Exact data: the costs of the mix come back exactly.
		{"exact", 0, 0},
		// Measurement noise: the arrival's cost is within 10%, inside its interval.
		{"noise", 0.05, 0},
		// Periodic housekeeping spikes: Huber keeps the cost within 10%.
		{"spikes", 0.02, 1.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(7, 11))
			ws := waveWindows(rnd, 96, 0.05, 0.030, 0.045, 0.010, c.noise, c.spike)
			fit, err := FitThroughput(ops, ws, ThroughputOptions{Rand: rand.NewPCG(1, 2), Bootstrap: 100})
			if err != nil {
				t.Fatal(err)
			}
			mix := []float64{1, 1, 1}
			want := 0.030 + 0.045 + 0.010
			got := fit.ArrivalCost(mix)
			if math.Abs(got.Value-want) > 0.1*want+1e-9 {
				t.Errorf("arrival cost %.4g, want %.4g ±10%%", got.Value, want)
			}
			if c.noise > 0 && !(got.Lower <= want && want <= got.Upper) {
				t.Errorf("interval [%.4g, %.4g] misses the true cost %.4g", got.Lower, got.Upper, want)
			}
			if math.Abs(fit.Base-0.05) > 0.02 {
				t.Errorf("base %.4g cores, want 0.05 ± 0.02", fit.Base)
			}
			// Saturation at one core: (1 − base)/cost per arrival.
			sat, err := fit.SaturationRate(mix, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			wantSat := (1 - 0.05) / want
			if math.Abs(sat.Value/wantSat-1) > 0.1 {
				t.Errorf("saturation %.4g arrivals/s, want %.4g ±10%%", sat.Value, wantSat)
			}
			if c.spike > 0 && fit.Downweighted == 0 {
				t.Errorf("no window down-weighted though every 12th has a spike")
			}
		})
	}
}

func TestSaturationRateWithBackground(t *testing.T) {
	// A hub at 0.2 cores idle, 0.1 CPU-s per arrival, and 1 ms per
	// server-second with 300 servers running: (1 − 0.2 − 0.3)/0.1 = 5/s.
	th := &Throughput{Ops: []string{"arrival", "server-seconds"}, Base: 0.2, Cost: []float64{0.1, 0.001}, Level: 0.9}
	got, err := th.SaturationRate([]float64{1, 0}, []float64{0, 300}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Value-5) > 1e-9 {
		t.Errorf("saturation %v, want 5", got.Value)
	}
	// Servers that grow with the rate (Little's law, 100 s each) count
	// per arrival: (1 − 0.2)/(0.1 + 0.1) = 4/s.
	if got, _ := th.SaturationRate([]float64{1, 100}, nil, 1); math.Abs(got.Value-4) > 1e-9 {
		t.Errorf("saturation with servers per arrival %v, want 4", got.Value)
	}
	// Background alone past the target: no saturation rate.
	if _, err := th.SaturationRate([]float64{1, 0}, []float64{0, 900}, 1); !errors.Is(err, ErrNoSaturation) {
		t.Errorf("err %v, want ErrNoSaturation", err)
	}
	if _, err := th.SaturationRate([]float64{1}, nil, 1); !errors.Is(err, ErrBadOptions) {
		t.Errorf("short mix: err %v, want ErrBadOptions", err)
	}
}

func TestFitThroughputRejectsBadInput(t *testing.T) {
	ws := []ThroughputWindow{{Seconds: 5, CPU: 1, Counts: []float64{1}}}
	if _, err := FitThroughput([]string{"a"}, ws, ThroughputOptions{}); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("one window: err %v, want ErrTooFewSamples", err)
	}
	bad := make([]ThroughputWindow, 5)
	for i := range bad {
		bad[i] = ThroughputWindow{Seconds: 5, CPU: 1, Counts: []float64{float64(i)}}
	}
	bad[2].CPU = math.NaN()
	if _, err := FitThroughput([]string{"a"}, bad, ThroughputOptions{}); !errors.Is(err, ErrBadTarget) {
		t.Errorf("NaN CPU: err %v, want ErrBadTarget", err)
	}
}

func TestLatencyKnee(t *testing.T) {
	// p95 = 50 + 100/(1−ρ) ms exactly: both parameters come back, and the
	// utilisation where p95 reaches 2 s is 1 − 100/1950.
	var rho, q []float64
	for r := 0.05; r < 0.9; r += 0.05 {
		rho, q = append(rho, r), append(q, 50+100/(1-r))
	}
	k, err := FitLatencyKnee(rho, q)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(k.Floor-50) > 1e-6 || math.Abs(k.Scale-100) > 1e-6 {
		t.Errorf("knee %.6g + %.6g/(1−ρ), want 50 + 100/(1−ρ)", k.Floor, k.Scale)
	}
	if got, want := k.Utilisation(2000), 1-100.0/1950; math.Abs(got-want) > 1e-9 {
		t.Errorf("utilisation at 2 s %v, want %v", got, want)
	}
	if !math.IsInf(k.At(1), 1) {
		t.Errorf("At(1) = %v, want +Inf", k.At(1))
	}
	if k.Busy != 1 {
		t.Errorf("busy %v, want 1 for a hub that only computes", k.Busy)
	}
	// A loop held 3 s per CPU-second (waits on commits): q = 50 + 100/(1 − 3ρ)
	// seen up to ρ = 0.25; Busy comes back within its 2% grid step.
	rho, q = nil, nil
	for r := 0.02; r <= 0.25; r += 0.01 {
		rho, q = append(rho, r), append(q, 50+100/(1-3*r))
	}
	k, err = FitLatencyKnee(rho, q)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(k.Busy/3-1) > 0.02 {
		t.Errorf("busy %.4g, want 3 ±2%%", k.Busy)
	}
	if got, want := k.Utilisation(2000), (1-100.0/1950)/3; math.Abs(got/want-1) > 0.03 {
		t.Errorf("CPU utilisation at 2 s %v, want %v ±3%%", got, want)
	}
	if _, err := FitLatencyKnee([]float64{0.1, 0.2}, []float64{1, 2}); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("two windows: err %v, want ErrTooFewSamples", err)
	}
}

func TestHuberNNLSIgnoresOutliers(t *testing.T) {
	// y = 2 + 3x with 10% of the points shifted by +50: plain NNLS is
	// pulled up, Huber recovers the line within 0.2.
	rnd := rand.New(rand.NewPCG(3, 5))
	n := 60
	a := mat.NewDense(n, 2, nil)
	b := make([]float64, n)
	for i := range n {
		x := float64(i)
		a.Set(i, 0, 1)
		a.Set(i, 1, x)
		b[i] = 2 + 3*x + 0.1*rnd.NormFloat64()
		if i%10 == 5 {
			b[i] += 50
		}
	}
	x, w, err := HuberNNLS(a, b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(x[0]-2) > 0.2 || math.Abs(x[1]-3) > 0.02 {
		t.Errorf("Huber fit %.4g + %.4g·x, want 2 + 3·x", x[0], x[1])
	}
	// Exactly the shifted points lose most of their weight (a 50σ shift against at most a few σ).
	for i, wi := range w {
		if out := i%10 == 5; out != (wi < 0.2) {
			t.Errorf("weight of point %d (outlier %v) is %.3g", i, out, wi)
		}
	}
}

func TestSaturationRateKneeCarriesTheKneeUncertainty(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	ws := waveWindows(rnd, 96, 0.05, 0.030, 0.045, 0.010, 0.05, 0)
	fit, err := FitThroughput([]string{"login", "spawn", "stop"}, ws, ThroughputOptions{Rand: rand.NewPCG(1, 2), Bootstrap: 100})
	if err != nil {
		t.Fatal(err)
	}
	mix := []float64{1, 1, 1}
	// A fixed target: the same as SaturationRate.
	a, _ := fit.SaturationRate(mix, nil, 0.8)
	b, err := fit.SaturationRateKnee(mix, nil, func(int) float64 { return 0.8 })
	if err != nil || a != b {
		t.Errorf("fixed target: %+v, %v; want %+v", b, err, a)
	}
	// A target that varies between draws widens the interval around the
	// same point estimate.
	c, err := fit.SaturationRateKnee(mix, nil, func(i int) float64 {
		if i < 0 {
			return 0.8
		}
		return 0.8 + 0.1*float64(i%3-1)
	})
	if err != nil || c.Value != a.Value || !(c.Upper-c.Lower > a.Upper-a.Lower) {
		t.Errorf("varying target: %+v, %v; want the point %v and a wider interval than %+v", c, err, a.Value, a)
	}
	// The knee's bootstrap refits come back near the knee.
	var rho, q []float64
	for i := range 30 {
		r := 0.02 + 0.01*float64(i)
		rho, q = append(rho, r), append(q, (50+100/(1-2*r))*(1+0.05*rnd.NormFloat64()))
	}
	boot := BootstrapLatencyKnee(rho, q, 40, rand.NewPCG(3, 3))
	if len(boot) < 30 {
		t.Fatalf("%d of 40 bootstrap knees fitted", len(boot))
	}
	var us []float64
	for _, k := range boot {
		us = append(us, k.Utilisation(2000))
	}
	lo, hi := percentileInterval(us, 0.9)
	if want := (1 - 100.0/1950) / 2; !(lo <= want*1.05 && want*0.95 <= hi) {
		t.Errorf("bootstrap utilisation at 2 s in [%.3g, %.3g], want near %.3g", lo, hi, want)
	}
}
