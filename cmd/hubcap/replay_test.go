package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/replay"
)

func TestReplayCommandErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", "-h"}, ExitOK, "--memory-limit"},
		{[]string{"replay"}, ExitUsage, "no database given"},
		{[]string{"replay", "--db", "x.sqlite"}, ExitUsage, "no release given"},
		{[]string{"replay", "--db", "x.sqlite", "--release", "5.3.0", "--memory-limit", "lots"}, ExitUsage, "--memory-limit"},
		{[]string{"replay", "--db", "x.sqlite", "--release", "5.3.0", "--memory-limit", "16Mi"}, ExitUsage, "at least 64Mi"},
		{[]string{"replay", "--db", filepath.Join(dir, "nope.sqlite"), "--release", "5.3.0"}, ExitDBNotFound, "nope.sqlite"},
		{[]string{"replay", "--db", "postgresql://hub@127.0.0.1:1/jupyterhub?connect_timeout=5", "--release", "5.3.0"}, ExitDBConnect, "PostgreSQL"},
		{[]string{"replay", "--db", "x.sqlite", "--release", "5.3.0", "stray"}, ExitUsage, "unexpected arguments"},
	} {
		code, out, errs := runArgs(t, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("hubcap %q: exit %d (want %d), output:\n%s%s\nwant it to contain %q", c.args, code, c.code, out, errs, c.want)
		}
	}
	if _, out, _ := runArgs(t, "help"); !strings.Contains(out, "replay") {
		t.Errorf("usage does not list replay:\n%s", out)
	}
}

// pyTinyDB writes a database with a release's own ORM (no hub started):
// one user with a default row and 5 named servers, 3 of them running on a
// pod address.
const pyTinyDB = `
import sys
from jupyterhub import orm
db = orm.new_session_factory("sqlite:///" + sys.argv[1])()
u = orm.User(name="cli-user")
db.add(u)
db.add(orm.Spawner(user=u, name=""))
for i in range(5):
    srv = orm.Server(proto="http", ip="10.1.2.3", port=8888, base_url="/user/cli-user/s%d/" % i) if i < 3 else None
    db.add(orm.Spawner(user=u, name="s%d" % i, server=srv, state={"pod_name": "jupyter-cli-user--s%d" % i} if srv else {}))
db.commit()
`

// TestReplayCommandJSON: hubcap replay --json of a small database written
// by 4.1.6's ORM on 5.3.0 migrates the copy with upgrade-db and says so,
// and prints the measured start-up, the shape and the three running
// servers registered; the original is unchanged.
func TestReplayCommandJSON(t *testing.T) {
	hubtest.Require(t, "5.3.0")
	py := hubtest.Python(t, "4.1.6")
	db := filepath.Join(t.TempDir(), "jupyterhub.sqlite")
	if out, err := exec.Command(py, "-c", pyTinyDB, db).CombinedOutput(); err != nil {
		t.Fatalf("make the database: %v\n%s", err, out)
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runArgs(t, "replay", "--db", db, "--release", "5.3.0", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	var res replay.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if res.Revision != "0eee8c825d24" || !res.Upgraded || res.UpgradedTo != "4621fec11365" {
		t.Errorf("replay of a 4.1.6 database on 5.3.0: revision %s, upgraded %v to %s; want 0eee8c825d24 upgraded to 4621fec11365",
			res.Revision, res.Upgraded, res.UpgradedTo)
	}
	if !strings.Contains(errs, "upgrade-db") {
		t.Errorf("the progress lines do not say upgrade-db ran:\n%s", errs)
	}
	if res.Release != "5.3.0" || !res.Healthy || res.Registered != 3 || res.PeakRSS <= 0 || res.Seconds <= 0 ||
		res.Shape.U != 1 || res.Shape.S != 6 || res.Shape.R != 3 || res.Shape.J != 18 {
		t.Errorf("replay --json: %+v", res)
	}
	if after, err := os.ReadFile(db); err != nil || string(after) != string(before) {
		t.Errorf("the original database changed (%v)", err)
	}
}

// TestCheckReplay: check --replay puts a measured restart of the same
// shape beside the prediction (JSON field and text line); an unreadable
// replay file is a usage error.
func TestCheckReplay(t *testing.T) {
	dir := t.TempDir()
	cal := checkCalibration(t, dir, "5.3.0")
	heavy := checkDB(t, "4621fec11365", 401, 400)
	rp := filepath.Join(dir, "replay.json")
	body := `{"release": "5.3.0", "shape": {"users": 1, "spawner_rows": 401, "running": 400, "joined_rows": 160400},
	  "memory_limit": 0, "healthy": true, "oom_killed": false, "peak_rss": 536870912, "seconds_to_healthy": 7.5, "init_spawners_seconds": 5.1}`
	if err := os.WriteFile(rp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--db", heavy, "--release", "5.3.0", "--memory-limit", "4Gi", "--calibration", cal, "--replay", rp}
	code, out, errs := runArgs(t, append(args, "--json")...)
	var r check.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d: %v\n%s%s", code, err, out, errs)
	}
	if r.Replay == nil || !r.Replay.SameShape || r.Replay.PeakRSS != 512<<20 || r.Replay.PeakError == nil {
		t.Errorf("report's replay: %+v", r.Replay)
	}
	_, out, _ = runArgs(t, args...)
	if !strings.Contains(out, "replay         measured peak 512 MiB") || !strings.Contains(out, "% below it") && !strings.Contains(out, "% above it") {
		t.Errorf("text report lacks the replay line:\n%s", out)
	}
	code, out, errs = runArgs(t, "check", "--db", heavy, "--release", "5.3.0", "--calibration", cal, "--replay", cal)
	if code != ExitUsage || !strings.Contains(errs, "--replay") {
		t.Errorf("--replay of a calibration file: exit %d\n%s%s", code, out, errs)
	}
}
