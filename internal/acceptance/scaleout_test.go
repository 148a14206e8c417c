package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/capreport"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/results"
)

// scaleoutArgs runs workshop.js small: 30 attendees arriving over 15 s,
// ~10 s sessions with a cell every ~3 s, 20 % opening a second server.
func scaleoutArgs(hubURL, tokenFile, out string, extra ...string) []string {
	args := []string{"run", "--hub", hubURL, "--token-file", tokenFile, "--progress", "off",
		"--telemetry-interval", "1s", "--shape-interval", "3s", "--out", "json=" + out,
		"-e", "ATTENDEES=30", "-e", "ARRIVAL_WINDOW=15s", "-e", "SESSION_LENGTH=10s", "-e", "THINK_TIME=3s",
		"-e", "SECOND_SERVER_FRACTION=0.2", "-e", "SEED=3"}
	return append(append(args, extra...), "scenarios/workshop.js")
}

var removedRe = regexp.MustCompile(`cleanup: removed (\d+) users and (\d+) servers the run created \(prefix "([^"]*)"\)`)

// Three `hubcap run` processes, segments 0:1/3, 1/3:2/3 and 2/3:1 of one
// workshop against one hub, started together (--start-at), make one run:
// merged, its arrivals, iterations, phases and errors add up to the plan;
// each instance removed exactly its own attendees and nothing is left on
// the hub; hub telemetry comes from one instance; and the merged report's
// thresholds agree with a single-instance run of the same plan.
func TestScaleOutThreeInstances(t *testing.T) {
	root, _ := hubtest.Require(t, "5.5.1")
	l := localhubtest.Start(t, "5.5.1", localhub.Options{})
	hubcapBin(t, root) // built before the clock starts
	dir := t.TempDir()
	parts := filepath.Join(dir, "parts")
	if err := os.MkdirAll(parts, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second)
	segs := []string{"0:1/3", "1/3:2/3", "2/3:1"}
	var runs []*hubcapRun
	var outs []string
	for i, seg := range segs {
		out := filepath.Join(parts, fmt.Sprintf("s%d.ndjson", i))
		outs = append(outs, out)
		runs = append(runs, startHubcap(t, root, scaleoutArgs(l.Hub.URL(), l.Hub.TokenFile(), out,
			"--execution-segment", seg, "--execution-segment-sequence", "0,1/3,2/3,1",
			"--run-id", "scaleout", "--start-at", start.Format(time.RFC3339))...))
	}
	removed := 0
	for i, r := range runs {
		if code := r.wait(t, 3*time.Minute); code != 0 {
			t.Fatalf("instance %s: exit %d\n%s%s", segs[i], code, tailString(r.stdout.String(), 3000), tailString(r.stderr.String(), 3000))
		}
		res := readResultsFile(t, outs[i])
		arrivals := int(total(res, reports.MetricArrivals))
		m := removedRe.FindStringSubmatch(r.stderr.String())
		if m == nil {
			t.Errorf("instance %s: no cleanup line in\n%s", segs[i], tailString(r.stderr.String(), 2000))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		info := results.RunInfo(res)
		// Its own attendees, under its own prefix: no more, no fewer.
		if n != arrivals || m[3] != info[results.TagNamePrefix] || !strings.HasPrefix(m[3], runPrefix+"s") {
			t.Errorf("instance %s removed %d users with prefix %q; it had %d attendees, prefix %q", segs[i], n, m[3], arrivals, info[results.TagNamePrefix])
		}
		removed += n
	}
	if removed != 30 {
		t.Errorf("the instances removed %d users in all, want the 30 attendees", removed)
	}
	nothingLeft(t, sqliteDSN(l.Hub.RunDir()), runPrefix)

	// One report from the three files, with the command a user types.
	merged := filepath.Join(dir, "merged.html")
	r := startHubcap(t, root, "report", parts, "--calibration", "none", "-o", merged)
	if code := r.wait(t, time.Minute); code != 0 || !strings.Contains(r.stdout.String(), "merged: 3 instances of run scaleout (s0, s1-3, s2-3)") {
		t.Fatalf("hubcap report: exit %d\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	res, insts, notes, err := capreport.ReadMerged(outs)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("merge notes: %q", notes)
	}
	if n := total(res, reports.MetricArrivals); n != 30 {
		t.Errorf("%v arrivals over the instances, want 30", n)
	}
	phases := phaseCounts(res)
	second := int(total(res, "workshop_second_servers"))
	for _, ph := range []string{"login", "oauth", "lab_load", "start_kernel", "connect_kernel", "shutdown_kernel"} {
		if phases[ph] < 30 {
			t.Errorf("phase %s: %d samples over the instances, want one per attendee (%v)", ph, phases[ph], phases)
		}
	}
	if phases["spawn"] != 30+second {
		t.Errorf("%d spawns, want 30 + %d second servers", phases["spawn"], second)
	}
	if e := total(res, "jupyterhub_errors"); e != 0 || res.Status != reports.StatusCompleted {
		t.Errorf("%v errors, status %q", e, res.Status)
	}
	if rss := res.SeriesOf(reports.MetricHubRSS); len(rss) == 0 || rss[0].Tags[results.TagInstance] != "s0" || !insts[0].Telemetry {
		t.Errorf("hub telemetry not from instance s0 alone: %d series", len(rss))
	}
	for i, inst := range insts {
		if inst.Telemetry != (i == 0) || !readResultsFile(t, outs[i]).Has(reports.MetricHubRSS) == (i == 0) {
			t.Errorf("instance %s: telemetry %v", inst.ID, inst.Telemetry)
		}
	}
	mrep, err := capreport.Build(capreport.Inputs{Results: res, Instances: insts})
	if err != nil {
		t.Fatal(err)
	}

	// The same plan by one instance.
	single := filepath.Join(dir, "single.ndjson")
	r = startHubcap(t, root, scaleoutArgs(l.Hub.URL(), l.Hub.TokenFile(), single)...)
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("single instance: exit %d\n%s", code, tailString(r.stderr.String(), 3000))
	}
	sres := readResultsFile(t, single)
	if a, b := total(sres, reports.MetricIterations), total(res, reports.MetricIterations); a != b || a < 30 {
		t.Errorf("iterations: %v merged, %v in one instance", b, a)
	}
	srep, err := capreport.Build(capreport.Inputs{ResultsPath: single})
	if err != nil {
		t.Fatal(err)
	}
	mt, st := mrep.Input.Verdict.Thresholds, srep.Input.Verdict.Thresholds
	if len(st) < 4 || len(mt) != len(st) {
		t.Fatalf("thresholds: %d merged, %d single", len(mt), len(st))
	}
	for i := range st {
		if mt[i].Metric != st[i].Metric || mt[i].Expr != st[i].Expr || mt[i].OK != st[i].OK {
			t.Errorf("threshold %s %s: merged %v (%s), single %v (%s)", st[i].Metric, st[i].Expr, mt[i].OK, mt[i].Observed, st[i].OK, st[i].Observed)
		}
	}
	t.Logf("merged thresholds: %+v", mt)
	nothingLeft(t, sqliteDSN(l.Hub.RunDir()), runPrefix)
}
