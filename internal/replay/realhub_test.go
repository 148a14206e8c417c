package replay_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/filesnap"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/pgtest"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/replay"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/jackc/pgx/v5"
)

// pySchema writes an empty database with a release's own ORM, its "user"
// role and its own OAuth client, as a hub's first start leaves them for
// seed.ApplyDB.
const pySchema = `
import sys
from jupyterhub import orm
db = orm.new_session_factory("sqlite:///" + sys.argv[1])()
db.add(orm.Role(name="user", scopes=["self"]))
db.add(orm.OAuthClient(identifier="jupyterhub"))
db.commit()
`

// userDB builds a "user's database" with release's own ORM in a directory
// of its own and returns its path: seed.ApplyDB writes plan with
// KubeSpawner-like rows (1 KiB state, profile user_options) whose running
// servers point at a pod address that does not exist here, as a copied
// production database does.
func userDB(t *testing.T, release string, plan seed.Plan) string {
	t.Helper()
	_, in := hubtest.Require(t, release)
	db := filepath.Join(t.TempDir(), "jupyterhub.sqlite")
	if out, err := exec.Command(in.Bin("python"), "-c", pySchema, db).CombinedOutput(); err != nil {
		t.Fatalf("make the database: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := seed.ApplyDB(ctx, plan, seed.DBOptions{
		Python: in.Bin("python"), DB: db, ServerURL: "http://10.244.3.17:8888", StateBytes: 1024,
		UserOptions: map[string]any{"profile": "gpu-large", "image": "registry.example.org/ds/notebook:2026.11", "cpu_limit": 4, "mem_limit": "16G"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestReplaySeeded: a 5.3.0 database of 1 user × 100 running + 100
// stopped named servers (J = 20,100 joined rows) and two small users is
// replayed on 5.3.0. Every running server is registered in the fleet and
// the hub keeps them (it polls each one at start-up), the start-up peak
// is above an empty hub's, the original is byte-identical afterwards, and
// under a limit below the measured peak the hub is OOM-killed.
func TestReplaySeeded(t *testing.T) {
	const release = "5.3.0"
	plan := seed.Plan{{Name: "heavy", Running: 100, Stopped: 100}, {Name: "ann", Running: 2, Stopped: 1}, {Name: "bob"}}
	db := userDB(t, release, plan)
	_, in := hubtest.Require(t, release)
	before := filesnap.Snapshot(t, filepath.Dir(db))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// the install given by path, as --jupyterhub does
	res, err := replay.Run(ctx, replay.Options{DB: "sqlite:///" + db, JupyterHub: in.Dir, Log: tlog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replay: %+v", res)
	// U counts users with spawner rows: the two seeded ones with servers
	// and bob, each with a default "" row
	want := shape.Shape{U: 3, S: 201 + 4 + 1, R: 102, J: 100*201 + 2*4}
	if got := res.Shape; got.U != want.U || got.S != want.S || got.R != want.R || got.J != want.J || got.JB <= 0 {
		t.Errorf("shape %+v, want %+v", got, want)
	}
	if res.Release != release || res.JupyterHub != in.Dir || res.Registered != 102 || !res.Healthy || res.OOMKilled || res.Upgraded {
		t.Errorf("result %+v: want healthy jupyterhub %s from %s, 102 servers registered, no upgrade", res, release, in.Dir)
	}
	if res.InitSpawners == nil || *res.InitSpawners <= 0 {
		t.Errorf("init_spawners not measured: %v", res.InitSpawners)
	}
	if res.EmptyPeakRSS <= 0 || res.PeakRSS <= res.EmptyPeakRSS+16<<20 {
		t.Errorf("peak %s is not above the empty hub's %s by the 20k joined rows' share",
			bytesize.Format(res.PeakRSS), bytesize.Format(res.EmptyPeakRSS))
	}
	filesnap.AssertUntouched(t, filepath.Dir(db), before)

	// a limit between the empty hub's peak and this database's
	limit := res.EmptyPeakRSS + (res.PeakRSS-res.EmptyPeakRSS)/3
	oom, err := replay.Run(ctx, replay.Options{DB: db, Release: release, MemoryLimit: limit, Log: tlog{t}})
	if errors.Is(err, proc.ErrNoCgroup) {
		testenv.Missing(t, fmt.Sprintf("a usable memory cgroup (%v)", err), testenv.CgroupHint)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replay under %s: %+v", bytesize.Format(limit), oom)
	if !oom.OOMKilled || oom.Healthy || oom.Limit != limit {
		t.Errorf("under %s (measured peak %s): %+v, want OOMKilled", bytesize.Format(limit), bytesize.Format(res.PeakRSS), oom)
	}
	var b strings.Builder
	if err := oom.WriteText(&b); err != nil || !strings.Contains(b.String(), "OOM-KILLED") || !strings.Contains(b.String(), "FAIL") {
		t.Errorf("text report: %v\n%s", err, b.String())
	}
	filesnap.AssertUntouched(t, filepath.Dir(db), before)
}

// pyTinyDB writes a database with a release's own ORM (no hub started):
// one user with a default row and 5 named servers, 3 of them running on a
// pod address.
const pyTinyDB = `
import sys
from jupyterhub import orm
db = orm.new_session_factory("sqlite:///" + sys.argv[1])()
u = orm.User(name="tiny")
db.add(u)
db.add(orm.Spawner(user=u, name=""))
for i in range(5):
    srv = orm.Server(proto="http", ip="10.1.2.3", port=8888, base_url="/user/tiny/s%d/" % i) if i < 3 else None
    db.add(orm.Spawner(user=u, name="s%d" % i, server=srv))
db.commit()
`

// TestReplayNewerRevision: a 5.x database cannot be replayed on 4.1.6;
// the error names the release to use, and no hub starts.
func TestReplayNewerRevision(t *testing.T) {
	hubtest.Require(t, "4.1.6")
	db := filepath.Join(t.TempDir(), "jupyterhub.sqlite")
	if out, err := exec.Command(hubtest.Python(t, "5.3.0"), "-c", pyTinyDB, db).CombinedOutput(); err != nil {
		t.Fatalf("make the database: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := filepath.Join(t.TempDir(), "run")
	_, err := replay.Run(ctx, replay.Options{DB: db, Release: "4.1.6", RunDir: run})
	if !errors.Is(err, replay.ErrNewerRevision) || !strings.Contains(err.Error(), "--release 5.5.1") {
		t.Fatalf("replay of a 5.x database on 4.1.6: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run, "hubcap-state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a hub was started: %v", err)
	}
}

type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestReplayRefusesLiveRunDir: a --run-dir whose hub still runs is
// refused before its database is touched.
func TestReplayRefusesLiveRunDir(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jupyterhub.sqlite")
	if out, err := exec.Command(hubtest.Python(t, "5.3.0"), "-c", pyTinyDB, db).CombinedOutput(); err != nil {
		t.Fatalf("make the database: %v\n%s", err, out)
	}
	run := t.TempDir()
	self, err := proc.Identify(os.Getpid()) // alive for as long as the test runs
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.WriteState(run, hub.State{Release: "5.3.0", RunDir: run, Hub: self, Proxy: self}); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(run, "jupyterhub.sqlite")
	if err := os.WriteFile(live, []byte("the running hub's database"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = replay.Run(ctx, replay.Options{DB: db, Release: "5.3.0", RunDir: run})
	if !errors.Is(err, hub.ErrAlreadyRunning) || !strings.Contains(err.Error(), "hub down") {
		t.Fatalf("replay into a live run directory: %v", err)
	}
	if b, err := os.ReadFile(live); err != nil || string(b) != "the running hub's database" {
		t.Errorf("the live database was touched: %q, %v", b, err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// pyPGHub writes a hub database into PostgreSQL (URL on stdin) with a
// release's own ORM: the role and OAuth client a hub's first start leaves,
// one user with a default row and 40 named servers, 30 of them running on
// a pod address, with KubeSpawner-like state.
const pyPGHub = `
import sys
from jupyterhub import orm
db = orm.new_session_factory(sys.stdin.read().strip())()
db.add(orm.Role(name="user", scopes=["self"]))
db.add(orm.OAuthClient(identifier="jupyterhub"))
u = orm.User(name="pg-user")
db.add(u)
db.add(orm.Spawner(user=u, name=""))
for i in range(40):
    srv = orm.Server(proto="http", ip="10.1.2.3", port=8888, base_url="/user/pg-user/s%d/" % i) if i < 30 else None
    db.add(orm.Spawner(user=u, name="s%d" % i, server=srv, state={"pod_name": "jupyter-pg-user--s%d" % i, "namespace": "jhub"} if srv else {},
                       user_options={"profile": "small"}))
db.commit()
`

// TestReplayPostgres: a hub database in PostgreSQL is copied (read-only)
// into SQLite and replayed on 5.3.0: the shape read from it, every running
// server registered, the hub healthy, and the source database unchanged.
func TestReplayPostgres(t *testing.T) {
	_, in := hubtest.Require(t, "5.3.0")
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	cmd := exec.Command(in.Bin("python"), "-c", pyPGHub)
	cmd.Stdin = strings.NewReader(url)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make the database: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := pgDigest(ctx, t, url)
	res, err := replay.Run(ctx, replay.Options{DB: url, Release: "5.3.0", Log: tlog{t}})
	if err != nil {
		t.Fatal(err)
	}
	if res.SourceEngine != "postgres" || !res.Healthy || res.Registered != 30 || res.Shape.R != 30 || res.Shape.S != 41 || res.Shape.J != 30*41 {
		t.Errorf("replay of a PostgreSQL database: %+v", res)
	}
	if strings.Contains(res.Source, c.Password()) {
		t.Errorf("the result shows the password: %s", res.Source)
	}
	if after := pgDigest(ctx, t, url); after != before {
		t.Errorf("the PostgreSQL database changed:\nbefore %s\nafter  %s", before, after)
	}
}

// pgDigest is an md5 of every row of every table of the database at url.
func pgDigest(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tb := range tables {
		var sum *string
		q := fmt.Sprintf("SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM %s x", pgx.Identifier{tb}.Sanitize())
		if err := conn.QueryRow(ctx, q).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		s := "empty"
		if sum != nil {
			s = *sum
		}
		fmt.Fprintf(&b, "%s=%s ", tb, s)
	}
	return b.String()
}
