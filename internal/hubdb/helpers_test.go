package hubdb

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/pgtest"
	"github.com/hubcap-dev/hubcap/internal/testenv"
)

// Releases installed by `make setup` (scripts/setup.sh).
var testReleases = []string{"5.3.0", "5.5.1"}

// fixtureSpec is the content the real hub's ORM writes into a fresh database.
type fixtureSpec struct {
	Users []fixtureUser `json:"users"`
}

type fixtureUser struct {
	Name     string           `json:"name"`
	Spawners []fixtureSpawner `json:"spawners"`
}

type fixtureSpawner struct {
	Name        string         `json:"name"`
	Running     bool           `json:"running"`
	State       map[string]any `json:"state"`
	UserOptions map[string]any `json:"user_options"`
}

// makeFixture draws users with 0–7 spawner rows each (the default "" row
// first when present), some running, with JSON state of varied size.
func makeFixture(seed uint64, users int) fixtureSpec {
	rng := rand.New(rand.NewPCG(seed, 1))
	var spec fixtureSpec
	for i := range users {
		u := fixtureUser{Name: fmt.Sprintf("user-%02d", i)}
		n := rng.IntN(8)
		for k := range n {
			name := ""
			if k > 0 || rng.IntN(4) == 0 { // most users have the default row
				name = fmt.Sprintf("srv-%d", k)
			}
			sp := fixtureSpawner{Name: name, Running: rng.IntN(2) == 0}
			if rng.IntN(3) > 0 {
				sp.State = map[string]any{"pod_name": fmt.Sprintf("jupyter-%s-%d", u.Name, k), "pad": strings.Repeat("x", rng.IntN(300))}
			}
			if rng.IntN(2) == 0 {
				sp.UserOptions = map[string]any{"profile": "gpü", "image": strings.Repeat("i", rng.IntN(50))}
			}
			u.Spawners = append(u.Spawners, sp)
		}
		spec.Users = append(spec.Users, u)
	}
	return spec
}

// fixturePy writes a fixtureSpec through JupyterHub's own ORM
// (orm.new_session_factory is what the hub runs at start-up: create_all and
// an alembic stamp), then reports the hub's version, the stamped revision
// and, per user, the bytes JupyterHub's JSONDict stored (json.dumps).
const fixturePy = `
import json, sqlite3, sys
import jupyterhub
from jupyterhub import orm

path, spec_path = sys.argv[1], sys.argv[2]
spec = json.load(open(spec_path))
session = orm.new_session_factory("sqlite:///" + path)()
nbytes = {}
for u in spec["users"]:
    user = orm.User(name=u["name"])
    session.add(user)
    n = 0
    for sp in u["spawners"] or []:
        s = orm.Spawner(user=user, name=sp["name"], state=sp["state"], user_options=sp["user_options"])
        if sp["running"]:
            s.server = orm.Server(base_url="/user/%s/%s/" % (u["name"], sp["name"]))
        for v in (sp["state"], sp["user_options"]):
            if v is not None:
                n += len(json.dumps(v).encode("utf-8"))
        session.add(s)
    nbytes[u["name"]] = n
session.commit()
session.close()
rev = sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()[0]
print(json.dumps({"version": jupyterhub.__version__, "revision": rev, "bytes": nbytes}))
`

// realFixture is a database written by a real JupyterHub release.
type realFixture struct {
	Path     string // pristine copy; tests must copy it before use
	Release  string
	Version  string         // jupyterhub.__version__ as installed
	Revision string         // alembic_version as the hub stamped it
	Bytes    map[string]int // per user: bytes of state + user_options
	Spec     fixtureSpec
}

