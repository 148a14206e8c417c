package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/models"
)

// syntheticCalibration writes a calibration whose peak is exactly
// 100 MiB + 7 KiB per joined row, and returns its path.
func syntheticCalibration(t *testing.T) string {
	t.Helper()
	var samples []models.Sample
	add := func(sh models.Shape) {
		samples = append(samples, models.Sample{Shape: sh, PeakRSS: 100*(1<<20) + 7*1024*sh.J,
			SecondsToHealthy: 2 + 40e-6*sh.J, InitSpawnersSeconds: 0.1, SteadyRSS: 1 << 27})
	}
	for _, k := range []int{0, 50, 100, 200, 300, 400, 500} {
		add(models.OneUser(k))
	}
	for _, n := range []int{8, 16, 32} {
		add(models.Even(n, 2))
	}
	cal, err := models.FitCalibration(samples)
	if err != nil {
		t.Fatal(err)
	}
	cal.Release = "5.3.0"
	path := filepath.Join(t.TempDir(), "cal.json")
	if err := cal.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateCommandErrors(t *testing.T) {
	cal := syntheticCalibration(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"validate", "-h"}, ExitOK, "--predict-only"},
		{[]string{"validate", "--hub", "local:5.3.0"}, ExitUsage, "--shape is required"},
		{[]string{"validate", "--hub", "local:5.3.0", "--shape", "one-user", "--calibration", cal}, ExitUsage, "--limit is required"},
		{[]string{"validate", "--hub", "local:5.3.0", "--shape", "sideways", "--limit", "1Gi", "--calibration", cal}, ExitUsage, "one-user or even:N"},
		{[]string{"validate", "--hub", "http://hub.example", "--shape", "one-user", "--limit", "1Gi"}, ExitUsage, "only local hubs"},
		{[]string{"validate", "--hub", "local:5.3.0", "--shape", "one-user", "--limit", "lots"}, ExitUsage, "invalid memory size"},
		{[]string{"validate", "--predict-only", "--calibration", cal, "--shape", "one-user"}, ExitUsage, "--limit is required"},
		{[]string{"validate", "--predict-only", "--calibration", cal, "--shape", "spread:1:2:3"}, ExitUsage, "0 ≤ H ≤ 1"},
		{[]string{"validate", "--predict-only", "--calibration", filepath.Join(t.TempDir(), "none.json"), "--shape", "incident"}, ExitError, "calibrate first"},
	} {
		code, out, errs := runArgs(t, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("hubcap %q: exit %d (want %d), output:\n%s%s\nwant it to contain %q", c.args, code, c.code, out, errs, c.want)
		}
	}
}

func TestValidatePredictOnly(t *testing.T) {
	cal := syntheticCalibration(t)
	// 100 MiB + 7 KiB·k(k+1) ≤ 1 GiB ⟺ k(k+1) ≤ 135,168 ⟺ k ≤ 367
	code, out, errs := runArgs(t, "validate", "--predict-only", "--calibration", cal, "--shape", "one-user", "--limit", "1Gi")
	if code != ExitOK || !strings.Contains(out, "k = 367 (point)") {
		t.Errorf("exit %d, output:\n%s%s", code, out, errs)
	}
	// the incident table: every spread, all-on-one-user far over 3 GiB
	// (7 KiB × 1,285,056 rows ≈ 8.7 GiB), the even spread within it
	code, out, errs = runArgs(t, "validate", "--predict-only", "--calibration", cal, "--shape", "incident", "--limit", "3Gi")
	if code != ExitOK {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	lines := strings.Split(out, "\n")
	var one, even string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "all on one user"):
			one = l
		case strings.HasPrefix(l, "even"):
			even = l
		}
	}
	if !strings.Contains(one, "1285056") || !strings.Contains(one, "no/no") || !strings.Contains(even, "yes/yes") {
		t.Errorf("incident table:\n%s", out)
	}
	// JSON: the same predictions, machine-readable
	code, out, _ = runArgs(t, "validate", "--predict-only", "--calibration", cal, "--shape", "one-user:367", "--limit", "1Gi", "--json")
	var doc struct {
		Predictions []struct {
			Peak      models.Prediction `json:"peak_rss_bytes"`
			FitsPoint *bool             `json:"fits_point"`
			Required  float64           `json:"required_limit_bytes"`
		} `json:"predictions"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOK || len(doc.Predictions) != 1 {
		t.Fatalf("exit %d, json %v:\n%s", code, err, out)
	}
	p := doc.Predictions[0]
	if p.FitsPoint == nil || !*p.FitsPoint || p.Peak.Point > 1<<30 || p.Required < p.Peak.Upper*1.2 {
		t.Errorf("one-user:367 under 1 GiB: %+v", p)
	}
}
