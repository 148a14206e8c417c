package models

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the calibration loader. Whatever it
// accepts must be a calibration the rest of hubcap can use without further
// checks: it validates, saves and reloads to the same predictions, and its
// models predict finite, ordered intervals. Whatever it rejects must be
// rejected with ErrInvalidCalibration.
func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	if err := validCalibration(f).Save(&buf); err != nil {
		f.Fatal(err)
	}
	valid := buf.Bytes()
	f.Add(valid)
	f.Add([]byte(`{"version":1,"release":"x","created_at":"2025-01-01T00:00:00Z","environment":{"release":"x"},"samples":[],` +
		`"fits":{"peak_rss":{"target":"peak_rss","weighting":"none","terms":["1"],"coef":[1],"std_err":[0],"sigma":0,"dof":1,` +
		`"cov_unscaled":[[0]],"level":0.95,"n":0,"cv_error":null,"aicc":null,"margin":0,"rule":""}}}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version":1,"fits":{"peak_rss":{"terms":["1","1"]}}}`))
	f.Add(valid[:len(valid)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalidCalibration) {
				t.Fatalf("rejected without ErrInvalidCalibration: %v", err)
			}
			return
		}
		if errs := c.Validate(); errs != nil {
			t.Fatalf("accepted an invalid calibration: %v", errs)
		}
		m, err := c.PeakModel()
		if err != nil {
			t.Fatalf("accepted a calibration without a usable peak model: %v", err)
		}
		var out bytes.Buffer
		if err := c.Save(&out); err != nil {
			t.Fatalf("accepted but cannot save: %v", err)
		}
		back, err := Load(&out)
		if err != nil {
			t.Fatalf("saved form does not reload: %v", err)
		}
		m2, _ := back.PeakModel()
		for _, s := range []Shape{{}, OneUser(10), Even(10, 300)} {
			p := m.Predict(s)
			if math.IsNaN(p.Point) || math.IsNaN(p.Lower) || math.IsNaN(p.Upper) || p.Lower > p.Upper {
				t.Fatalf("prediction at %+v is %+v", s, p)
			}
			if p2 := m2.Predict(s); p2 != p {
				t.Fatalf("prediction changed over save/load: %+v vs %+v", p, p2)
			}
		}
	})
}
