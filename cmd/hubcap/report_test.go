package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The capreport fixtures: a 40-attendee workshop run on 5.3.0 and a 5.3.0
// calibration.
const (
	reportRun = "../../internal/capreport/testdata/run.ndjson"
	reportCal = "../../internal/capreport/testdata/calibration-5.3.0.json"
)

// emptyHome points HUBCAP_HOME at a directory without shipped calibrations
// and with a stand-in for ECharts where LocateECharts looks.
func emptyHome(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HUBCAP_HOME", home)
	dir := filepath.Join(home, ".hubcap", "node", "node_modules", "echarts", "dist")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echarts.min.js"), []byte("/* placeholder */"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReportCommand(t *testing.T) {
	emptyHome(t)
	out := filepath.Join(t.TempDir(), "sub", "report.html")

	code, stdout, stderr := runArgs(t, "report", reportRun, "--calibration", reportCal, "--limit", "3Gi", "--planned", "700", "-o", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"verdict: PASS", "planned 700 attendees; predicted OOM threshold", "limit 3Gi", "report: " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "700 attendees") || !strings.Contains(string(page), `id="chart-model"`) {
		t.Error("the report lacks the plan or the model chart")
	}

	// Without --calibration and nothing shipped: no model, and a hint.
	code, stdout, _ = runArgs(t, "report", "-o", out, reportRun)
	if code != ExitOK || !strings.Contains(stdout, "hubcap calibrate --hub local:5.3.0") || !strings.Contains(stdout, "verdict: WARN") {
		t.Errorf("no calibration: exit %d, output:\n%s", code, stdout)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report"}, ExitUsage, "want exactly one results file"},
		{[]string{"report", reportRun, "--limit", "3 parsecs"}, ExitUsage, "--limit"},
		{[]string{"report", reportRun, "--family", "galaxies", "-o", out}, ExitUsage, "family"},
		{[]string{"report", reportRun, "--check", reportCal, "-o", out}, ExitUsage, "not a hubcap check"},
		{[]string{"report", filepath.Join(t.TempDir(), "none.ndjson")}, ExitError, "hubcap run --out json=FILE"},
	} {
		code, stdout, stderr := runArgs(t, c.args...)
		if code != c.code || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("hubcap %q: exit %d (want %d), output:\n%s%s\nwant %q", c.args, code, c.code, stdout, stderr, c.want)
		}
	}
}

// hubcap run --report writes the report at the end of the run, with the
// run's own threshold outcomes, also without --out.
func TestRunReportFlag(t *testing.T) {
	emptyHome(t)
	dir := t.TempDir()
	js := filepath.Join(dir, "arrive.js")
	if err := os.WriteFile(js, []byte(`import { Counter } from 'k6/metrics';
const arrivals = new Counter('attendee_arrivals');
export const options = { iterations: 3, thresholds: { attendee_arrivals: ['count==3', 'count>5'] } };
export default function () { arrivals.add(1); }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report.html")
	code, stdout, stderr := runArgs(t, "run", "-q", "--report", out, js)
	if code != ExitThresholds {
		t.Fatalf("exit %d, want 99 (one threshold fails)\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "verdict: FAIL") || !strings.Contains(stdout, "threshold attendee_arrivals count>5 failed") ||
		!strings.Contains(stdout, "report: "+out) {
		t.Errorf("output:\n%s", stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "status: completed") || !strings.Contains(string(page), "as the run evaluated them") {
		t.Error("the report does not show the completed run and its own thresholds")
	}
}
