package capreport

import (
	"fmt"
	"io"
	"math"

	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/reports"
)

// WaveComparison checks the login-wave prediction made from one run (below
// saturation) against another run that reached saturation (login-ramp.js).
type WaveComparison struct {
	// Predicted is the saturation rate predicted from the fit run (per
	// minute, with its interval); Binding what saturates first.
	Predicted reports.Interval
	Binding   string
	// Measured is where the ramp run saturated (nil: it did not).
	Measured *reports.MeasuredSaturation
	// RateError is Predicted/Measured − 1 (NaN without a measurement).
	RateError float64
	// FitPeakCores is the fit run's highest CPU (cores) in a 15-s window.
	FitPeakCores float64
	// PredictedRSS is the fit run's day-memory model at the ramp run's
	// peak load (Load: attendees in session, running servers, users);
	// MeasuredRSS the ramp run's highest RSS; RSSError their ratio − 1.
	PredictedRSS models.Estimate
	Load         []float64
	MeasuredRSS  float64
	RSSError     float64
}

// CompareWave predicts from fit and measures on ramp. in configures the
// fit's analysis (targets, bootstrap).
func CompareWave(fit, ramp *reports.Results, in WaveInputs) (*WaveComparison, error) {
	if in.CPUTarget == 0 {
		in.CPUTarget = DefaultCPUTarget
	}
	if in.LoginTarget == 0 {
		in.LoginTarget = DefaultLoginTarget
	}
	w, err := BuildWave(fit, ScenarioInfoOf(fit), in)
	if err != nil {
		return nil, fmt.Errorf("the fit run: %w", err)
	}
	c := &WaveComparison{Predicted: w.Saturation, Binding: w.Binding, FitPeakCores: w.PeakRunCores,
		RateError: math.NaN(), RSSError: math.NaN()}
	arr := mergeAll(ramp, reports.MetricArrivals)
	c.Measured = measuredSaturation(ramp, arr, in)
	if c.Measured != nil && c.Measured.RatePerMin > 0 {
		c.RateError = c.Predicted.Value/c.Measured.RatePerMin - 1
	}
	ss, _, _, err := memorySamples(fit)
	if err != nil {
		return c, fmt.Errorf("the fit run's memory: %w", err)
	}
	d, err := models.FitDayMemory(memoryTerms, ss, models.ThroughputOptions{Bootstrap: in.Bootstrap})
	if err != nil {
		return c, fmt.Errorf("the fit run's memory: %w", err)
	}
	_, marks, peak, err := memorySamples(ramp)
	if err != nil {
		return c, fmt.Errorf("the ramp run's memory: %w", err)
	}
	c.Load, c.MeasuredRSS = marks, peak
	if c.PredictedRSS, err = d.Predict(marks); err != nil {
		return c, err
	}
	c.RSSError = c.PredictedRSS.Value/peak - 1
	return c, nil
}

// WriteText prints the comparison for people.
func (c *WaveComparison) WriteText(w io.Writer) error {
	f := reports.FormatSig3
	_, err := fmt.Fprintf(w, "saturation predicted from the fit run: %s arrivals/min (%s–%s, %s binds; fit run peaked at %s cores)\n",
		f(c.Predicted.Value), f(c.Predicted.Lower), f(c.Predicted.Upper), c.Binding, f(c.FitPeakCores))
	if err != nil {
		return err
	}
	if c.Measured != nil {
		fmt.Fprintf(w, "saturation measured by the ramp:       %s arrivals/min at %ss (%s", f(c.Measured.RatePerMin), f(c.Measured.AtSeconds), c.Measured.Reason)
		if c.Measured.Reason == "CPU" {
			fmt.Fprintf(w, ", %s cores)\n", f(c.Measured.Cores))
		} else {
			fmt.Fprintf(w, ", p95 login %s)\n", reports.FormatMs(c.Measured.P95))
		}
		fmt.Fprintf(w, "rate error: %+.1f%%\n", 100*c.RateError)
	} else {
		fmt.Fprintln(w, "saturation measured by the ramp:       not reached")
	}
	if len(c.Load) == len(memoryTerms) {
		fmt.Fprintf(w, "RSS predicted at the ramp's peak load (%s %s, %s %s, %s %s): %s (%s–%s)\n",
			f(c.Load[0]), memoryTerms[0], f(c.Load[1]), memoryTerms[1], f(c.Load[2]), memoryTerms[2],
			reports.FormatBytes(c.PredictedRSS.Value), reports.FormatBytes(c.PredictedRSS.Lower), reports.FormatBytes(c.PredictedRSS.Upper))
		fmt.Fprintf(w, "RSS measured (peak of the ramp run): %s\nRSS error: %+.1f%%\n", reports.FormatBytes(c.MeasuredRSS), 100*c.RSSError)
	}
	return nil
}

