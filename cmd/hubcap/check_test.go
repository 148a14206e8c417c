package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
	"github.com/hubcap-dev/hubcap/models"
)

// checkDB writes a database with hubsqlite.Schema, revision rev and one
// user holding s rows of which r run.
func checkDB(t *testing.T, rev string, s, r int) string {
	t.Helper()
	path := hubsqlite.Minimal(t, rev)
	hubsqlite.Insert(t, path, []hubsqlite.User{{Name: "heavy", S: s, R: r}})
	return path
}

// checkCalibration writes a quadratic calibration for release, fitted on
// synthetic samples (~2.3 KiB per joined row over 70 MiB, 3% noise).
func checkCalibration(t *testing.T, dir, release string) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	plan, err := models.SweepPlan(12, models.SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var samples []models.Sample
	for _, s := range plan {
		sh := s.Shape()
		samples = append(samples, models.Sample{Shape: sh, PeakRSS: (70<<20 + 2355*sh.J) * (1 + 0.03*rng.NormFloat64()),
			SecondsToHealthy: 1.5 + 35e-6*sh.J, InitSpawnersSeconds: math.NaN(), SteadyRSS: math.NaN()})
	}
	cal, err := models.FitCalibration(samples)
	if err != nil {
		t.Fatal(err)
	}
	cal.Release = release
	path := filepath.Join(dir, "jupyterhub-"+release+".json")
	if err := cal.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func closedURL(t *testing.T, scheme string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return scheme + "://" + addr
}

func fakeHubAPI(t *testing.T, userStatus int, userBody string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/hub/api/":
			fmt.Fprint(w, `{"version": "5.3.0"}`)
		case "/hub/api/user":
			w.WriteHeader(userStatus)
			fmt.Fprint(w, userBody)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCheckExitCodes: every bad input gives its message and its own exit
// code, FAIL gives 20, and PASS/WARN 0.
func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	cal := checkCalibration(t, dir, "5.3.0")
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello\n"), 0o644)
	other := filepath.Join(dir, "grafana.db")
	if db, err := sql.Open("sqlite", "file:"+other); err == nil {
		db.Exec("CREATE TABLE dashboard (id INTEGER PRIMARY KEY)")
		db.Close()
	}
	heavy := checkDB(t, "4621fec11365", 1001, 1000) // J ≈ 1,000,000: gigabytes on 5.3.0
	small := checkDB(t, "4621fec11365", 3, 2)
	unknown := checkDB(t, "deadbeefcafe", 3, 2)
	notHub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		fmt.Fprint(w, "<h1>Not Found</h1>")
	}))
	defer notHub.Close()
	userTok := fakeHubAPI(t, 200, `{"kind": "user", "name": "ada", "scopes": ["read:users!user=ada"]}`)
	badTok := fakeHubAPI(t, 401, `{"status": 401, "message": "Missing or invalid credentials."}`)
	tokFile := filepath.Join(dir, "token")
	os.WriteFile(tokFile, []byte("tok-0123456789\n"), 0o600)
	t.Setenv(TokenEnv, "")
	t.Setenv(check.HomeEnv, t.TempDir()) // no shipped calibrations

	cases := []struct {
		name string
		args []string
		env  string // HUBCAP_TOKEN
		code int
		say  string
	}{
		{"fail", []string{"--db", heavy, "--release", "5.3.0", "--memory-limit", "1Gi", "--calibration", cal}, "", ExitCheckFailed, "hubcap check: FAIL"},
		{"pass", []string{"--db", small, "--release", "5.3.0", "--memory-limit", "3Gi", "--calibration", cal}, "", ExitOK, "hubcap check: PASS"},
		{"warn without release", []string{"--db", small, "--memory-limit", "3Gi", "--calibration", cal}, "", ExitOK, "pass --release"},
		{"missing file", []string{"--db", filepath.Join(dir, "nope.sqlite"), "--calibration", cal}, "", ExitDBNotFound, "kubectl cp"},
		{"not SQLite", []string{"--db", text, "--calibration", cal}, "", ExitNotSQLite, "not a SQLite database"},
		{"not JupyterHub", []string{"--db", other, "--calibration", cal}, "", ExitNotHubDB, "not a JupyterHub database"},
		{"unknown revision", []string{"--db", unknown, "--calibration", cal}, "", ExitUnknownRevision, "--release"},
		{"Postgres refused", []string{"--db", closedURL(t, "postgresql") + "/jupyterhub", "--calibration", cal}, "", ExitDBConnect, "cannot connect to PostgreSQL"},
		{"token lacks scopes", []string{"--hub", userTok, "--calibration", cal}, "tok-1", ExitTokenScopes, "lacks scope list:users and read:servers"},
		{"token rejected", []string{"--hub", badTok, "--token-file", tokFile, "--calibration", cal}, "", ExitTokenRejected, "401"},
		{"not a hub", []string{"--hub", notHub.URL, "--calibration", cal}, "tok-1", ExitNotAHub, "not a JupyterHub"},
		{"hub unreachable", []string{"--hub", closedURL(t, "http"), "--calibration", cal}, "tok-1", ExitHubUnreachable, "cannot reach"},
		{"no calibration", []string{"--db", small}, "", ExitNoCalibration, "--calibration FILE"},
		{"bad calibration", []string{"--db", small, "--calibration", text}, "", ExitNoCalibration, "notes.txt"},
		{"no token", []string{"--hub", "http://127.0.0.1:1"}, "", ExitUsage, "HUBCAP_TOKEN"},
		{"token in argv", []string{"--hub", "http://127.0.0.1:1", "--token", "tok-1"}, "", ExitUsage, "--token is refused"},
		{"both sources", []string{"--db", small, "--hub", "http://h"}, "tok-1", ExitUsage, "not both"},
		{"no source", nil, "", ExitUsage, "--db"},
		{"bad limit", []string{"--db", small, "--memory-limit", "3 gigs"}, "", ExitUsage, "invalid memory size"},
		{"bad release", []string{"--db", small, "--release", "latest"}, "", ExitUsage, "5.3.0"},
		{"bad DSN", []string{"--db", "mysql://h/db"}, "", ExitUsage, "bad database URL"},
	}
	seen := map[int]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(TokenEnv, c.env)
			code, out, errs := runArgs(t, append([]string{"check"}, c.args...)...)
			if code != c.code || !strings.Contains(out+errs, c.say) {
				t.Errorf("hubcap check %q: exit %d (want %d), output:\n%s%s\nwant it to say %q", c.args, code, c.code, out, errs, c.say)
			}
			for _, secret := range []string{"tok-1", "tok-0123456789"} {
				if strings.Contains(out+errs, secret) {
					t.Errorf("output shows the token %q", secret)
				}
			}
			if c.code >= ExitDBNotFound {
				if prev, dup := seen[c.code]; dup && prev != c.name && !strings.HasPrefix(c.name, "bad calibration") {
					t.Errorf("exit code %d shared by %q and %q", c.code, prev, c.name)
				}
				seen[c.code] = c.name
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	dir := t.TempDir()
	cal := checkCalibration(t, dir, "5.3.0")
	heavy := checkDB(t, "4621fec11365", 401, 400)
	code, out, errs := runArgs(t, "check", "--db", "sqlite:///"+heavy, "--release", "5.3.0", "--memory-limit", "64Mi", "--calibration", cal, "--json")
	if code != ExitCheckFailed {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var r check.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output is not a report: %v\n%s", err, out)
	}
	if r.Verdict != check.Fail || r.Shape.J != 400*401 || r.TopUsers[0].Name != "heavy" || r.MemoryLimit != 64<<20 {
		t.Errorf("report %+v", r)
	}
	if errs != "" {
		t.Errorf("stderr on FAIL with --json: %q", errs)
	}
}
