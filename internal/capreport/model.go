package capreport

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/reports"
)

// curvePoints is how many segments the fitted curve and band are drawn with.
const curvePoints = 80

// ModelView is the capacity model drawn over a family, and what it says.
type ModelView struct {
	Model *reports.CapacityModel
	// Threshold is the largest size whose upper band stays within the
	// limit: +Inf when none is reached below models.DefaultMaxK, 0 when
	// there is no limit or even size 0 is over it.
	Threshold float64
	// PlannedPeak is the prediction at the planned size (zero without one).
	PlannedPeak models.Prediction
	// Notes say where the model is extrapolated or why no threshold.
	Notes []string
}

// BuildModel draws the peak model m over the family:
//
//   - Fitted and Band: the point prediction and its interval at 81 sizes
//     from 0 to 1.1 × the largest of the planned size, the threshold and
//     the measured points;
//   - Measured: each calibration restart at the size k_eq whose predicted
//     load equals the restart's, m(Shape(k_eq)) = m(sample's shape), found
//     by bisection (the prediction is non-decreasing in k); so a point's
//     height above or below the curve is the sample's residual;
//   - Threshold: models.Threshold with the upper band (the safe choice).
//
// It is a pure function.
func BuildModel(m *models.Model, samples []models.Sample, fam Family, planned, limit float64) ModelView {
	v := ModelView{}
	cm := &reports.CapacityModel{SizeLabel: fam.Axis, LimitBytes: limit}
	fit := m.Fit()
	for i, t := range fit.Terms {
		if t == models.TermConst.String() || fit.Coef[i] > 0 {
			cm.Terms = append(cm.Terms, termText(t))
		}
	}
	cm.Formula = formula(fit)

	if limit > 0 {
		k, err := models.Threshold(m, limit, fam.intShape, true)
		switch {
		case err == nil:
			v.Threshold = float64(k)
		case errors.Is(err, models.ErrNoThreshold):
			v.Threshold = math.Inf(1)
			v.Notes = append(v.Notes, fmt.Sprintf("the model stays under %s up to %s %s", fmtBytes(limit), fmtNum(float64(k)), fam.Unit))
		case errors.Is(err, models.ErrLimitTooLow):
			v.Notes = append(v.Notes, fmt.Sprintf("even an empty hub is predicted above %s: raise the limit", fmtBytes(limit)))
		default:
			v.Threshold = float64(max(k, 0))
			v.Notes = append(v.Notes, "threshold search: "+err.Error())
		}
		if v.Threshold > 0 && !math.IsInf(v.Threshold, 0) {
			cm.ThresholdSize = v.Threshold
		}
	}
	if planned > 0 {
		v.PlannedPeak = m.Predict(fam.Shape(planned))
	}

	maxMeasured := 0.0
	for _, s := range samples {
		k, ok := equivalentSize(m, fam, s.Shape)
		if !ok {
			continue
		}
		maxMeasured = math.Max(maxMeasured, k)
		cm.Measured = append(cm.Measured, reports.ModelPoint{Size: k, Bytes: s.PeakRSS, Label: sampleLabel(s)})
	}
	if planned > maxMeasured && len(cm.Measured) > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("the planned %s %s is beyond the calibrated range (the largest restart measured is the load of %s): the model extrapolates",
			fmtNum(planned), fam.Unit, fmtNum(math.Round(maxMeasured))))
	}

	xmax := math.Max(planned, maxMeasured)
	if v.Threshold > 0 && !math.IsInf(v.Threshold, 0) {
		xmax = math.Max(xmax, v.Threshold)
	}
	if xmax <= 0 {
		xmax = 10
	}
	xmax *= 1.1
	for _, k := range curveSizes(xmax) {
		p := m.Predict(fam.Shape(k))
		cm.Fitted = append(cm.Fitted, reports.ModelPoint{Size: k, Bytes: p.Point})
		cm.Band = append(cm.Band, reports.BandPoint{Size: k, Lower: p.Lower, Upper: p.Upper})
	}
	v.Model = cm
	return v
}

// curveSizes returns 0 … xmax in curvePoints steps, whole numbers when the
// step is at least 1.
func curveSizes(xmax float64) []float64 {
	var out []float64
	step := xmax / curvePoints
	for i := 0; i <= curvePoints; i++ {
		k := float64(i) * step
		if step >= 1 {
			k = math.Round(k)
		}
		if len(out) == 0 || k > out[len(out)-1] {
			out = append(out, k)
		}
	}
	return out
}

// equivalentSize finds k ≥ 0 with m(Shape(k)) = m(s) (point predictions).
// It fails when the family never reaches the sample's load within
// models.DefaultMaxK, or when the family's load does not grow.
func equivalentSize(m *models.Model, fam Family, s models.Shape) (float64, bool) {
	target := m.Predict(s).Point
	at := func(k float64) float64 { return m.Predict(fam.Shape(k)).Point }
	lo := 0.0
	if target <= at(lo) {
		return 0, true
	}
	hi := 1.0
	for at(hi) < target {
		lo, hi = hi, hi*2
		if hi > models.DefaultMaxK {
			return 0, false
		}
	}
	for i := 0; i < 100 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if at(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2, true
}

// sampleLabel names a calibration restart by its shape.
func sampleLabel(s models.Sample) string {
	sh := s.Shape
	l := fmt.Sprintf("restart: %s users, %s rows, %s running, J %s", fmtNum(sh.U), fmtNum(sh.S), fmtNum(sh.R), fmtNum(sh.J))
	if p := s.Tags["plan"]; p != "" {
		l += " (" + p + ")"
	}
	return l
}

// termText explains a model term.
func termText(t string) string {
	switch t {
	case models.TermConst.String():
		return "1 (an empty hub)"
	case models.TermU.String():
		return "U (users)"
	case models.TermS.String():
		return "S (spawner rows)"
	case models.TermR.String():
		return "R (running servers)"
	case models.TermJ.String():
		return "J = Σ R_u·S_u (rows the 5.0–5.3 start-up query joins)"
	}
	return t
}

// formula writes the fit as "peak ≈ 61.2 MiB + 2.41 KiB·J".
func formula(f models.Fit) string {
	var parts []string
	for i, t := range f.Terms {
		c := f.Coef[i]
		switch {
		case t == models.TermConst.String():
			parts = append(parts, fmtBytes(c))
		case c > 0:
			parts = append(parts, fmtBytes(c)+"·"+t)
		}
	}
	s := "start-up peak RSS ≈ " + strings.Join(parts, " + ")
	if f.Level > 0 {
		s += fmt.Sprintf(" (band: %s%% prediction interval", sig3(100*f.Level))
		if f.Sigma > 0 && f.Weighting == models.WeightRelative.String() {
			s += fmt.Sprintf(", σ %s%%", sig3(100*f.Sigma))
		}
		s += fmt.Sprintf(", %d restarts)", f.N)
	}
	return s
}
