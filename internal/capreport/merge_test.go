package capreport

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/results"
)

// splitFixture writes the run fixture as n instances of one split run
// would have: every traffic series' points dealt out in turn, the hub
// telemetry in instance 0's file only, each with its run info and status.
func splitFixture(t *testing.T, res *reports.Results, n int, runIDs []string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range n {
		path := filepath.Join(dir, "instance-"+strconv.Itoa(i)+".ndjson")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		e := results.NewEncoder(f)
		for _, m := range res.Metrics {
			if err := e.Metric(m); err != nil {
				t.Fatal(err)
			}
		}
		seg := strconv.Itoa(i) + "/" + strconv.Itoa(n) + ":" + strconv.Itoa(i+1) + "/" + strconv.Itoa(n)
		_ = e.Point(results.MetricRunInfo, res.Start, 1, map[string]string{results.TagRunID: runIDs[i],
			results.TagInstance: "s" + strconv.Itoa(i), results.TagSegment: seg, results.TagHubTelemetry: strconv.FormatBool(i == 0)})
		for _, s := range res.Series {
			if s.Metric == results.MetricRunStatus {
				continue
			}
			for j, p := range s.Points {
				if results.IsHubTelemetry(s.Metric) && i == 0 || !results.IsHubTelemetry(s.Metric) && j%n == i {
					if err := e.Point(s.Metric, p.Time, p.Value, s.Tags); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		_ = e.Point(results.MetricRunStatus, res.StatusTime, 1, map[string]string{results.TagStatus: res.Status})
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

// A run split over three instances gets the report of the whole run: the
// same threshold outcomes and observed values as one instance's, the same
// totals, and the instances listed.
func TestReadMergedReport(t *testing.T) {
	whole := readRunFixture(t)
	paths := splitFixture(t, whole, 3, []string{"wk", "wk", "wk"})
	single, err := Build(Inputs{ResultsPath: runFixture})
	if err != nil {
		t.Fatal(err)
	}
	res, insts, notes, err := ReadMerged(paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 || len(insts) != 3 || !insts[0].Telemetry {
		t.Errorf("notes %q, instances %+v", notes, insts)
	}
	merged, err := Build(Inputs{Results: res, Instances: insts, MergeNotes: notes})
	if err != nil {
		t.Fatal(err)
	}
	want, got := single.Input.Verdict.Thresholds, merged.Input.Verdict.Thresholds
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("thresholds: %d merged, %d single", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("threshold %d: merged %+v, single %+v", i, got[i], want[i])
		}
	}
	if a, b := single.Assessment.Level, merged.Assessment.Level; a != b {
		t.Errorf("verdict %v merged, %v single", b, a)
	}
	sum := func(r *reports.Results, metric string) (v float64) {
		for _, s := range r.SeriesOf(metric) {
			for _, p := range s.Points {
				v += p.Value
			}
		}
		return v
	}
	for _, m := range []string{"iterations", "jupyterhub_errors", "hub_rss_bytes"} {
		if a, b := sum(whole, m), sum(res, m); a != b || a == 0 {
			t.Errorf("%s: %v merged, %v in the whole run", m, b, a)
		}
	}
	env := merged.Input.Env.Params
	if !strings.Contains(env["instances"], "3 instances of run wk") || !strings.Contains(env["instance s1"], "segment 1/3:2/3") ||
		!strings.Contains(env["instance s0"], "hub telemetry") {
		t.Errorf("instances not listed: %q / %q / %q", env["instances"], env["instance s1"], env["instance s0"])
	}
}

// Files of two runs are refused, as bad inputs.
func TestReadMergedDifferentRuns(t *testing.T) {
	paths := splitFixture(t, readRunFixture(t), 2, []string{"monday", "tuesday"})
	_, _, _, err := ReadMerged(paths)
	if !errors.Is(err, ErrBadInputs) || !errors.Is(err, results.ErrDifferentRuns) || !strings.Contains(err.Error(), "run monday") {
		t.Errorf("err = %v", err)
	}
}
