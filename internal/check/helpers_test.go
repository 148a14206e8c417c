package check

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
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
type dbUser = hubsqlite.ORMUser

// ormDB writes users into a fresh jupyterhub.sqlite in a new temporary
// directory with release's ORM, each spawner with a KubeSpawner-like state
// padded to stateBytes of JSON, and returns its path.
func ormDB(tb testing.TB, release string, users []dbUser, stateBytes int) (path, revision string) {
	tb.Helper()
	py := hubtest.Python(tb, release)
	path = filepath.Join(tb.TempDir(), "jupyterhub.sqlite")
	res := hubsqlite.WriteORM(tb, py, path, users, stateBytes)
	if res.Version != release {
		tb.Fatalf("venv jupyterhub-%s holds JupyterHub %s", release, res.Version)
	}
	return path, res.Revision
}

// minimalDB writes a database with hubsqlite.Schema stamped with revision
// rev ("" leaves alembic_version empty) and the given users.
func minimalDB(tb testing.TB, rev string, users []hubsqlite.User) string {
	tb.Helper()
	path := hubsqlite.Minimal(tb, rev)
	hubsqlite.Insert(tb, path, users)
	return path
}
