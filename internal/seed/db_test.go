package seed_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// TestApplyDBOptions: bad options are all reported at once, before any
// python runs.
func TestApplyDBOptions(t *testing.T) {
	_, err := seed.ApplyDB(context.Background(),
		seed.Plan{{Name: "", Running: -1}, {Name: "a/b"}, {Name: "a/b"}},
		seed.DBOptions{DB: filepath.Join(t.TempDir(), "missing.sqlite"), StateBytes: -1, Fleet: nilFleet{}})
	if !errors.Is(err, seed.ErrSeedDB) {
		t.Fatalf("err = %v, want ErrSeedDB", err)
	}
	for _, want := range []string{"Python is empty", "missing.sqlite", "ServerURL is empty", "HubAPIURL is empty",
		"state bytes -1", `user name ""`, `"a/b" is in the plan twice`, "running -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestApplyDBMatchesREST: a database seeded by ApplyDB (hub stopped, rows
// written with the ORM, servers registered in the fleet) restarts into the
// same shape, with every server running, as one seeded through the REST
// API, and with a start-up peak within 15% of it. 5.3.0, whose peak grows
// with every joined row, is the sensitive release.
func TestApplyDBMatchesREST(t *testing.T) {
	testenv.Short(t, "starts two hubs and seeds ~270 servers through the API")
	const release = "5.3.0"
	plan := seed.Plan{
		{Name: "db-heavy", Running: 250, Stopped: 10},
		{Name: "db-a", Running: 3, Stopped: 2},
		{Name: "db-b", Running: 1},
		{Name: "db-c"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The realistic path.
	rest := localhubtest.Start(t, release, localhub.Options{})
	rc := localhubtest.Admin(t, rest, "db-")
	if _, err := seed.Apply(ctx, rc, plan, seed.Options{}); err != nil {
		t.Fatal(err)
	}
	restRep := restartOK(ctx, t, rest)
	restShape := shapeOf(ctx, t, rc)

	// The fast path, on a fresh hub.
	fast := localhubtest.Start(t, release, localhub.Options{})
	fc := localhubtest.Admin(t, fast, "db-")
	hubtest.StopHubProcess(ctx, t, fast.Hub)
	_, in := hubtest.Require(t, release)
	opts := seed.DBOptions{
		Python: in.Bin("python"), DB: filepath.Join(fast.Hub.RunDir(), "jupyterhub.sqlite"),
		Fleet: fast.Fleet, ServerURL: fast.FleetURL, HubAPIURL: fmt.Sprintf("http://127.0.0.1:%d/hub/api", fast.Hub.Ports().Hub),
	}
	res, err := seed.ApplyDB(ctx, plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ApplyDB: %+v", res)
	if res.NewUsers != 4 || res.NewRows != 266 || res.Started != 254 || res.Stopped != 0 || res.Registered != 254 {
		t.Errorf("ApplyDB result %+v, want 4 new users, 266 new rows, 254 started and registered", res)
	}
	fastRep := restartOK(ctx, t, fast)
	fastShape := shapeOf(ctx, t, fc)

	if restShape.U != fastShape.U || restShape.S != fastShape.S || restShape.R != fastShape.R || restShape.J != fastShape.J {
		t.Errorf("shape after restart: REST %d/%d/%d/%d, ApplyDB %d/%d/%d/%d (U/S/R/J)",
			restShape.U, restShape.S, restShape.R, restShape.J, fastShape.U, fastShape.S, fastShape.R, fastShape.J)
	}
	if fmt.Sprint(restShape.Users) != fmt.Sprint(fastShape.Users) {
		t.Errorf("per-user shape: REST %v, ApplyDB %v", restShape.Users, fastShape.Users)
	}
	ratio := float64(fastRep.PeakRSS) / float64(restRep.PeakRSS)
	t.Logf("start-up peak: REST-seeded %s, DB-seeded %s (ratio %.3f)", bytesize.Format(restRep.PeakRSS), bytesize.Format(fastRep.PeakRSS), ratio)
	if ratio < 0.85 || ratio > 1.15 {
		t.Errorf("DB-seeded start-up peak is %.0f%% of the REST-seeded one; want within 15%%", 100*ratio)
	}

	// Cumulative: growing the plan adds only the difference, and a row the
	// plan now wants stopped is stopped (and leaves the fleet).
	hubtest.StopHubProcess(ctx, t, fast.Hub)
	grown := seed.Plan{{Name: "db-heavy", Running: 260, Stopped: 5}, {Name: "db-a", Running: 2, Stopped: 3}}
	res, err = seed.ApplyDB(ctx, grown, opts)
	if err != nil {
		t.Fatal(err)
	}
	// db-heavy: s0250..s0259 were stopped and start, s0260..s0264 are new
	// stopped rows; db-a: s0002 stops.
	if res.NewUsers != 0 || res.NewRows != 5 || res.Started != 10 || res.Stopped != 1 || res.Registered != 10 {
		t.Errorf("grown plan: %+v, want 5 new rows, 10 started and registered, 1 stopped", res)
	}
	restartOK(ctx, t, fast)
	sh := shapeOf(ctx, t, fc)
	// R: 260 + 2 + 1 (db-b, not in the grown plan, untouched);
	// S: db-heavy 1+265, db-a 1+5, db-b 2, db-c 1.
	if sh.R != 263 || sh.S != 266+6+2+1 {
		t.Errorf("after growing: R=%d S=%d, want R=263 S=275", sh.R, sh.S)
	}
}

func restartOK(ctx context.Context, t *testing.T, l *localhub.Local) hub.StartReport {
	t.Helper()
	rep, err := l.Hub.Restart(ctx)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Logf("restart: %s", rep.Summary())
	return rep
}

func shapeOf(ctx context.Context, t *testing.T, c *hubapi.Client) shape.Shape {
	t.Helper()
	// every running server must still be running after the restart: wait
	// for the hub's checks to finish (ready = poll said running and the
	// server answered)
	var sh shape.Shape
	for range 60 {
		users, err := c.ListUsers(ctx, hubapi.ListOptions{IncludeStoppedServers: true})
		if err != nil {
			t.Fatal(err)
		}
		sh = hubapi.ShapeFromUsers(users)
		pending := 0
		for _, u := range users {
			for _, s := range u.Servers {
				if s.Active() && !s.Ready {
					pending++
				}
			}
		}
		if pending == 0 {
			return sh
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("servers still pending after restart: %+v", sh)
	return sh
}

type nilFleet struct{ seed.Fleet }
