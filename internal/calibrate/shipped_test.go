package calibrate

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hubcap-dev/hubcap/models"
)

// shipped loads models/calibrations/jupyterhub-<release>.json.
func shipped(t *testing.T, release string) models.Calibration {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "models", "calibrations", "jupyterhub-"+release+".json")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("shipped calibration missing: %v (make it with hubcap calibrate --hub local:%s)", err, release)
	}
	cal, err := models.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

// TestShippedCalibrations: the calibrations made on this project's
// machine found, from the data alone, the quadratic term J on 5.3.0 (the
// release with the joined start-up query) and not on 5.5.1 (the fixed
// one); they are complete, and predict finite, positive peaks and times
// that grow with the shape.
func TestShippedCalibrations(t *testing.T) {
	for _, c := range []struct {
		release string
		wantJ   bool
	}{{"5.3.0", true}, {"5.5.1", false}} {
		cal := shipped(t, c.release)
		if cal.Release != c.release || cal.Partial || cal.Environment.Python == "" || cal.Environment.SQLAlchemy == "" {
			t.Errorf("%s: release %q, partial %v, environment %+v", c.release, cal.Release, cal.Partial, cal.Environment)
		}
		if got := cal.Fits.PeakRSS.HasTerm("J"); got != c.wantJ {
			t.Errorf("%s: peak model terms %v: J selected = %v, want %v", c.release, cal.Fits.PeakRSS.Terms, got, c.wantJ)
		}
		if len(cal.Samples) < 12 {
			t.Errorf("%s: only %d samples", c.release, len(cal.Samples))
		}
		pm, err := cal.PeakModel()
		if err != nil {
			t.Fatal(err)
		}
		sm, err := cal.SecondsModel()
		if err != nil {
			t.Fatal(err)
		}
		prev := 0.0
		for _, s := range []models.Shape{{U: 1, S: 1}, models.OneUser(100), models.OneUser(500), Spread(IncidentRunning, IncidentRows, 1)} {
			for _, p := range []models.Prediction{pm.Predict(s), sm.Predict(s)} {
				for _, v := range []float64{p.Point, p.Lower, p.Upper} {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
						t.Errorf("%s %+v: prediction %+v not finite and ≥ 0", c.release, s, p)
					}
				}
				if !(p.Point > 0) || p.Lower > p.Point || p.Point > p.Upper {
					t.Errorf("%s %+v: prediction %+v not ordered and positive", c.release, s, p)
				}
			}
			if pk := pm.Predict(s).Point; pk < prev {
				t.Errorf("%s: peak %v of %+v below the smaller shape's %v", c.release, pk, s, prev)
			} else {
				prev = pk
			}
		}
	}
	// The incident's shape: 5.5.1 far below 3 GiB, 5.3.0 far above it.
	inc := Spread(IncidentRunning, IncidentRows, 1)
	m53, _ := shipped(t, "5.3.0").PeakModel()
	m55, _ := shipped(t, "5.5.1").PeakModel()
	if p := m55.Predict(inc); p.Upper > 1<<30 {
		t.Errorf("5.5.1 incident peak %+v, want far below 3 GiB", p)
	}
	if p := m53.Predict(inc); p.Lower < 3<<30 {
		t.Errorf("5.3.0 incident peak %+v, want above 3 GiB", p)
	}
}
