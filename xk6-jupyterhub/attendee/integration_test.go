package attendee

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hubcap-dev/hubcap/internal/fleet"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// dbShape reads the shape straight from the hub's SQLite database,
// read-only: spawners rows per user and those with server_id set.
func dbShape(t *testing.T, path string) hubapi.Shape {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT u.name, COUNT(s.id),
		COALESCE(SUM(CASE WHEN s.server_id IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM users u LEFT JOIN spawners s ON s.user_id = u.id GROUP BY u.id, u.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var users []hubapi.User
	for rows.Next() {
		var name string
		var s, r int
		if err := rows.Scan(&name, &s, &r); err != nil {
			t.Fatal(err)
		}
		u := hubapi.User{Name: name, Servers: map[string]hubapi.Server{}}
		for i := 0; i < s; i++ {
			stopped := i >= r
			u.Servers[fmt.Sprint(i)] = hubapi.Server{Stopped: &stopped}
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return hubapi.ShapeFromUsers(users)
}

func compareShapes(t *testing.T, when string, api, db hubapi.Shape) {
	t.Helper()
	if api.U != db.U || api.S != db.S || api.R != db.R || api.J != db.J {
		t.Errorf("%s: API shape U=%d S=%d R=%d J=%d, database U=%d S=%d R=%d J=%d", when, api.U, api.S, api.R, api.J, db.U, db.S, db.R, db.J)
	}
	for i := range min(len(api.PerUser), len(db.PerUser)) {
		if api.PerUser[i] != db.PerUser[i] {
			t.Errorf("%s: API %+v, database %+v", when, api.PerUser[i], db.PerUser[i])
		}
	}
}

func countOK(buf *samples.Buffer, metric string) (ok, failed int) {
	for _, s := range buf.Samples() {
		if s.Metric == metric {
			if s.Tags["result"] == "ok" {
				ok++
			} else {
				failed++
			}
		}
	}
	return ok, failed
}

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

// TestIntegrationAttendees: 20 attendees log in through the browser flow
// at once against a real JupyterHub (single-user servers by the fleet), each
// starts a named server, a kernel, runs print(6*7) and checks 42; the shape
// the API reports equals the database's while the servers run and after they
// stop.
func TestIntegrationAttendees(t *testing.T) {
	const release = "5.5.1"
	l := localhubtest.Start(t, release, localhub.Options{
		Fleet: fleet.Config{ExecTime: fleet.ExecTime{Mean: 5 * time.Millisecond}, LabPageBytes: 20000},
		Hub:   hub.Options{ExtraConfig: slowSpawner},
	})
	const prefix = "hubcap-att-"
	admin := localhubtest.Admin(t, l, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	buf := &samples.Buffer{}

	const n = 20
	sessions := make([]*Session, n)
	for i := range sessions {
		cfg := Config{
			HubURL:   l.Hub.URL(),
			Username: fmt.Sprintf("%s%02d", prefix, i),
			Password: "any-password-" + fmt.Sprint(i),
			Server:   "ws",
			Sink:     buf,
			Rand:     rand.NewPCG(uint64(i), 7),
			Tags:     map[string]string{"vu": fmt.Sprint(i)},
		}
		switch i % 4 {
		case 1:
			cfg.KernelProtocol = kernel.ProtocolLegacy
		case 2:
			cfg.Spawn = SpawnAPI
		case 3:
			cfg.KernelProtocol = kernel.ProtocolV1
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sessions[i] = s
	}
	runAll := func(f func(s *Session) error) error {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f(s)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}

	if err := runAll(func(s *Session) error { return s.Run(ctx, Journey{KeepServer: true, SkipLogout: true}) }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Phase{PhaseLogin, PhaseSpawn, PhaseOAuth, PhaseLabLoad, PhaseListContents, PhaseSaveNotebook,
		PhaseOpenNotebook, PhaseStartKernel, PhaseConnectKernel, PhaseExecute, PhaseShutdownKernel} {
		if ok, failed := countOK(buf, PhaseMetric[p]); ok != n || failed != 0 {
			t.Errorf("%s: %d ok, %d failed samples; want %d ok", p, ok, failed, n)
		}
	}
	for _, smp := range buf.Samples() {
		switch smp.Metric {
		case MetricOAuthRedirects:
			// /user/u/ws/ → lab → authorize → oauth_callback
			if smp.Value < 3 {
				t.Errorf("vu %s: %v OAuth redirects", smp.Tags["vu"], smp.Value)
			}
		case MetricErrors, MetricWSDrops:
			t.Errorf("unexpected %s sample %v", smp.Metric, smp.Tags)
		}
		for k, v := range smp.Tags {
			if strings.Contains(v, "any-password") {
				t.Errorf("sample %s tag %s carries the password", smp.Metric, k)
			}
		}
	}

	dbPath := filepath.Join(l.Hub.RunDir(), "jupyterhub.sqlite")
	running, err := admin.Shape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compareShapes(t, "servers running", running, dbShape(t, dbPath))
	if running.R != n {
		t.Errorf("API shape has %d running servers, %d attendees kept theirs", running.R, n)
	}

	if err := runAll(func(s *Session) error {
		if err := s.StopServer(ctx); err != nil {
			return err
		}
		return s.Logout(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Phase{PhaseStopServer, PhaseLogout} {
		if ok, failed := countOK(buf, PhaseMetric[p]); ok != n || failed != 0 {
			t.Errorf("%s: %d ok, %d failed samples; want %d ok", p, ok, failed, n)
		}
	}
	stopped, err := admin.Shape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compareShapes(t, "servers stopped", stopped, dbShape(t, dbPath))
	if stopped.R != 0 || stopped.S != running.S {
		t.Errorf("after stopping: R=%d S=%d, want no running server and the same %d rows", stopped.R, stopped.S, running.S)
	}
}
