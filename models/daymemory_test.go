package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// daySamples simulates a workshop day: attendees arrive (users grow),
// sessions overlap, servers run; RSS = 110 MiB + 60 KiB per attendee in
// session (high-water) + 20 KiB per running server + 90 KiB per user,
// with 0.5 MiB Gaussian noise.
func daySamples(rnd *rand.Rand, n int) []MemorySample {
	var active, running, users []float64
	for i := range n {
		u := float64(i) * 5
		a := math.Min(u, 200) + 20*math.Sin(float64(i)/7)
		active = append(active, math.Max(0, a))
		running = append(running, math.Max(0, 1.1*a))
		users = append(users, u)
	}
	ha, hr, hu := HighWater(active), HighWater(running), HighWater(users)
	ss := make([]MemorySample, n)
	for i := range n {
		rss := 110<<20 + 60<<10*ha[i] + 20<<10*hr[i] + 90<<10*hu[i] + (0.5*(1<<20))*rnd.NormFloat64()
		ss[i] = MemorySample{RSS: rss, Load: []float64{ha[i], hr[i], hu[i]}}
	}
	return ss
}

func TestFitDayMemoryPredictsPeak(t *testing.T) {
	terms := []string{"active", "running", "users"}
	ss := daySamples(rand.New(rand.NewPCG(5, 8)), 80)
	d, err := FitDayMemory(terms, ss, ThroughputOptions{Rand: rand.NewPCG(9, 9), Bootstrap: 100})
	if err != nil {
		t.Fatal(err)
	}
	// At twice the day's load (1.3× concurrency, 2× users), the prediction
	// is within 5% of the truth and its interval holds it.
	load := []float64{300, 330, 800}
	want := 110<<20 + 60<<10*300.0 + 20<<10*330.0 + 90<<10*800.0
	got, err := d.Predict(load)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Value/want-1) > 0.05 {
		t.Errorf("predicted %.4g MiB, want %.4g MiB ±5%%", got.Value/(1<<20), want/(1<<20))
	}
	if !(got.Lower <= got.Value && got.Value <= got.Upper) {
		t.Errorf("interval [%v, %v] does not hold the prediction %v", got.Lower, got.Upper, got.Value)
	}
	if math.Abs(d.Base/(110<<20)-1) > 0.02 {
		t.Errorf("base %.4g MiB, want 110 ±2%%", d.Base/(1<<20))
	}
	if _, err := d.Predict([]float64{1}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("short load: err %v, want ErrBadOptions", err)
	}
}

func TestHighWater(t *testing.T) {
	got := HighWater([]float64{1, 3, 2, math.NaN(), 5, 4})
	want := []float64{1, 3, 3, 3, 5, 5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("HighWater = %v, want %v", got, want)
		}
	}
}

func TestFitDayMemoryRejectsBadInput(t *testing.T) {
	ss := []MemorySample{{RSS: 1, Load: []float64{1}}, {RSS: 2, Load: []float64{2}}}
	if _, err := FitDayMemory([]string{"a"}, ss, ThroughputOptions{}); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("two samples: err %v, want ErrTooFewSamples", err)
	}
	ss = append(ss, MemorySample{RSS: 0, Load: []float64{3}})
	ss = append(ss, MemorySample{RSS: 4, Load: []float64{4}})
	if _, err := FitDayMemory([]string{"a"}, ss, ThroughputOptions{}); !errors.Is(err, ErrBadTarget) {
		t.Errorf("zero RSS: err %v, want ErrBadTarget", err)
	}
}
