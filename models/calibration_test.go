package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secondsTruth: 0.5 s to start an empty hub plus 40 µs per joined row
// (facts note: 30–45 µs per row on 5.3) and 0.2 ms per running server.
func secondsTruth(s Shape) float64 { return 0.5 + 40e-6*s.J + 0.2e-3*s.R }

// syntheticSamples measures quadTruth and secondsTruth on a 12-shape plan,
// with 3% noise on both, from an explicit source. Every other sample lacks
// init_spawners_seconds.
func syntheticSamples(seed uint64) []Sample {
	rnd := rand.New(rand.NewPCG(seed, 4))
	plan, _ := SweepPlan(12, SweepOptions{})
	var out []Sample
	for i, p := range plan {
		sh := p.Shape()
		s := Sample{
			Shape:               sh,
			PeakRSS:             quadTruth(sh) * (1 + 0.03*rnd.NormFloat64()),
			SecondsToHealthy:    secondsTruth(sh) * (1 + 0.03*rnd.NormFloat64()),
			InitSpawnersSeconds: math.NaN(),
			SteadyRSS:           math.NaN(),
			Tags:                map[string]string{"plan": p.Label},
		}
		if i%2 == 0 {
			s.InitSpawnersSeconds = 0.8 * s.SecondsToHealthy
		}
		out = append(out, s)
	}
	return out
}

func validCalibration(t testing.TB) Calibration {
	t.Helper()
	c, err := FitCalibration(syntheticSamples(1))
	if err != nil {
		t.Fatal(err)
	}
	c.Release = "5.3.0"
	c.CreatedAt = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Environment = Environment{Release: "5.3.0", Python: "3.12.3", SQLAlchemy: "2.0.40", Database: "sqlite",
		GOOS: "linux", GOARCH: "amd64", CPUModel: "test CPU", Cores: 2, MemTotal: 8 << 30}
	return c
}

func TestFitCalibration(t *testing.T) {
	c := validCalibration(t)
	// Both targets of a quadratic release pick up the joined rows.
	for name, f := range map[string]*Fit{"peak_rss": c.Fits.PeakRSS, "seconds": c.Fits.Seconds} {
		if f == nil {
			t.Fatalf("%s fit missing", name)
		}
		if !f.HasTerm("J") {
			t.Errorf("%s: terms %v, want J selected", name, f.Terms)
		}
		if f.N != len(c.Samples) {
			t.Errorf("%s: fitted %d samples, have %d", name, f.N, len(c.Samples))
		}
	}
	sm, err := c.SecondsModel()
	if err != nil {
		t.Fatal(err)
	}
	// The facts note's 1 user × 1000: 40 s on 5.3.
	if p := sm.Predict(Even(1, 1000)); math.Abs(p.Point-secondsTruth(Even(1, 1000)))/secondsTruth(Even(1, 1000)) > 0.15 {
		t.Errorf("predicted %.1f s at 1×1000, truth %.1f s", p.Point, secondsTruth(Even(1, 1000)))
	}
}

func TestFitCalibrationPartialSeconds(t *testing.T) {
	// Samples of hubs that never became healthy have no time: the seconds
	// fit uses the others, and with none at all it is absent.
	samples := syntheticSamples(2)
	samples[3].SecondsToHealthy = math.NaN()
	c, err := FitCalibration(samples)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fits.Seconds == nil || c.Fits.Seconds.N != len(samples)-1 {
		t.Errorf("seconds fit %+v, want one fitted on %d samples", c.Fits.Seconds, len(samples)-1)
	}
	for i := range samples {
		samples[i].SecondsToHealthy = math.NaN()
	}
	c, err = FitCalibration(samples)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fits.Seconds != nil {
		t.Errorf("seconds fit present without any time")
	}
	if _, err := c.SecondsModel(); !errors.Is(err, ErrInvalidCalibration) {
		t.Errorf("SecondsModel without a fit: err = %v", err)
	}
	// A sample without a peak is unusable.
	samples[0].PeakRSS = 0
	if _, err := FitCalibration(samples); !errors.Is(err, ErrInvalidSample) {
		t.Errorf("zero peak: err = %v, want ErrInvalidSample", err)
	}
}

func TestCalibrationRoundTrip(t *testing.T) {
	// A saved and reloaded calibration predicts exactly as the fresh one,
	// without refitting, and keeps unknown values unknown.
	c := validCalibration(t)
	var buf bytes.Buffer
	if err := c.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"steady_rss_bytes": null`) {
		t.Errorf("unknown steady RSS should be written as null")
	}
	back, err := Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.Samples[1].InitSpawnersSeconds) || back.Samples[0].InitSpawnersSeconds != c.Samples[0].InitSpawnersSeconds {
		t.Errorf("init_spawners_seconds did not round-trip: %v, %v", back.Samples[0].InitSpawnersSeconds, back.Samples[1].InitSpawnersSeconds)
	}
	if !back.CreatedAt.Equal(c.CreatedAt) || back.Environment != c.Environment || back.Release != c.Release {
		t.Errorf("metadata did not round-trip: %+v", back)
	}
	if back.Partial || strings.Contains(buf.String(), `"partial"`) {
		t.Errorf("a complete calibration is written without the partial mark")
	}
	// An interrupted calibration keeps its mark.
	c.Partial = true
	buf.Reset()
	if err := c.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if p, err := Load(bytes.NewReader(buf.Bytes())); err != nil || !p.Partial {
		t.Errorf("partial mark did not round-trip: %v, %v", p.Partial, err)
	}
	c.Partial = false
	m1, _ := c.PeakModel()
	m2, err := back.PeakModel()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Shape{Even(1, 1000), OneUser(17), Even(300, 3)} {
		if p1, p2 := m1.Predict(s), m2.Predict(s); p1 != p2 {
			t.Errorf("%+v: fresh %+v, reloaded %+v", s, p1, p2)
		}
	}
}

func TestSaveFileLoadFile(t *testing.T) {
	c := validCalibration(t)
	path := filepath.Join(t.TempDir(), "5.3.0.json")
	if err := c.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path); err != nil {
		t.Fatal(err)
	}
	// A missing file says how to make one.
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.json"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "calibrate") {
		t.Errorf("missing file: err = %v, want ErrNotExist with a hint to calibrate", err)
	}
	// A broken file's error names the file.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"version": 1`), 0o644)
	if _, err := LoadFile(bad); !errors.Is(err, ErrInvalidCalibration) || !strings.Contains(err.Error(), bad) {
		t.Errorf("broken file: err = %v", err)
	}
}

