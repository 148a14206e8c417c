package models_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/hubcap-dev/hubcap/models"
)

// Fit the hub's CPU per operation from a run's windows, then ask at which
// arrival rate the hub reaches 95% of its one core. The windows here are
// synthetic — 0.04 cores idle, 60 ms per login and 40 ms per spawn, 2%
// noise — where hubcap reads them from a run's telemetry (capreport.BuildWave).
func ExampleFitThroughput() {
	rnd := rand.New(rand.NewPCG(1, 2))
	var ws []models.ThroughputWindow
	for i := range 60 {
		arrivals := float64(2 + i/4) // a slow ramp, per 5-s window
		spawns := arrivals - float64(i%2)
		cpu := (0.04*5 + 0.060*arrivals + 0.040*spawns) * (1 + 0.02*rnd.NormFloat64())
		ws = append(ws, models.ThroughputWindow{Seconds: 5, CPU: cpu, Counts: []float64{arrivals, spawns}})
	}
	fit, err := models.FitThroughput([]string{"login", "spawn"}, ws, models.ThroughputOptions{Rand: rand.NewPCG(3, 4)})
	if err != nil {
		panic(err)
	}
	sat, err := fit.SaturationRate([]float64{1, 1}, nil, 0.95)
	if err != nil {
		panic(err)
	}
	fmt.Printf("one arrival costs %.0f ms of hub CPU\n", 1000*fit.ArrivalCost([]float64{1, 1}).Value)
	fmt.Printf("saturation at %.0f arrivals/min\n", 60*sat.Value)
	// Output:
	// one arrival costs 99 ms of hub CPU
	// saturation at 548 arrivals/min
}
