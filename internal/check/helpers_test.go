package check

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/models"
)

// ---- calibrations for tests -------------------------------------------

// Test calibrations are fitted (models.FitCalibration) on samples drawn
// around the facts note's measurements of 5.3.0 on SQLite: ~2.3 KiB and
// ~35 µs per joined row over a ~70 MiB, ~1.5 s empty hub, and for the linear
// releases ~40 KiB per running server. 3% relative noise, fixed seeds.
// They stand in for the shipped calibrations, which are one machine's
// measurements; tests never assert these figures, only what follows from
// whichever calibration is used.
const (
	testBase      = 70 << 20
	testPerJoined = 2.3 * 1024
	testPerServer = 40 * 1024
	testPerRow    = 1024
)

func testSamples(quadratic bool, seed uint64) []models.Sample {
	rng := rand.New(rand.NewPCG(seed, 7))
	plan, err := models.SweepPlan(16, models.SweepOptions{})
	if err != nil {
		panic(err)
	}
	var out []models.Sample
	for _, s := range plan {
		sh := s.Shape()
		peak := testBase + testPerServer*sh.R/8 + testPerRow*sh.S/4
		secs := 1.5 + 200e-6*sh.R
		if quadratic {
			peak += testPerJoined * sh.J
			secs += 35e-6 * sh.J
		} else {
			peak += testPerServer * sh.R
		}
		noise := func() float64 { return 1 + 0.03*rng.NormFloat64() }
		out = append(out, models.Sample{Shape: sh, PeakRSS: peak * noise(), SecondsToHealthy: secs * noise(),
			InitSpawnersSeconds: math.NaN(), SteadyRSS: math.NaN(), Tags: map[string]string{"plan": s.Label}})
	}
	return out
}

var (
	calOnce sync.Once
	calDir  string
	calErr  error
)

// testCalibrations returns a directory holding jupyterhub-5.3.0.json
// (quadratic) and jupyterhub-5.5.1.json (linear), fitted once per test
// binary.
func testCalibrations(tb testing.TB) string {
	tb.Helper()
	calOnce.Do(func() {
		calDir, calErr = os.MkdirTemp("", "hubcap-check-cal-*")
		if calErr != nil {
			return
		}
		for _, c := range []struct {
			release   string
			quadratic bool
		}{{"5.3.0", true}, {"5.5.1", false}} {
			cal, err := models.FitCalibration(testSamples(c.quadratic, 42))
			if err != nil {
				calErr = err
				return
			}
			cal.Release = c.release
			cal.Environment.Release = c.release
			cal.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := cal.SaveFile(filepath.Join(calDir, "jupyterhub-"+c.release+".json")); err != nil {
				calErr = err
				return
			}
		}
	})
	if calErr != nil {
		tb.Fatalf("test calibrations: %v", calErr)
	}
	return calDir
}

