package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
		{[]string{"replay", "--db", "postgresql://hub@db/jupyterhub", "--release", "5.3.0"}, ExitUsage, "PostgreSQL"},
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
		res.Shape != (replay.Shape{U: 1, S: 6, R: 3, J: 18, JoinedBytes: res.Shape.JoinedBytes}) {
		t.Errorf("replay --json: %+v", res)
	}
	if after, err := os.ReadFile(db); err != nil || string(after) != string(before) {
		t.Errorf("the original database changed (%v)", err)
	}
}
