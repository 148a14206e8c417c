package acceptance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/pgtest"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// pgPlan is the shape seeded into a hub on SQLite and into one on
// PostgreSQL: one user with many running and some stopped named servers
// (J = 100 × 121 = 12,100 joined rows at a 5.3.0 start-up) and light users.
var pgPlan = seed.Plan{
	{Name: "pg-heavy", Running: 100, Stopped: 20},
	{Name: "pg-a", Running: 2, Stopped: 1},
	{Name: "pg-b", Running: 1},
	{Name: "pg-c", Stopped: 2},
}

// backendRun is what one backend gave: the restart measured on it and
// hubcap check --db's report of it.
type backendRun struct {
	restart hub.StartReport
	running int64 // servers the hub's API lists as ready after the restart
	report  check.Report
	code    int
}

// TestPostgresHub runs JupyterHub 5.3.0 on PostgreSQL (a throwaway
// cluster; psycopg2 in the venv) and on SQLite, seeds the same shape into
// both with the hub's own ORM (seed.ApplyDB, hub stopped), restarts each and
// measures the start-up, and runs hubcap check --db against each database
// while its hub runs: the same shape, verdict, prediction and exit code;
// every seeded server running again after the restart; the PostgreSQL
// password in no output, log or file of the run.
func TestPostgresHub(t *testing.T) {
	const release = "5.3.0"
	root, install := hubtest.Require(t, release)
	pg := pgtest.Start(t)
	runs := map[string]backendRun{}
	for _, backend := range []string{"sqlite", "postgresql"} {
		t.Run(backend, func(t *testing.T) {
			var dbURL string
			if backend == "postgresql" {
				dbURL = pg.CreateDB(t)
			}
			l := localhubtest.Start(t, release, localhub.Options{Hub: hub.Options{DBURL: dbURL}})
			if got := l.Hub.DBURL(); !strings.HasPrefix(got, backend) {
				t.Fatalf("the hub's database is %s, want %s", hubdbRedact(got), backend)
			}
			admin := localhubtest.Admin(t, l, "pg-")
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			hubtest.StopHubProcess(ctx, t, l.Hub)
			o := seed.DBOptions{Python: install.Bin("python"), Fleet: l.Fleet, ServerURL: l.FleetURL,
				HubAPIURL: fmt.Sprintf("http://127.0.0.1:%d/hub/api", l.Hub.Ports().Hub)}
			if backend == "postgresql" {
				o.DBURL = dbURL
			} else {
				o.DB = filepath.Join(l.Hub.RunDir(), hub.SQLiteFile)
			}
			res, err := seed.ApplyDB(ctx, pgPlan, o)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := l.Hub.Restart(ctx)
			if err != nil || rep.Outcome.Kind != hub.OutcomeHealthy {
				t.Fatalf("restart on %s: %v %+v", backend, err, rep.Outcome)
			}
			t.Logf("%s: seeded %d rows in %.1fs; restart: %s", backend, res.NewRows, res.Elapsed.Seconds(), rep.Summary())
			var r backendRun
			r.restart = rep
			r.running = readyServers(ctx, t, admin)

			// hubcap check --db while the hub runs; the PostgreSQL password
			// goes through PGPASSWORD, not argv.
			dsn, env := dbURL, []string(nil)
			if backend == "postgresql" {
				u, _ := url.Parse(dbURL)
				pw, _ := u.User.Password()
				u.User = url.User(u.User.Username())
				dsn, env = u.String(), []string{"PGPASSWORD=" + pw}
			} else {
				dsn = l.Hub.DBURL()
			}
			cmd := exec.Command(hubcapBin(t, root), "check", "--db", dsn, "--release", release, "--memory-limit", "128Mi", "--json")
			cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			r.code = cmd.ProcessState.ExitCode()
			if jerr := json.Unmarshal(out, &r.report); jerr != nil {
				t.Fatalf("check --db on %s: exit %d, %v; %v\n%s%s", backend, r.code, err, jerr, out, stderr.String())
			}
			runs[backend] = r

			tok, err := l.Hub.Token()
			if err != nil {
				t.Fatal(err)
			}
			texts := map[string]string{"check output": string(out), "check stderr": stderr.String()}
			noTokenIn(t, tok, texts, l.Hub.RunDir())
			noTokenIn(t, pg.Password(), texts, l.Hub.RunDir())
			if fi, err := os.Stat(filepath.Join(l.Hub.RunDir(), "hub-env.json")); err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("the hub's environment file (which holds the database URL) has mode %v, want 0600", fi.Mode())
			}
		})
	}
	sq, pq := runs["sqlite"], runs["postgresql"]
	if sq.report.Verdict == "" || pq.report.Verdict == "" {
		t.Fatal("a backend did not finish")
	}
	const pgJ = 100*121 + 2*4 + 1*2 // Σ R_u·S_u, default rows included
	var wantR, wantS int64
	for _, u := range pgPlan {
		wantR += int64(u.Running)
		wantS += int64(u.Running+u.Stopped) + 1 // + the default row
	}
	for name, r := range runs {
		if sh := r.report.Shape; sh.U != int64(len(pgPlan)) || sh.S != wantS || sh.R != wantR || sh.J != pgJ {
			t.Errorf("%s: check --db shape U=%d S=%d R=%d J=%d, want U=%d S=%d R=%d J=%d", name, sh.U, sh.S, sh.R, sh.J, len(pgPlan), wantS, wantR, pgJ)
		}
		if r.running != wantR {
			t.Errorf("%s: %d servers ready after the restart, want %d", name, r.running, wantR)
		}
		t.Logf("%s: restart %.2fs to healthy, peak %s; check: %s, predicted peak %s, exit %d",
			name, r.restart.SecondsToHealthy, bytesize.Format(r.restart.PeakRSS), r.report.Verdict, bytesize.Format(int64(r.report.Peak.Point)), r.code)
	}
	if sq.report.Shape.J != pq.report.Shape.J || sq.report.Shape.S != pq.report.Shape.S || !reflect.DeepEqual(sq.report.Shape.State, pq.report.Shape.State) {
		t.Errorf("shapes differ: SQLite %+v, PostgreSQL %+v", sq.report.Shape, pq.report.Shape)
	}
	if sq.report.Verdict != pq.report.Verdict || sq.report.Peak != pq.report.Peak || sq.code != pq.code ||
		sq.report.Release.Version != pq.report.Release.Version {
		t.Errorf("verdicts differ: SQLite %s %v exit %d, PostgreSQL %s %v exit %d",
			sq.report.Verdict, sq.report.Peak, sq.code, pq.report.Verdict, pq.report.Peak, pq.code)
	}
	if sq.report.Verdict != check.Fail || sq.code != 20 {
		t.Errorf("verdict %s exit %d under 128Mi for J=%d on 5.3.0; want FAIL, exit 20", sq.report.Verdict, sq.code, sq.report.Shape.J)
	}
}

// readyServers waits until no server is pending and counts the ready ones.
func readyServers(ctx context.Context, t *testing.T, c *hubapi.Client) int64 {
	t.Helper()
	for range 120 {
		users, err := c.ListUsers(ctx, hubapi.ListOptions{IncludeStoppedServers: true})
		if err != nil {
			t.Fatal(err)
		}
		var pending, ready int64
		for _, u := range users {
			for _, s := range u.Servers {
				switch {
				case s.Active() && !s.Ready:
					pending++
				case s.Ready:
					ready++
				}
			}
		}
		if pending == 0 {
			return ready
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("servers still pending a minute after the restart")
	return 0
}

// hubdbRedact hides a URL's password for messages.
func hubdbRedact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}
