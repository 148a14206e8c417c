package acceptance

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/seed"
)

// Fault rows about files: a full disk under --out, damaged results given to
// hubcap report, and a SQLite database that a running hub holds open.

// Fault: --out on a full filesystem (/dev/full: every write fails with
// ENOSPC). The run goes on, prints its summary, then says that the results
// are incomplete and why, exits 1, and still cleans up.
func TestFaultOutOnFullDisk(t *testing.T) {
	root, _ := hubtest.Require(t, faultRelease)
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Fatalf("/dev/full: %v", err) // Linux always has it
	}
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	r := startHubcap(t, root, "run", "--hub", "local:"+faultRelease, "--run-dir", runDir, "--progress", "off",
		"--out", "json=/dev/full", "scenarios/smoke.js")
	code := r.wait(t, 3*time.Minute)
	stderr, stdout := r.stderr.String(), r.stdout.String()
	if code != 1 {
		t.Errorf("exit %d, want 1 (the results could not be written)", code)
	}
	for _, want := range []string{"--out json=/dev/full is incomplete", "no space left on device"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, tailString(stderr, 2000))
		}
	}
	if !strings.Contains(stdout, "TOTAL RESULTS") || !strings.Contains(stdout, "checks") {
		t.Errorf("no summary on stdout:\n%s", tailString(stdout, 2000))
	}
	if !strings.Contains(stderr, "cleanup: removed") {
		t.Errorf("no cleanup after the output failed:\n%s", tailString(stderr, 2000))
	}
	afterRun(t, r, runToken(t, runDir), sqliteDSN(runDir), dir)
}

// Fault: results that are truncated (a run killed mid-write) or damaged in
// the middle, given to hubcap report. A truncated tail is dropped and the
// report says the run was cut short (exit 0); damaged lines are skipped,
// the error names the first line number, the report of what was readable
// is written and says so, and the exit code is 1.
func TestFaultDamagedResults(t *testing.T) {
	root, _ := hubtest.Require(t, faultRelease) // for the echarts the report inlines
	good, err := os.ReadFile(filepath.Join(root, "internal", "capreport", "testdata", "run.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.ndjson")
	if err := os.WriteFile(truncated, []byte(strings.Join(lines[:600], "")+lines[600][:len(lines[600])/2]), 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.ndjson")
	bad := append(append(append([]string{}, lines[:299]...), `{"type":"Point","metric":"x","data":{"time":"garb`+"\n", "\x00\x00not json\n"), lines[299:]...)
	if err := os.WriteFile(damaged, []byte(strings.Join(bad, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := hubcapBin(t, root)
	report := func(in string) (code int, stdout, stderr, html string) {
		out := strings.TrimSuffix(in, ".ndjson") + ".html"
		cmd := exec.Command(bin, "report", in, "-o", out)
		cmd.Dir = root
		var so, se strings.Builder
		cmd.Stdout, cmd.Stderr = &so, &se
		_ = cmd.Run()
		b, _ := os.ReadFile(out)
		return cmd.ProcessState.ExitCode(), so.String(), se.String(), string(b)
	}

	code, stdout, stderr, html := report(truncated)
	if code != 0 || !strings.Contains(stdout, "the last line of the results was incomplete") || !strings.Contains(html, "cut short") {
		t.Errorf("truncated: exit %d, want 0 and a report that says cut short\n%s%s", code, stdout, stderr)
	}

	code, stdout, stderr, html = report(damaged)
	if code != 1 {
		t.Errorf("damaged: exit %d, want 1", code)
	}
	for _, want := range []string{"malformed NDJSON line 300", "and 1 more malformed lines", "shows what was readable"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("damaged: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "damaged results: 2 malformed lines were skipped (the first, line 300") {
		t.Errorf("damaged: the verdict does not say what was skipped:\n%s", stdout)
	}
	if !strings.Contains(html, "damaged results") || !strings.Contains(html, "jupyterhub_login_duration") {
		t.Errorf("damaged: the report (%d bytes) lacks the damage note or the readable results", len(html))
	}
}

// Fault: hubcap check --db on the SQLite database of a running hub in WAL
// mode while the hub writes to it (servers being added through the API). Every
// check reads one consistent snapshot (the per-user counts add up to the
// totals, J = Σ R_u·S_u, and the running servers never decrease as servers
// are only added), never fails on the locked database, and the final check
// sees what the API sees. The hub goes on working.
func TestFaultCheckLiveWAL(t *testing.T) {
	root, _ := hubtest.Require(t, faultRelease)
	wal := `
from sqlalchemy import event
from sqlalchemy.engine import Engine

@event.listens_for(Engine, "connect")
def _hubcap_wal(dbapi_connection, connection_record):
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
`
	l := localhubtest.Start(t, faultRelease, localhub.Options{Hub: hub.Options{ExtraConfig: wal}})
	admin := localhubtest.Admin(t, l, "wal-")
	db := filepath.Join(l.Hub.RunDir(), hub.SQLiteFile)
	if _, err := os.Stat(db + "-wal"); err != nil {
		t.Fatalf("the hub is not in WAL mode: %v", err)
	}
	bin := hubcapBin(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	seeded := make(chan error, 1)
	go func() {
		_, err := seed.Apply(ctx, admin, seed.Plan{{Name: "wal-a", Running: 30}, {Name: "wal-b", Running: 10}}, seed.Options{Workers: 2})
		seeded <- err
	}()
	checkDB := func() (check.Report, string) {
		cmd := exec.Command(bin, "check", "--db", db, "--release", faultRelease, "--memory-limit", "1Gi", "--json")
		cmd.Dir = root
		var se strings.Builder
		cmd.Stderr = &se
		out, _ := cmd.Output()
		var rep check.Report
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("check --db on the live database: exit %d, %v\n%s%s", cmd.ProcessState.ExitCode(), err, out, se.String())
		}
		return rep, string(out) + se.String()
	}
	var lastR int64
	checks := 0
	for done := false; !done; {
		select {
		case err := <-seeded:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		rep, _ := checkDB()
		checks++
		var s, r, j int64
		for _, u := range rep.TopUsers {
			s, r, j = s+u.S, r+u.R, j+u.J
		}
		sh := rep.Shape
		if len(rep.TopUsers) == int(sh.U) && (s != sh.S || r != sh.R || j != sh.J) {
			t.Errorf("check %d: per-user sums S=%d R=%d J=%d, totals S=%d R=%d J=%d: not one snapshot", checks, s, r, j, sh.S, sh.R, sh.J)
		}
		if sh.R < lastR {
			t.Errorf("check %d: %d running after %d: servers are only added", checks, sh.R, lastR)
		}
		lastR = sh.R
	}
	if checks < 3 {
		t.Errorf("only %d checks while the hub wrote: the test did not test reading a live database", checks)
	}
	rep, out := checkDB()
	api, err := admin.Shape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Shape.R != api.R || rep.Shape.S != api.S || rep.Shape.R != 40 {
		t.Errorf("final check R=%d S=%d, API R=%d S=%d; want R=40", rep.Shape.R, rep.Shape.S, api.R, api.S)
	}
	t.Logf("%d checks while the hub wrote; final: U=%d S=%d R=%d J=%d, %s", checks, rep.Shape.U, rep.Shape.S, rep.Shape.R, rep.Shape.J, rep.Verdict)
	if _, err := admin.Shape(ctx); err != nil {
		t.Errorf("the hub after the checks: %v", err)
	}
	tok, _ := l.Hub.Token()
	noTokenIn(t, tok, map[string]string{"check": out}, l.Hub.RunDir())
}