var (
	fixtureDir  string
	fixtureMu   sync.Mutex
	fixtureByRe = map[string]*realFixture{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hubdb-fixtures-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	pgtest.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hubFixture returns the database that JupyterHub release wrote for
// makeFixture(7, 12), creating it once per test binary.
func hubFixture(tb testing.TB, release string) *realFixture {
	tb.Helper()
	py := hubtest.Python(tb, release)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if f := fixtureByRe[release]; f != nil {
		return f
	}
	spec := makeFixture(7, 12)
	specPath := filepath.Join(fixtureDir, "spec-"+release+".json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(fixtureDir, "jupyterhub-"+release+".sqlite")
	cmd := exec.Command(py, "-c", fixturePy, path, specPath)
	cmd.Dir = fixtureDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // alembic logs its stamp there
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		e := stderr.String()
		tb.Fatalf("JupyterHub %s ORM could not create the fixture database: %v\n%s", release, err, e[max(0, len(e)-2000):])
	}
	f := &realFixture{Path: path, Release: release, Spec: spec}
	var res struct {
		Version, Revision string
		Bytes             map[string]int
	}
	if err := json.Unmarshal(out, &res); err != nil {
		tb.Fatalf("fixture script output %q: %v", out, err)
	}
	f.Version, f.Revision, f.Bytes = res.Version, res.Revision, res.Bytes
	if err := os.Chmod(path, 0o444); err != nil { // nobody writes the pristine copy
		tb.Fatal(err)
	}
	fixtureByRe[release] = f
	return f
}

// expectShape is the shape of a fixture, computed from its spec.
func expectShape(spec fixtureSpec, bytesPerUser map[string]int) Shape {
	var sh Shape
	for _, u := range spec.Users {
		us := UserShape{Name: u.Name, S: int64(len(u.Spawners)), Bytes: int64(bytesPerUser[u.Name])}
		for _, s := range u.Spawners {
			if s.Running {
				us.R++
				sh.Servers++
			}
		}
		us.J = us.R * us.S
		sh.U++
		sh.S += us.S
		sh.R += us.R
		sh.J += us.J
		sh.Spawners += us.S
		sh.PerUser = append(sh.PerUser, us)
	}
	sh.State.JoinedBytes = -1 // unknown: the fixture reports text bytes per user, not per running row
	return sh
}

// copyDB copies the database file src into a fresh temporary directory.
func copyDB(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "jupyterhub.sqlite")
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// writeDB opens a test-owned copy read-write (never the production path).
func writeDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustExec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// minimalSchema is enough of JupyterHub's schema for the tests that do not
// need a real hub: the tables and columns hubdb reads.
const minimalSchema = `
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(255) UNIQUE, cookie_id VARCHAR(255));
CREATE TABLE servers (id INTEGER PRIMARY KEY, base_url VARCHAR(255));
CREATE TABLE spawners (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
	server_id INTEGER REFERENCES servers (id) ON DELETE SET NULL, state TEXT, name VARCHAR(255),
	started DATETIME, last_activity DATETIME, user_options TEXT, oauth_client_id VARCHAR(255));
`

// schemaDB returns a fresh database with a JupyterHub schema: the real 5.5.1
// hub's when installed, else minimalSchema stamped with revision rev.
func schemaDB(tb testing.TB, rev string) (path string, real bool) {
	tb.Helper()
	if _, err := hub.FindRoot(); err == nil || testenv.Required() {
		f := hubFixture(tb, "5.5.1")
		path = copyDB(tb, f.Path)
		db := writeDB(tb, path)
		for _, t := range []string{"spawners", "servers", "users"} {
			mustExec(tb, db, "DELETE FROM "+t)
		}
		mustExec(tb, db, "UPDATE alembic_version SET version_num = ?", rev)
		db.Close()
		return path, true
	}
	path = filepath.Join(tb.TempDir(), "jupyterhub.sqlite")
	db := writeDB(tb, path)
	for _, stmt := range strings.Split(minimalSchema, ";") {
		if strings.TrimSpace(stmt) != "" {
			mustExec(tb, db, stmt)
		}
	}
	mustExec(tb, db, "INSERT INTO alembic_version VALUES (?)", rev)
	db.Close()
	return path, false
}

// genUser is one generated user: s spawner rows (the first is the default
// "" row) of which the first r are running, each with stateBytes of state.
type genUser struct {
	name       string
	s, r       int
	stateBytes int
}

// bulkInsert writes users, servers and spawners in one transaction.
func bulkInsert(tb testing.TB, path string, users []genUser) {
	tb.Helper()
	db := writeDB(tb, path)
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	// The real schema has more columns than minimalSchema.
	full := strings.Contains(mustColumns(tb, tx, "users"), "last_activity")
	q := "INSERT INTO users (name, cookie_id) VALUES (?, ?)"
	if full {
		q = "INSERT INTO users (name, admin, created, last_activity, cookie_id) VALUES (?, 0, ?, ?, ?)"
	}
	insUser, err := tx.Prepare(q)
	if err != nil {
		tb.Fatal(err)
	}
	insServer, err := tx.Prepare("INSERT INTO servers (base_url) VALUES (?)")
	if err != nil {
		tb.Fatal(err)
	}
	insSpawner, err := tx.Prepare("INSERT INTO spawners (user_id, server_id, state, name, started, last_activity, user_options) VALUES (?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		tb.Fatal(err)
	}
	now := "2026-01-01 00:00:00.000000"
	for i, u := range users {
		var res sql.Result
		if full {
			res, err = insUser.Exec(u.name, now, now, fmt.Sprintf("cookie-%d", i))
		} else {
			res, err = insUser.Exec(u.name, fmt.Sprintf("cookie-%d", i))
		}
		if err != nil {
			tb.Fatal(err)
		}
		uid, _ := res.LastInsertId()
		state := `{"pad": "` + strings.Repeat("x", max(0, u.stateBytes-11)) + `"}`
		for k := range u.s {
			name := ""
			if k > 0 {
				name = fmt.Sprintf("s%d", k)
			}
			var sid any
			if k < u.r {
				res, err := insServer.Exec(fmt.Sprintf("/user/%s/%s/", u.name, name))
				if err != nil {
					tb.Fatal(err)
				}
				sid, _ = res.LastInsertId()
			}
			if _, err := insSpawner.Exec(uid, sid, state, name, now, now, `{}`); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	db.Close()
}

func mustColumns(tb testing.TB, tx *sql.Tx, table string) string {
	tb.Helper()
	rows, err := tx.Query("SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	return strings.Join(cols, ",")
}
