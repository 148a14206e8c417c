package hubdb

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/pgtest"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
	"github.com/hubcap-dev/hubcap/shape"
)

// Releases installed by `make setup` (scripts/setup.sh).
var testReleases = []string{"5.3.0", "5.5.1"}

// fixtureSpec is the content the real hub's ORM writes into a fresh database.
type fixtureSpec struct {
	Users []fixtureUser `json:"users"`
}

type (
	fixtureUser    = hubsqlite.ORMUser
	fixtureSpawner = hubsqlite.ORMSpawner
)

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
	path := filepath.Join(fixtureDir, "jupyterhub-"+release+".sqlite")
	res := hubsqlite.WriteORM(tb, py, path, spec.Users, 0)
	f := &realFixture{Path: path, Release: release, Spec: spec, Version: res.Version, Revision: res.Revision, Bytes: res.Bytes}
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
		us := shape.User{Name: u.Name, S: int64(len(u.Spawners)), Bytes: int64(bytesPerUser[u.Name])}
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
		sh.Users = append(sh.Users, us)
	}
	sh.JB = -1 // unknown: the fixture reports text bytes per user, not per running row
	return sh
}

// schemaDB returns a fresh database with a JupyterHub schema: the real 5.5.1
// hub's when installed, else hubsqlite.Schema stamped with revision rev.
func schemaDB(tb testing.TB, rev string) (path string, real bool) {
	tb.Helper()
	if _, err := hub.FindRoot(); err == nil || testenv.Required() {
		f := hubFixture(tb, "5.5.1")
		path = hubsqlite.Copy(tb, f.Path)
		db := hubsqlite.Open(tb, path)
		for _, t := range []string{"spawners", "servers", "users"} {
			hubsqlite.Exec(tb, db, "DELETE FROM "+t)
		}
		hubsqlite.Exec(tb, db, "UPDATE alembic_version SET version_num = ?", rev)
		db.Close()
		return path, true
	}
	return hubsqlite.Minimal(tb, rev), false
}
