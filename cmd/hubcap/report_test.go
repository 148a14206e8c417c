package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/results"
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

// copyOf copies a file into a new directory, under its own name.
func copyOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
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
		{[]string{"report"}, ExitUsage, "name the results file"},
		{[]string{"report", reportRun, copyOf(t, reportRun), "-o", out}, ExitUsage, "instance run.ndjson is in both"},
		{[]string{"report", filepath.Join(t.TempDir(), "*.ndjson")}, ExitUsage, "matches no file"},
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

// A directory of instance files is one merged report; the instances are
// named.
func TestReportMergesADirectory(t *testing.T) {
	emptyHome(t)
	dir := t.TempDir()
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	for i, seg := range []string{"0:1/2", "1/2:1"} {
		var b bytes.Buffer
		writeInstance(&b, t0, "wk", fmt.Sprintf("s%d", i), seg)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("i%d.ndjson", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "r.html")
	code, stdout, stderr := runArgs(t, "report", dir, "-o", out)
	if code != ExitOK || !strings.Contains(stdout, "merged: 2 instances of run wk (s0, s1)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// 2 + 2 iterations hold count>=4, which neither instance holds alone.
	if !strings.Contains(string(page), "count&gt;=4") || !strings.Contains(string(page), "instance s1") {
		t.Errorf("the report lacks the threshold or the instances")
	}
	// count>4 fails over the whole run (4 iterations); count>=4 holds.
	if !strings.Contains(stdout, "verdict: FAIL") || !strings.Contains(stdout, "threshold iterations count>4 failed") ||
		strings.Contains(stdout, "count>=4 failed") {
		t.Errorf("output:\n%s", stdout)
	}
}

// writeInstance writes one instance's stream: its run info, 2 iterations
// (thresholds count>=4 and count>4 declared) and its status.
func writeInstance(w io.Writer, t0 time.Time, runID, id, seg string) {
	e := results.NewEncoder(w)
	_ = e.Metric(results.Metric{Name: results.MetricIterations, Type: results.KindCounter, Thresholds: []string{"count>=4", "count>4"}})
	_ = e.Point(results.MetricRunInfo, t0, 1, map[string]string{results.TagRunID: runID, results.TagInstance: id, results.TagSegment: seg})
	for j := range 2 {
		_ = e.Point(results.MetricIterations, t0.Add(time.Duration(j+1)*time.Second), 1, nil)
	}
	_ = results.WriteStatus(w, results.StatusCompleted, t0.Add(time.Minute))
}
