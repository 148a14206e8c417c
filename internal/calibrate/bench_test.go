package calibrate

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/models"
)

// BenchmarkCalibrate reports a calibration's wall time against its budget
// (metric wall/budget, target ≤ 1): one 60 s calibration of 5.5.1 per
// iteration; run with -benchtime=1x. HUBCAP_BENCH_BUDGET and
// HUBCAP_BENCH_RELEASE change the budget and the release.
func BenchmarkCalibrate(b *testing.B) {
	release, budget := "5.5.1", time.Minute
	if r := os.Getenv("HUBCAP_BENCH_RELEASE"); r != "" {
		release = r
	}
	if s := os.Getenv("HUBCAP_BENCH_BUDGET"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		budget = d
	}
	hubtest.Require(b, release)
	worst := 0.0
	for b.Loop() {
		t0 := time.Now()
		cal, err := Run(context.Background(), Options{Release: release, Budget: budget})
		if err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(t0).Seconds()/budget.Seconds())
		b.ReportMetric(float64(len(cal.Samples)), "samples")
	}
	b.ReportMetric(worst, "wall/budget")
}

// BenchmarkPredictShipped: a start-up peak prediction with its interval,
// and the one-user threshold under 2 GiB (point and upper bound), with
// the shipped 5.3.0 calibration (target: a prediction under 10 ms).
func BenchmarkPredictShipped(b *testing.B) {
	cal, err := models.LoadFile("../../models/calibrations/jupyterhub-5.3.0.json")
	if err != nil {
		b.Fatal(err)
	}
	m, err := cal.PeakModel()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("predict", func(b *testing.B) {
		s := Spread(IncidentRunning, IncidentRows, 1)
		var sink models.Prediction
		for b.Loop() {
			sink = m.Predict(s)
		}
		_ = sink
	})
	b.Run("threshold", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := Predict(cal, Family{Users: 1}, 2<<30); err != nil {
				b.Fatal(err)
			}
		}
	})
}