// mutate returns the JSON of the valid calibration after f edits its
// generic form.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := validCalibration(t).Save(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadErrors(t *testing.T) {
	peak := func(m map[string]any) map[string]any { return m["fits"].(map[string]any)["peak_rss"].(map[string]any) }
	sample := func(m map[string]any, i int) map[string]any { return m["samples"].([]any)[i].(map[string]any) }
	cases := []struct {
		intent string
		data   []byte
		want   error
		msg    string // a substring the user needs to see
	}{
		{"a future format is refused with a hint", mutate(t, func(m map[string]any) { m["version"] = 2 }), ErrUnsupportedVersion, "recalibrate"},
		{"a typo in a field name is not silently ignored", mutate(t, func(m map[string]any) { m["relase"] = "x" }), ErrInvalidCalibration, "relase"},
		{"a typo inside a fit is not silently ignored", mutate(t, func(m map[string]any) { peak(m)["coeff"] = []any{1} }), ErrInvalidCalibration, "coeff"},
		{"a typo inside a sample is not silently ignored", mutate(t, func(m map[string]any) { sample(m, 0)["peak_rss"] = 1 }), ErrInvalidCalibration, "peak_rss"},
		{"the peak fit is required", mutate(t, func(m map[string]any) { delete(m["fits"].(map[string]any), "peak_rss") }), ErrInvalidCalibration, "fits.peak_rss is missing"},
		{"a negative coefficient cannot come from NNLS", mutate(t, func(m map[string]any) { peak(m)["coef"].([]any)[0] = -1.0 }), ErrInvalidFit, "coef[1]"},
		{"coefficients must match terms", mutate(t, func(m map[string]any) { peak(m)["coef"] = []any{1.0} }), ErrInvalidFit, "coefficients"},
		{"an unknown term is named", mutate(t, func(m map[string]any) { peak(m)["terms"].([]any)[1] = "Q" }), ErrInvalidFit, `"Q"`},
		{"the constant is required", mutate(t, func(m map[string]any) { peak(m)["terms"].([]any)[0] = "U" }), ErrInvalidFit, "constant"},
		{"an asymmetric covariance is corruption", mutate(t, func(m map[string]any) {
			peak(m)["cov_unscaled"].([]any)[0].([]any)[1] = 12345.0
		}), ErrInvalidFit, "symmetric"},
		{"a fit stored under the wrong key is caught", mutate(t, func(m map[string]any) { peak(m)["target"] = "seconds" }), ErrInvalidCalibration, "target"},
		{"a sample with more running servers than rows is impossible", mutate(t, func(m map[string]any) {
			sample(m, 0)["shape"].(map[string]any)["running"] = 1e9
		}), ErrInvalidSample, "running"},
		{"a missing peak in a sample is reported", mutate(t, func(m map[string]any) { delete(sample(m, 2), "peak_rss_bytes") }), ErrInvalidSample, "samples[2]"},
		{"a syntax error gives line and column", []byte("{\n  \"version\": 1,\n  \"release\": ]\n}"), ErrInvalidCalibration, "line 3"},
		{"a wrong type gives line and column", []byte("{\n\"version\": \"one\"}"), ErrInvalidCalibration, "line 2"},
		{"trailing data after the object is refused", append(mutate(t, func(map[string]any) {}), []byte(" {}")...), ErrInvalidCalibration, "trailing"},
		{"an empty file is not a calibration", nil, ErrInvalidCalibration, "EOF"},
		{"an oversized file is refused before parsing", bytes.Repeat([]byte(" "), MaxCalibrationBytes+1), ErrInvalidCalibration, "larger"},
	}
	for _, c := range cases {
		_, err := Load(bytes.NewReader(c.data))
		if !errors.Is(err, c.want) || !errors.Is(err, ErrInvalidCalibration) {
			t.Errorf("%s: err = %v, want %v (and ErrInvalidCalibration)", c.intent, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %q does not mention %q", c.intent, err, c.msg)
		}
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	// Save validates, so a bad calibration never reaches disk.
	c := validCalibration(t)
	c.Fits.PeakRSS.Sigma = math.NaN()
	if err := c.Save(&bytes.Buffer{}); !errors.Is(err, ErrInvalidFit) {
		t.Errorf("NaN sigma: err = %v, want ErrInvalidFit", err)
	}
}
