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
// machine found, from the data alone, the quadratic terms (J, and the row
// content the joined rows carry, JB or JP) on 5.3.0 (the release with the
// joined start-up query) and none of them on 5.5.1 and 6.1.1 (the fixed
// query); they swept several row contents, are complete, and predict
// finite, positive peaks and times that grow with the shape.
func TestShippedCalibrations(t *testing.T) {
	for _, c := range []struct {
		release string
		wantJ   bool
	}{{"5.3.0", true}, {"5.5.1", false}, {"6.1.1", false}} {
		cal := shipped(t, c.release)
		if cal.Release != c.release || cal.Partial || cal.Environment.Python == "" || cal.Environment.SQLAlchemy == "" {
			t.Errorf("%s: release %q, partial %v, environment %+v", c.release, cal.Release, cal.Partial, cal.Environment)
		}
		f := cal.Fits.PeakRSS
		if got := f.HasTerm("J"); got != c.wantJ {
			t.Errorf("%s: peak model terms %v: J selected = %v, want %v", c.release, f.Terms, got, c.wantJ)
		}
		if got := f.HasTerm("JB") || f.HasTerm("JP"); got != c.wantJ {
			t.Errorf("%s: peak model terms %v: joined content selected = %v, want %v", c.release, f.Terms, got, c.wantJ)
		}
		classes := map[string]bool{}
		for _, s := range cal.Samples {
			classes[s.Tags[models.TagContent]] = true
		}
		if len(classes) < 3 || cal.Content.IsZero() {
			t.Errorf("%s: %d row-content classes swept (%v), main content %+v; want ≥ 3 and the main one probed", c.release, len(classes), classes, cal.Content)
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
		for _, s := range []models.Shape{{U: 1, S: 1}, models.OneUserWith(100, cal.Content), models.OneUserWith(500, cal.Content), SpreadWith(IncidentRunning, IncidentRows, 1, cal.Content)} {
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
	c53, c55 := shipped(t, "5.3.0"), shipped(t, "5.5.1")
	m53, _ := c53.PeakModel()
	m55, _ := c55.PeakModel()
	if p := m55.Predict(SpreadWith(IncidentRunning, IncidentRows, 1, c55.Content)); p.Upper > 1<<30 {
		t.Errorf("5.5.1 incident peak %+v, want far below 3 GiB", p)
	}
	if p := m53.Predict(SpreadWith(IncidentRunning, IncidentRows, 1, c53.Content)); p.Lower < 3<<30 {
		t.Errorf("5.3.0 incident peak %+v, want above 3 GiB", p)
	}
}
