package acceptance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/fleet"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/attendee"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// hubDBFile is the SQLite file the harness configures in the hub's run
// directory (c.JupyterHub.db_url in internal/hub/config.go).
const hubDBFile = "jupyterhub.sqlite"

// slowSpawner makes every start take 1.5 s, longer than the second the hub's
// spawn page waits, so browsers see the spawn-pending page and follow its
// progress event stream.
const slowSpawner = `import asyncio
from hubcap_fleetspawner import FleetSpawner


class SlowFleetSpawner(FleetSpawner):
    async def start(self):
        await asyncio.sleep(1.5)
        return await super().start()


c.JupyterHub.spawner_class = SlowFleetSpawner
`

// attendeeCount is how many attendees the acceptance test runs at once.
const attendeeCount = 50

// TestAttendees is issue 3's acceptance test, on each release: 50
// attendees log in through the hub's login form at once, each starts a named
// server (most the browser way through spawn-pending and its progress
// stream, every fourth through the REST API with a token it makes itself),
// follows OAuth into it, saves and opens a notebook, starts a kernel, runs
// print(6*7) over the websocket (v1, legacy or negotiated) and checks 42.
// The DB shape computed from the API equals the one read from the hub's
// SQLite file while the servers run, after the attendees stopped them
// (half removing their named server) and logged out, and after the users are
// deleted.
func TestAttendees(t *testing.T) {
	for _, rel := range releases {
		t.Run(rel, func(t *testing.T) {
			start := time.Now()
			l := localhubtest.Start(t, rel, localhub.Options{
				Fleet: fleet.Config{ExecTime: fleet.ExecTime{Mean: 5 * time.Millisecond}, LabPageBytes: 20000},
				Hub:   hub.Options{ExtraConfig: slowSpawner},
			})
			hubUp := time.Since(start)
			const prefix = "hubcap-att-"
			admin := localhubtest.Admin(t, l, prefix)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			buf := &samples.Buffer{}
			dbPath := filepath.Join(l.Hub.RunDir(), hubDBFile)

			sessions := make([]*attendee.Session, attendeeCount)
			for i := range sessions {
				cfg := attendee.Config{
					HubURL:       l.Hub.URL(),
					Username:     fmt.Sprintf("%s%02d", prefix, i),
					Password:     fmt.Sprintf("any-password-%d", i),
					Server:       "ws",
					Sink:         buf,
					Rand:         rand.NewPCG(uint64(i), 7),
					Tags:         map[string]string{"vu": fmt.Sprint(i)},
					RemoveServer: i%2 == 0,
					// A hub on two busy cores (CI runs other packages' hubs
					// at the same time) can take long to answer 50 logins
					// at once; the test asserts success, not speed.
					PhaseTimeouts: patientTimeouts(),
				}
				switch i % 4 {
				case 1:
					cfg.KernelProtocol = kernel.ProtocolLegacy
				case 2:
					cfg.Spawn = attendee.SpawnAPI
				case 3:
					cfg.KernelProtocol = kernel.ProtocolV1
				}
				s, err := attendee.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				sessions[i] = s
			}
			runAll := func(f func(s *attendee.Session) error) error {
				var wg sync.WaitGroup
				errs := make([]error, len(sessions))
				for i, s := range sessions {
					wg.Go(func() { errs[i] = f(s) })
				}
				wg.Wait()
				return errors.Join(errs...)
			}

			journeyStart := time.Now()
			if err := runAll(func(s *attendee.Session) error {
				return s.Run(ctx, attendee.Journey{KeepServer: true, SkipLogout: true})
			}); err != nil {
				t.Fatal(err)
			}
			journey := time.Since(journeyStart)
			for _, p := range []attendee.Phase{attendee.PhaseLogin, attendee.PhaseSpawn, attendee.PhaseOAuth, attendee.PhaseLabLoad,
				attendee.PhaseListContents, attendee.PhaseSaveNotebook, attendee.PhaseOpenNotebook, attendee.PhaseStartKernel,
				attendee.PhaseConnectKernel, attendee.PhaseExecute, attendee.PhaseShutdownKernel} {
				if ok, failed := countPhase(buf, p); ok != attendeeCount || failed != 0 {
					t.Errorf("%s: %d ok, %d failed samples; want %d ok", p, ok, failed, attendeeCount)
				}
			}
			for _, smp := range buf.Samples() {
				switch smp.Metric {
				case attendee.MetricOAuthRedirects:
					// /user/u/ws/ → lab → authorize → oauth_callback
					if smp.Value < 3 {
						t.Errorf("vu %s: %v OAuth redirects", smp.Tags["vu"], smp.Value)
					}
				case attendee.MetricErrors, attendee.MetricWSDrops:
					t.Errorf("unexpected %s sample %v", smp.Metric, smp.Tags)
				}
				for k, v := range smp.Tags {
					if strings.Contains(v, "any-password") {
						t.Errorf("sample %s tag %s carries the password", smp.Metric, k)
					}
				}
			}

			running := apiShape(ctx, t, admin)
			compareShapes(ctx, t, "servers running", running, dbPath)
			if got := attendeeRows(running, prefix); got.R != attendeeCount || got.S != 2*attendeeCount {
				t.Errorf("servers running: attendees hold %d running of %d rows, want %d of %d (default row + ws each)",
					got.R, got.S, attendeeCount, 2*attendeeCount)
			}

			stopStart := time.Now()
			if err := runAll(func(s *attendee.Session) error {
				if err := s.StopServer(ctx); err != nil {
					return err
				}
				return s.Logout(ctx)
			}); err != nil {
				t.Fatal(err)
			}
			stop := time.Since(stopStart)
			for _, p := range []attendee.Phase{attendee.PhaseStopServer, attendee.PhaseLogout} {
				if ok, failed := countPhase(buf, p); ok != attendeeCount || failed != 0 {
					t.Errorf("%s: %d ok, %d failed samples; want %d ok", p, ok, failed, attendeeCount)
				}
			}
			stopped := apiShape(ctx, t, admin)
			compareShapes(ctx, t, "servers stopped", stopped, dbPath)
			// every attendee keeps its default row; odd ones keep their stopped ws row
			if got := attendeeRows(stopped, prefix); got.R != 0 || got.S != attendeeCount+attendeeCount/2 {
				t.Errorf("servers stopped: attendees hold %d running of %d rows, want 0 of %d", got.R, got.S, attendeeCount+attendeeCount/2)
			}
			if n := l.Fleet.Len(); n != 0 {
				t.Errorf("%d servers still registered with the fleet after every attendee stopped", n)
			}

			for _, s := range sessions {
				if err := admin.DeleteUser(ctx, s.Username()); err != nil {
					t.Error(err)
				}
			}
			gone := apiShape(ctx, t, admin)
			compareShapes(ctx, t, "users deleted", gone, dbPath)
			if got := attendeeRows(gone, prefix); got.U != 0 {
				t.Errorf("%d attendee users left after deleting them", got.U)
			}
			t.Logf("%s: %d attendees; hub up in %.1fs, journeys (login … execute, kernel shut down) %.1fs, stop+logout %.1fs, total %.1fs; shape with servers running U=%d S=%d R=%d J=%d",
				rel, attendeeCount, hubUp.Seconds(), journey.Seconds(), stop.Seconds(), time.Since(start).Seconds(),
				running.U, running.S, running.R, running.J)
		})
	}
}

