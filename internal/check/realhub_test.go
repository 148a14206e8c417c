package check

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/filesnap"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// realPlan is seeded on a real 5.3.0 hub with seed.ApplyDB (the hub's own
// ORM, servers registered in the fleet): one user with many running and
// stopped named servers (the quadratic start-up's signature, J ≈ 120,000,
// inside a calibration sweep's range) and a few light users.
var realPlan = seed.Plan{
	{Name: "chk-heavy", Running: 300, Stopped: 100},
	{Name: "chk-a0", Running: 1, Stopped: 1},
	{Name: "chk-a1", Running: 1, Stopped: 2},
	{Name: "chk-a2", Running: 2},
	{Name: "chk-a3", Stopped: 1},
}

// TestRealHub53 seeds a real JupyterHub 5.3.0 (stopped; rows written with
// its ORM by seed.ApplyDB), restarts it and measures the start-up peak, then:
//   - a token of a plain user is refused with ErrTokenScopes naming the scopes;
//   - checks it through the API (--hub), stops it;
//   - checks its SQLite file (--db): same shape, per user and in total, and
//     same verdict as --hub; the file is byte-identical afterwards;
//   - with the shipped 5.3.0 calibration (if present), the predicted
//     start-up peak is within 15% of the peak measured at the restart.
func TestRealHub53(t *testing.T) {
	l := localhubtest.Start(t, "5.3.0", localhub.Options{})
	admin := localhubtest.Admin(t, l, "chk-")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	hubtest.StopHubProcess(ctx, t, l.Hub)
	_, install := hubtest.Require(t, "5.3.0")
	res, err := seed.ApplyDB(ctx, realPlan, seed.DBOptions{
		Python: install.Bin("python"), DB: filepath.Join(l.Hub.RunDir(), "jupyterhub.sqlite"),
		Fleet: l.Fleet, ServerURL: l.FleetURL, HubAPIURL: fmt.Sprintf("http://127.0.0.1:%d/hub/api", l.Hub.Ports().Hub),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %+v", res)

	rep, err := l.Hub.Restart(ctx)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Logf("restart: %s", rep.Summary())
	if rep.Outcome.Kind != hub.OutcomeHealthy || rep.PeakRSS <= 0 {
		t.Fatalf("restart: %+v", rep.Outcome)
	}

	waitSettled(ctx, t, admin)

	calDir := testCalibrations(t)
	const limit = 1 << 30
	opts := Options{CalibrationsDir: calDir, MemoryLimit: limit, Headroom: 0.2, Top: 20}

	// A plain user's token cannot list everybody.
	ut, err := admin.CreateToken(ctx, "chk-a0", "hubcap check test", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := opts
	o.Hub, o.Token = l.Hub.URL(), ut.Token
	if _, err := Run(ctx, o); !errors.Is(err, ErrTokenScopes) {
		t.Errorf("user token: %v, want ErrTokenScopes", err)
	} else {
		t.Logf("user token: %v", err)
	}

	tok, err := l.Hub.Token()
	if err != nil {
		t.Fatal(err)
	}
	o.Token = tok
	viaHub, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}

	// Everything the plan says is there, through the API.
	wantR, wantS := int64(0), int64(0)
	for _, u := range realPlan {
		wantR += int64(u.Running)
		wantS += int64(u.Running+u.Stopped) + 1 // + the default row
	}
	if viaHub.Shape.R != wantR || viaHub.Shape.S != wantS || viaHub.Shape.U != int64(len(realPlan)) {
		t.Errorf("hub shape U=%d S=%d R=%d, want U=%d S=%d R=%d", viaHub.Shape.U, viaHub.Shape.S, viaHub.Shape.R, len(realPlan), wantS, wantR)
	}
	if viaHub.Release.Version != "5.3.0" || viaHub.Release.Source != SourceHubAPI {
		t.Errorf("hub release %+v", viaHub.Release)
	}
	if rm := action(viaHub, ActionRemove); rm == nil || rm.Removals[0].User != "chk-heavy" || len(rm.Removals[0].Servers) != 100 ||
		rm.Removals[0].Requests[0] != RemoveCall("chk-heavy", seed.ServerName(300)) {
		t.Errorf("removal via the hub: %+v", rm)
	}

	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Minute)
	defer stopCancel()
	if err := l.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(l.Hub.RunDir(), "jupyterhub.sqlite")
	snap := filesnap.Snapshot(t, l.Hub.RunDir())
	o = opts
	o.DB, o.Release = dbPath, "5.3.0"
	viaDB, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	assumed := o
	assumed.Release = ""
	worst, err := Run(ctx, assumed)
	if err != nil {
		t.Fatal(err)
	}
	filesnap.AssertUntouched(t, l.Hub.RunDir(), snap)

	if !sameShape(viaHub.Shape, viaDB.Shape) {
		t.Errorf("--db and --hub disagree:\n  db  %s\n  hub %s", shapeString(viaDB.Shape), shapeString(viaHub.Shape))
	}
	// Read-only from the database too, the removals name each stale server.
	if rm, rmHub := action(viaDB, ActionRemove), action(viaHub, ActionRemove); rm == nil || rmHub == nil ||
		!slices.Equal(rm.Removals[0].Servers, rmHub.Removals[0].Servers) ||
		rm.Removals[0].Requests[0] != RemoveCall("chk-heavy", seed.ServerName(300)) {
		t.Errorf("removal via the database %+v, via the hub %+v", rm, rmHub)
	}
	if viaDB.Verdict != viaHub.Verdict || viaDB.Peak != viaHub.Peak {
		t.Errorf("verdicts differ: db %s %v %q, hub %s %v %q", viaDB.Verdict, viaDB.Peak, viaDB.Reasons, viaHub.Verdict, viaHub.Peak, viaHub.Reasons)
	}
	if !worst.Release.Assumed || worst.Verdict == Pass || worst.Peak != viaDB.Peak {
		t.Errorf("--db without --release: release %+v verdict %s", worst.Release, worst.Verdict)
	}
	t.Logf("--db and --hub: U=%d S=%d R=%d J=%d, verdict %s, predicted peak %s (synthetic test calibration), measured %s",
		viaDB.Shape.U, viaDB.Shape.S, viaDB.Shape.R, viaDB.Shape.J, viaDB.Verdict,
		fmtBytes(viaDB.Peak.Point), bytesize.Format(rep.PeakRSS))

	t.Run("predicted peak within 15% of the measured", func(t *testing.T) {
		shipped := shippedCalibration("5.3.0")
		if shipped == "" {
			t.Fatal("no shipped calibration models/calibrations/jupyterhub-5.3.0.json: the 15% acceptance needs the real one (test calibrations are synthetic)")
		}
		o := Options{DB: dbPath, Release: "5.3.0", Calibration: shipped, Headroom: 0.2}
		r, err := Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		measured := float64(rep.PeakRSS)
		rel := (r.Peak.Point - measured) / measured
		t.Logf("5.3.0, J=%d: predicted %s (%s – %s) with %s, measured %s at the restart: %+.1f%%",
			r.Shape.J, fmtBytes(r.Peak.Point), fmtBytes(r.Peak.Lower), fmtBytes(r.Peak.Upper), shipped,
			bytesize.Format(rep.PeakRSS), rel*100)
		if math.Abs(rel) > 0.15 {
			t.Errorf("predicted %s is %+.1f%% off the measured %s", fmtBytes(r.Peak.Point), rel*100, bytesize.Format(rep.PeakRSS))
		}
	})
}

// waitSettled waits until the restarted hub has checked every server it
// loaded (none active but not ready), so the shape no longer moves.
func waitSettled(ctx context.Context, t *testing.T, c *hubapi.Client) {
	t.Helper()
	for range 120 {
		users, err := c.ListUsers(ctx, hubapi.ListOptions{IncludeStoppedServers: true})
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, u := range users {
			for _, s := range u.Servers {
				if s.Active() && !s.Ready {
					pending++
				}
			}
		}
		if pending == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("servers still pending a minute after the restart")
}

func action(r *Report, kind string) *Action {
	for i := range r.Actions {
		if r.Actions[i].Kind == kind {
			return &r.Actions[i]
		}
	}
	return nil
}

// sameShape compares totals and every user's S and R.
func sameShape(a, b Shape) bool {
	if a.U != b.U || a.S != b.S || a.R != b.R || a.J != b.J || len(a.Users) != len(b.Users) {
		return false
	}
	for i := range a.Users {
		x, y := a.Users[i], b.Users[i]
		if x.Name != y.Name || x.S != y.S || x.R != y.R {
			return false
		}
	}
	return true
}

func shapeString(s Shape) string {
	out := fmt.Sprintf("U=%d S=%d R=%d J=%d", s.U, s.S, s.R, s.J)
	for _, u := range s.Users {
		out += fmt.Sprintf(" %s:%d/%d", u.Name, u.R, u.S)
	}
	return out
}
