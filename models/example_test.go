package models_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hubcap-dev/hubcap/models"
)

// Calibrate on a sweep, then answer capacity questions. The measurements
// here are synthetic — a 5.3-like hub of 60 MiB plus 2.4 KiB per joined row,
// with 3% noise from a fixed seed — where a real calibration restarts a hub
// on each planned shape and reads its VmHWM.
func Example() {
	rnd := rand.New(rand.NewPCG(42, 0))
	plan, err := models.SweepPlan(12, models.SweepOptions{})
	if err != nil {
		panic(err)
	}
	var samples []models.Sample
	for _, seed := range plan {
		sh := seed.Shape()
		samples = append(samples, models.Sample{
			Shape:               sh,
			PeakRSS:             (60<<20 + 2.4*1024*sh.J) * (1 + 0.03*rnd.NormFloat64()),
			SecondsToHealthy:    math.NaN(),
			InitSpawnersSeconds: math.NaN(),
			SteadyRSS:           math.NaN(),
		})
	}
	cal, err := models.FitCalibration(samples)
	if err != nil {
		panic(err)
	}
	m, err := cal.PeakModel()
	if err != nil {
		panic(err)
	}
	fmt.Println("selected terms:", m.Fit().Terms)

	p := m.Predict(models.Even(1, 1000))
	fmt.Printf("1 user × 1000 servers: %.1f GiB, at most %.1f GiB\n", p.Point/(1<<30), p.Upper/(1<<30))

	k, err := models.Threshold(m, 3<<30, models.OneUser, true)
	if err != nil {
		panic(err)
	}
	fmt.Printf("one user's servers under 3 GiB: about %d\n", (k+50)/100*100)

	limit, err := models.RequiredLimit(m, models.Even(10, 300), 0.2)
	if err != nil {
		panic(err)
	}
	fmt.Printf("limit for 10 users × 300 servers with 20%% headroom: %.1f GiB\n", limit/(1<<30))
	// Output:
	// selected terms: [1 J]
	// 1 user × 1000 servers: 2.3 GiB, at most 2.4 GiB
	// one user's servers under 3 GiB: about 1100
	// limit for 10 users × 300 servers with 20% headroom: 2.6 GiB
}
