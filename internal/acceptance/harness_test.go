package acceptance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// The releases the project pins: 5.3.0 has the quadratic start-up query,
// 5.5.1 the linear one.
var releases = []string{"5.3.0", "5.5.1"}

// TestLifecycle: on each release, users and named servers started through
// the fleet spawner are listed by the API, survive a hub restart still
// running and reachable through the proxy, and stopping leaves no process.
func TestLifecycle(t *testing.T) {
	for _, rel := range releases {
		t.Run(rel, func(t *testing.T) {
			l := localhubtest.Start(t, rel, localhub.Options{})
			c := localhubtest.Admin(t, l, "lc-")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			plan := seed.Plan{{Name: "lc-ada", Running: 3, Stopped: 1}, {Name: "lc-bob", Running: 2}}
			if _, err := seed.Apply(ctx, c, plan, seed.Options{Workers: 4}); err != nil {
				t.Fatal(err)
			}
			checkRunning := func(when string) {
				t.Helper()
				users, err := c.ListUsers(ctx, hubapi.ListOptions{IncludeStoppedServers: true})
				if err != nil {
					t.Fatalf("%s: list users: %v", when, err)
				}
				got := map[string]int{}
				for _, u := range users {
					for _, s := range u.Servers {
						if s.Active() && s.Ready {
							got[u.Name]++
						}
					}
				}
				if got["lc-ada"] != 3 || got["lc-bob"] != 2 {
					t.Fatalf("%s: ready servers per user = %v, want lc-ada:3 lc-bob:2", when, got)
				}
				shape, err := c.Shape(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// lc-ada: 4 named rows (3 running), lc-bob: 2 named rows, both running.
				if shape.R != 5 {
					t.Errorf("%s: shape R = %d, want 5", when, shape.R)
				}
			}
			checkRunning("after seeding")
			reachable(t, l, "lc-ada", seed.ServerName(0))

			rep, err := l.Hub.Restart(ctx)
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			t.Logf("%s restart: %s", rel, rep.Summary())
			if rep.Outcome.Kind != hub.OutcomeHealthy || rep.PeakRSS <= 0 || rep.SecondsToHealthy <= 0 || len(rep.Samples) == 0 {
				t.Fatalf("restart report not sane: %+v", rep)
			}
			checkRunning("after restart")
			reachable(t, l, "lc-bob", seed.ServerName(1))

			tree := l.Hub.TrackedTree()
			if err := l.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			for _, p := range tree {
				if proc.Alive(p) {
					t.Errorf("process %d still alive after stop", p.PID)
				}
			}
		})
	}
}

// reachable asks a single-user server for its status through the proxy
// with a token of its owner, as a notebook client would.
func reachable(t *testing.T, l *localhub.Local, user, server string) {
	t.Helper()
	c := localhubtest.Admin(t, l, "lc-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := c.CreateToken(ctx, user, "acceptance", time.Hour, nil)
	if err != nil {
		t.Fatalf("token for %s: %v", user, err)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/user/%s/%s/api/status", l.Hub.URL(), user, server), nil)
	req.Header.Set("Authorization", "token "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/user/%s/%s/api/status through the proxy: %s %s", user, server, resp.Status, body)
	}
}