// WriteWaveText prints a login-wave analysis for people.
func WriteWaveText(out io.Writer, w *reports.LoginWave) error {
	f := reports.FormatSig3
	fmt.Fprintf(out, "CPU model (%d windows of %ss, R² %s, RMSE %s CPU-s, %d down-weighted):\n", w.Windows, f(w.WindowSeconds), f(w.R2), f(w.RMSE), w.Downweighted)
	fmt.Fprintf(out, "  base %s cores (%s–%s)\n", f(w.BaseCores.Value), f(w.BaseCores.Lower), f(w.BaseCores.Upper))
	for _, o := range w.Ops {
		fmt.Fprintf(out, "  %-26s %s ms CPU (%s–%s), %s per arrival\n", o.Name, f(1000*o.CPUSeconds.Value), f(1000*o.CPUSeconds.Lower), f(1000*o.CPUSeconds.Upper), f(o.PerArrival))
	}
	fmt.Fprintf(out, "  one arrival: %s ms CPU (%s–%s)\n", f(1000*w.ArrivalCost.Value), f(1000*w.ArrivalCost.Lower), f(1000*w.ArrivalCost.Upper))
	if w.LoginKnee != nil {
		fmt.Fprintf(out, "login p95 = %s + %s/(1 − %s·ρ) ms (%d windows)\n", f(w.LoginKnee.Floor), f(w.LoginKnee.Scale), f(w.LoginKnee.Busy), w.LoginKnee.Points)
	}
	fmt.Fprintf(out, "saturation: %s arrivals/min (%s–%s), %s binds; CPU %s reached at %s/min, p95 login %s at %s/min\n",
		f(w.Saturation.Value), f(w.Saturation.Lower), f(w.Saturation.Upper), w.Binding, f(w.CPUTarget), f(w.CPURate.Value), reports.FormatMs(w.LoginTarget), f(w.LatencyRate))
	fmt.Fprintf(out, "plan: %s arrivals/min (%s); run peak %s/min at up to %s cores\n", f(w.PlannedPeakRate), w.PlannedSource, f(w.PeakRunRate), f(w.PeakRunCores))
	if w.Measured != nil {
		fmt.Fprintf(out, "measured saturation in this run: %s arrivals/min (%s)\n", f(w.Measured.RatePerMin), w.Measured.Reason)
	}
	if len(w.Memory) > 0 {
		fmt.Fprintf(out, "memory: base %s", reports.FormatBytes(w.MemoryBase.Value))
		for _, m := range w.Memory {
			fmt.Fprintf(out, ", %s per %s", reports.FormatBytes(m.Bytes.Value), m.Name)
		}
		fmt.Fprintf(out, " (R² %s); at peak %s (%s–%s), run peak %s\n", f(w.MemoryR2), reports.FormatBytes(w.PeakMemory.Value),
			reports.FormatBytes(w.PeakMemory.Lower), reports.FormatBytes(w.PeakMemory.Upper), reports.FormatBytes(w.MeasuredPeakRSS))
	}
	for _, n := range w.Notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	return nil
}