// countPhase counts a phase's samples by result.
func countPhase(buf *samples.Buffer, p attendee.Phase) (ok, failed int) {
	for _, s := range buf.Samples() {
		if s.Metric == attendee.PhaseMetric[p] {
			if s.Tags["result"] == "ok" {
				ok++
			} else {
				failed++
			}
		}
	}
	return ok, failed
}

func apiShape(ctx context.Context, t *testing.T, c *hubapi.Client) shape.Shape {
	t.Helper()
	sh, err := c.Shape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// attendeeRows sums the shape of the users whose name has prefix.
func attendeeRows(sh shape.Shape, prefix string) (sum struct{ U, S, R int64 }) {
	for _, u := range sh.Users {
		if strings.HasPrefix(u.Name, prefix) {
			sum.U++
			sum.S += u.S
			sum.R += u.R
		}
	}
	return sum
}

// compareShapes reads the hub's database read-only with hubdb and checks
// that the shape the API gave matches it, totals and per user.
func compareShapes(ctx context.Context, t *testing.T, when string, api shape.Shape, dbPath string) {
	t.Helper()
	db, err := hubdb.Open(ctx, dbPath)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	defer db.Close()
	got, err := db.Shape(ctx)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if api.U != got.U || api.S != got.S || api.R != got.R || api.J != got.J {
		t.Errorf("%s: API shape U=%d S=%d R=%d J=%d, database U=%d S=%d R=%d J=%d",
			when, api.U, api.S, api.R, api.J, got.U, got.S, got.R, got.J)
	}
	inDB := make(map[string]shape.User, len(got.Users))
	for _, u := range got.Users {
		inDB[u.Name] = u
	}
	for _, u := range api.Users {
		d, ok := inDB[u.Name]
		if !ok {
			t.Errorf("%s: user %s listed by the API is not in the database", when, u.Name)
			continue
		}
		if u.S != d.S || u.R != d.R || u.J != d.J {
			t.Errorf("%s: user %s: API S=%d R=%d J=%d, database S=%d R=%d J=%d", when, u.Name, u.S, u.R, u.J, d.S, d.R, d.J)
		}
		delete(inDB, u.Name)
	}
	for name := range inDB {
		t.Errorf("%s: user %s in the database is not listed by the API", when, name)
	}
}

// patientTimeouts triples every default phase timeout.
func patientTimeouts() map[attendee.Phase]time.Duration {
	m := make(map[attendee.Phase]time.Duration, len(attendee.DefaultPhaseTimeouts))
	for p, d := range attendee.DefaultPhaseTimeouts {
		m[p] = 3 * d
	}
	return m
}
