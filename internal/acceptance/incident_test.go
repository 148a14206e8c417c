package acceptance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/internal/testenv"
)

// incidentServers is how many running named servers one user holds: a few
// hundred, enough for 5.3.0's start-up join (R·S ≈ 120,000 rows) to dwarf
// the hub's baseline memory while seeding stays quick.
const incidentServers = 350

// seedIncident starts release with the fleet, gives one user
// incidentServers running named servers and returns the hub.
func seedIncident(t *testing.T, release string) *localhub.Local {
	t.Helper()
	l := localhubtest.Start(t, release, localhub.Options{})
	c := localhubtest.Admin(t, l, "inc-")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := seed.Apply(ctx, c, seed.OneUser("inc-heavy", incidentServers), seed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: seeded %d running named servers for one user in %.1fs", release, res.Servers, res.Elapsed.Seconds())
	return l
}

func restart(t *testing.T, l *localhub.Local) hub.StartReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := l.Hub.Restart(ctx)
	t.Logf("restart: %s", rep.Summary())
	if err != nil && rep.Outcome.Kind == "" {
		t.Fatalf("restart: %v", err)
	}
	return rep
}

// TestIncident reproduces the field incident on a small scale: a 5.3.0 hub
// whose database holds one user with a few hundred running named servers is
// OOM-killed on restart under a limit below its measured start-up peak and
// comes up under a limit above it; a 5.5.1 hub with the same shape restarts
// with a far smaller peak, and survives the limit that killed 5.3.0.
func TestIncident(t *testing.T) {
	if _, err := proc.DetectMemoryController(); err != nil {
		testenv.Missing(t, fmt.Sprintf("a usable memory cgroup (%v)", err), testenv.CgroupHint)
	}
	old := seedIncident(t, "5.3.0")
	free := restart(t, old)
	if free.Outcome.Kind != hub.OutcomeHealthy {
		t.Fatalf("5.3.0 restart without a limit: %s", free.Outcome)
	}
	peak53 := free.PeakRSS

	killing := peak53 * 3 / 4
	if err := old.Hub.SetMemoryLimit(killing); err != nil {
		t.Fatal(err)
	}
	if rep := restart(t, old); rep.Outcome.Kind != hub.OutcomeOOMKilled {
		t.Errorf("5.3.0 under %s (below its peak %s): outcome %s, want OOMKilled",
			bytesize.Format(killing), bytesize.Format(peak53), rep.Outcome)
	} else if rep.Limit != killing {
		t.Errorf("OOMKilled report carries limit %d, want %d", rep.Limit, killing)
	}
	roomy := peak53 * 3 / 2
	if err := old.Hub.SetMemoryLimit(roomy); err != nil {
		t.Fatal(err)
	}
	if rep := restart(t, old); rep.Outcome.Kind != hub.OutcomeHealthy {
		t.Errorf("5.3.0 under %s (above its peak %s): outcome %s, want healthy",
			bytesize.Format(roomy), bytesize.Format(peak53), rep.Outcome)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := old.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	fixed := seedIncident(t, "5.5.1")
	rep := restart(t, fixed)
	if rep.Outcome.Kind != hub.OutcomeHealthy {
		t.Fatalf("5.5.1 restart: %s", rep.Outcome)
	}
	peak55 := rep.PeakRSS
	t.Logf("start-up peak with one user holding %d running named servers: 5.3.0 %s, 5.5.1 %s",
		incidentServers, bytesize.Format(peak53), bytesize.Format(peak55))
	if peak55 > peak53/2 {
		t.Errorf("5.5.1 peak %s is not far below 5.3.0's %s", bytesize.Format(peak55), bytesize.Format(peak53))
	}
	if err := fixed.Hub.SetMemoryLimit(killing); err != nil {
		t.Fatal(err)
	}
	if rep := restart(t, fixed); rep.Outcome.Kind != hub.OutcomeHealthy {
		t.Errorf("5.5.1 under the limit that killed 5.3.0 (%s): %s, want healthy", bytesize.Format(killing), rep.Outcome)
	}
}