// testCalib loads one of the test calibrations.
func testCalib(tb testing.TB, release string) Calib {
	tb.Helper()
	c, err := LoadCalibrationFile(filepath.Join(testCalibrations(tb), "jupyterhub-"+release+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func testModel(tb testing.TB, release string) Model {
	tb.Helper()
	m, err := NewModel(testCalib(tb, release))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// shippedCalibration returns the shipped calibration of release from the
// repository's models/calibrations, or "" when it is not there yet.
func shippedCalibration(release string) string {
	dir := FindCalibrationsDir()
	if dir == "" {
		return ""
	}
	for _, name := range []string{"jupyterhub-" + release + ".json", release + ".json"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// ---- databases written by the real hub's ORM ---------------------------

// dbUser is one user of a database written by ormDB: a stopped default ""
// row (when Default), Running named servers r0000… with servers rows, and
// Stopped named servers s0000… without.
type dbUser struct {
	Name             string `json:"name"`
	Default          bool   `json:"default"`
	Running, Stopped int
}

// ormPy writes users through JupyterHub's own ORM (orm.new_session_factory
// is what the hub runs at start-up: create_all and an alembic stamp). Each
// spawner carries a KubeSpawner-like state padded to state_bytes of JSON.
const ormPy = `
import json, sqlite3, sys
import jupyterhub
from jupyterhub import orm

path, spec_path = sys.argv[1], sys.argv[2]
spec = json.load(open(spec_path))
session = orm.new_session_factory("sqlite:///" + path)()

def state(user, server):
    s = {"pod_name": "jupyter-%s--%s" % (user, server), "namespace": "jhub", "dns_name": "x"}
    pad = spec["state_bytes"] - len(json.dumps(s)) - 12
    if pad > 0:
        s["pad"] = "x" * pad
    return s

for u in spec["users"]:
    user = orm.User(name=u["name"])
    session.add(user)
    if u["default"]:
        session.add(orm.Spawner(user=user, name="", state=state(u["name"], "")))
    for i in range(u["Running"]):
        name = "r%04d" % i
        sp = orm.Spawner(user=user, name=name, state=state(u["name"], name), user_options={"profile": "default"})
        sp.server = orm.Server(base_url="/user/%s/%s/" % (u["name"], name))
        session.add(sp)
    for i in range(u["Stopped"]):
        name = "s%04d" % i
        session.add(orm.Spawner(user=user, name=name, state=state(u["name"], name), user_options={"profile": "default"}))
    session.commit()
session.close()
rev = sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()[0]
print(json.dumps({"version": jupyterhub.__version__, "revision": rev}))
`

// ormDB writes users into a fresh jupyterhub.sqlite in a new temporary
// directory with release's ORM and returns its path.
func ormDB(tb testing.TB, release string, users []dbUser, stateBytes int) (path, revision string) {
	tb.Helper()
	py := hubtest.Python(tb, release)
	if users == nil {
		users = []dbUser{}
	}
	dir := tb.TempDir()
	spec, _ := json.Marshal(map[string]any{"users": users, "state_bytes": stateBytes})
	specPath := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(specPath, spec, 0o600); err != nil {
		tb.Fatal(err)
	}
	path = filepath.Join(dir, "jupyterhub.sqlite")
	cmd := exec.Command(py, "-c", ormPy, path, specPath)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		e := stderr.String()
		tb.Fatalf("JupyterHub %s ORM could not write the database: %v\n%s", release, err, e[max(0, len(e)-2000):])
	}
	var res struct{ Version, Revision string }
	if err := json.Unmarshal(out, &res); err != nil {
		tb.Fatalf("ORM script output %q: %v", out, err)
	}
	if res.Version != release {
		tb.Fatalf("venv jupyterhub-%s holds JupyterHub %s", release, res.Version)
	}
	os.Remove(specPath)
	return path, res.Revision
}

// bulkUser is a user for bulkInsert: s rows (the first is the default ""
// row), the first r of them running.
type bulkUser struct {
	name string
	s, r int
}

// bulkInsert adds users, servers and spawners to a database whose schema
// the real hub created (ormDB with no users), in one transaction: the
// fast way to 100,000 rows.
func bulkInsert(tb testing.TB, path string, users []bulkUser, stateBytes int) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		st, err := tx.Prepare(q)
		if err != nil {
			tb.Fatal(err)
		}
		return st
	}
	insUser := prep("INSERT INTO users (name, admin, created, last_activity, cookie_id) VALUES (?, 0, ?, ?, ?)")
	insServer := prep("INSERT INTO servers (base_url) VALUES (?)")
	insSpawner := prep("INSERT INTO spawners (user_id, server_id, state, name, started, last_activity, user_options) VALUES (?, ?, ?, ?, ?, ?, ?)")
	now := "2026-01-01 00:00:00.000000"
	state := `{"pad": "` + strings.Repeat("x", max(0, stateBytes-11)) + `"}`
	for i, u := range users {
		res, err := insUser.Exec(u.name, now, now, fmt.Sprintf("cookie-%d", i))
		if err != nil {
			tb.Fatal(err)
		}
		uid, _ := res.LastInsertId()
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
}

// minimalSchema is enough of JupyterHub's schema for tests that need no
// real hub: the tables and columns hubdb reads.
const minimalSchema = `
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(255) UNIQUE, admin BOOLEAN, created DATETIME, last_activity DATETIME, cookie_id VARCHAR(255));
CREATE TABLE servers (id INTEGER PRIMARY KEY, base_url VARCHAR(255));
CREATE TABLE spawners (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
	server_id INTEGER REFERENCES servers (id) ON DELETE SET NULL, state TEXT, name VARCHAR(255),
	started DATETIME, last_activity DATETIME, user_options TEXT, oauth_client_id VARCHAR(255))
`

// minimalDB writes a database with minimalSchema stamped with revision rev
// ("" leaves alembic_version empty) and the given users.
func minimalDB(tb testing.TB, rev string, users []bulkUser) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "jupyterhub.sqlite")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		tb.Fatal(err)
	}
	for _, stmt := range strings.Split(minimalSchema, ";") {
		if _, err := db.Exec(stmt); err != nil {
			tb.Fatal(err)
		}
	}
	if rev != "" {
		if _, err := db.Exec("INSERT INTO alembic_version VALUES (?)", rev); err != nil {
			tb.Fatal(err)
		}
	}
	db.Close()
	bulkInsert(tb, path, users, 100)
	return path
}
