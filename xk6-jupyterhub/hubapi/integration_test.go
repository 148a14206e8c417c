package hubapi

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// stubSpawner is a test-only JupyterHub spawner: start() returns the URL of a
// Go httptest server (which answers 200 to everything, so the hub's readiness
// check passes); user_options {"delay": s} delays the start, {"fail": true}
// makes it fail. It is only used for the admin-client tests.
const stubSpawner = `import asyncio
import os

from jupyterhub.spawner import Spawner


class StubSpawner(Spawner):
    async def start(self):
        opts = self.user_options or {}
        delay = float(opts.get("delay", 0))
        if delay:
            await asyncio.sleep(delay)
        if opts.get("fail"):
            raise RuntimeError("stub spawner told to fail")
        self._stub_running = True
        return os.environ["HUBCAP_STUB_URL"]

    async def poll(self):
        return None if getattr(self, "_stub_running", False) else 0

    async def stop(self):
        self._stub_running = False
`

// extraConfig adds a second service whose token can only read:hub (for real
// 403 messages), short throttle hints and a short slow_spawn_timeout (so that
// slow starts answer 202).
//
// spawn_throttle_retry_range is not tagged config=True in 5.5.1 (app.py), so
// it goes through tornado_settings, which override the app's settings.
const extraConfig = `c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0.5, "spawn_throttle_retry_range": (1, 2)}
c.JupyterHub.services.append({"name": "hubcap-limited", "api_token": os.environ["HUBCAP_LIMITED_TOKEN"]})
c.JupyterHub.load_roles.append({"name": "hubcap-limited", "scopes": ["read:hub"], "services": ["hubcap-limited"]})
`

const integrationRelease = "5.5.1"

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

type stubHub struct {
	h       *hub.Hub
	token   string
	limited string
	stubURL string
	dbPath  string
}

// startStubHub starts a real JupyterHub whose spawner hands out a Go stub.
func startStubHub(t *testing.T, concurrentSpawnLimit int) *stubHub {
	t.Helper()
	hubtest.Require(t, integrationRelease)
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"stub": true}`)
	}))
	t.Cleanup(stub.Close)
	limited := randomHex(t, 16)
	h := hubtest.Start(t, hub.Options{
		Release:              integrationRelease,
		Spawner:              hub.SpawnerFleet,
		SpawnerConfig:        `c.JupyterHub.spawner_class = "hubcap_stub_spawner.StubSpawner"`,
		SpawnerFiles:         map[string][]byte{"hubcap_stub_spawner.py": []byte(stubSpawner)},
		Env:                  map[string]string{"HUBCAP_STUB_URL": stub.URL, "HUBCAP_LIMITED_TOKEN": limited},
		ExtraConfig:          extraConfig,
		ConcurrentSpawnLimit: concurrentSpawnLimit,
		StartTimeout:         60 * time.Second,
	})
	tok, err := h.Token()
	if err != nil {
		t.Fatal(err)
	}
	return &stubHub{h: h, token: tok, limited: limited, stubURL: stub.URL, dbPath: filepath.Join(h.RunDir(), "jupyterhub.sqlite")}
}

// dbShape reads the shape straight from the hub's SQLite database,
// read-only: spawners rows per user, and those with server_id set.
func dbShape(t *testing.T, path string) shape.Shape {
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
	var users []User
	for rows.Next() {
		var name string
		var s, r int
		if err := rows.Scan(&name, &s, &r); err != nil {
			t.Fatal(err)
		}
		u := User{Name: name, Servers: map[string]Server{}}
		for i := 0; i < s; i++ {
			stopped := i >= r
			u.Servers[fmt.Sprint(i)] = Server{Stopped: &stopped}
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ShapeFromUsers(users)
}

func TestIntegrationAdminClient(t *testing.T) {
	sh := startStubHub(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	buf := &samples.Buffer{}
	prefix := "hubcap-it-"
	c, err := New(Config{BaseURL: sh.h.URL(), Token: sh.token, Sink: buf, NamePrefix: prefix, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Cleanup(ctx)
	})

	v, err := c.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Raw != sh.h.Release() {
		t.Errorf("Version = %v, hub release %s", v, sh.h.Release())
	}
	info, err := c.Info(ctx)
	if err != nil || info.Version != v.Raw || !strings.Contains(info.Spawner.Class, "StubSpawner") {
		t.Errorf("Info = %+v, %v", info, err)
	}

	t.Run("not a hub", func(t *testing.T) {
		for _, base := range []string{sh.stubURL, sh.h.URL() + "/user/nobody"} {
			nc, err := New(Config{BaseURL: base, Token: sh.token})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nc.Version(ctx); !errors.Is(err, ErrNotJupyterHub) {
				t.Errorf("%s: err = %v, want ErrNotJupyterHub", base, err)
			}
		}
	})

	t.Run("missing scope", func(t *testing.T) {
		lc, err := New(Config{BaseURL: sh.h.URL(), Token: sh.limited})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Info(ctx); err != nil {
			t.Fatalf("read:hub token cannot read info: %v", err)
		}
		_, err = lc.ListUsers(ctx, ListOptions{})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 403 || !contains(ae.Scopes, "list:users") {
			t.Errorf("ListUsers with read:hub only: %v", err)
		}
		if strings.Contains(fmt.Sprint(err), sh.limited) {
			t.Errorf("error reveals the token")
		}
		_, err = lc.Metrics(ctx)
		if !errors.As(err, &ae) || !contains(ae.Scopes, "read:metrics") {
			t.Errorf("Metrics with read:hub only: %v", err)
		}
		wc, err := New(Config{BaseURL: sh.h.URL(), Token: "wrong-token-value"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = wc.Info(ctx)
		if !errors.As(err, &ae) || !errors.Is(err, ErrForbidden) || len(ae.Scopes) != 0 || !strings.Contains(ae.Hint, "invalid or expired") {
			t.Errorf("Info with a wrong token: %v", err)
		}
	})

	names := []string{prefix + "a", prefix + "b", prefix + "c"}
	created, err := c.CreateUsers(ctx, names...)
	if err != nil || len(created) != 3 {
		t.Fatalf("CreateUsers = %d users, %v", len(created), err)
	}
	again, err := c.CreateUsers(ctx, names...)
	if err != nil || len(again) != 0 {
		t.Fatalf("CreateUsers again (409) = %d, %v", len(again), err)
	}
	a, b, cc := names[0], names[1], names[2]

	t.Run("start ready and pending", func(t *testing.T) {
		res, err := c.StartServer(ctx, a, "s1", nil)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := c.WaitReady(ctx, a, "s1")
		if err != nil || !ev.Ready || ev.URL != "/user/"+a+"/s1/" {
			t.Fatalf("WaitReady after %+v: %+v, %v", res, ev, err)
		}
		// a start slower than slow_spawn_timeout answers 202; the progress
		// stream then brings the ready event
		res, err = c.StartServer(ctx, a, "s2", map[string]any{"delay": 1.5})
		if err != nil || !res.Pending {
			t.Fatalf("slow StartServer = %+v, %v; want 202", res, err)
		}
		ev, err = c.WaitReady(ctx, a, "s2")
		if err != nil || !ev.Ready {
			t.Fatalf("WaitReady s2 = %+v, %v", ev, err)
		}
		// the poll fallback agrees once the server is up
		if ev, err := c.PollReady(ctx, a, "s2"); err != nil || !ev.Ready {
			t.Errorf("PollReady = %+v, %v", ev, err)
		}
	})

	t.Run("failed spawn", func(t *testing.T) {
		res, err := c.StartServer(ctx, b, "bad", map[string]any{"delay": 1, "fail": true})
		if err != nil || !res.Pending {
			t.Fatalf("StartServer = %+v, %v", res, err)
		}
		_, err = c.WaitReady(ctx, b, "bad")
		if !errors.Is(err, ErrSpawnFailed) {
			t.Errorf("WaitReady on a failing spawn = %v, want ErrSpawnFailed", err)
		}
	})

	t.Run("throttled by concurrent_spawn_limit", func(t *testing.T) {
		before := countMetric(buf, MetricThrottled)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.StartServer(ctx, b, "slow", map[string]any{"delay": 3}); err != nil {
				errs[0] = err
				return
			}
			_, errs[0] = c.WaitReady(ctx, b, "slow")
		}()
		go func() {
			defer wg.Done()
			time.Sleep(300 * time.Millisecond) // let the slow spawn take the only slot
			if _, err := c.StartServer(ctx, cc, "t1", nil); err != nil {
				errs[1] = err
				return
			}
			_, errs[1] = c.WaitReady(ctx, cc, "t1")
		}()
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if got := countMetric(buf, MetricThrottled) - before; got < 1 {
			t.Errorf("no 429 counted while the only spawn slot was taken")
		}
	})

	t.Run("shape equals database", func(t *testing.T) {
		// one stopped but kept server, so S and R differ
		if err := c.StopServer(ctx, a, "s1", false); err != nil {
			t.Fatal(err)
		}
		api, err := c.Shape(ctx)
		if err != nil {
			t.Fatal(err)
		}
		db := dbShape(t, sh.dbPath)
		if api.U != db.U || api.S != db.S || api.R != db.R || api.J != db.J {
			t.Errorf("API shape U=%d S=%d R=%d J=%d, database U=%d S=%d R=%d J=%d", api.U, api.S, api.R, api.J, db.U, db.S, db.R, db.J)
		}
		for i := range api.Users {
			if i < len(db.Users) && api.Users[i] != db.Users[i] {
				t.Errorf("user %s: API %+v, database %+v", api.Users[i].Name, api.Users[i], db.Users[i])
			}
		}
		// a: '', s1 (stopped), s2 (running)
		for _, u := range api.Users {
			if u.Name == a && (u.S != 3 || u.R != 1) {
				t.Errorf("%s: S=%d R=%d, want 3 rows with 1 running", a, u.S, u.R)
			}
		}
		paged, err := c.ListUsers(ctx, ListOptions{PageSize: 2, IncludeStoppedServers: true})
		if err != nil || int64(len(paged)) != api.U {
			t.Errorf("paged listing: %d users, %v; shape says %d", len(paged), err, api.U)
		}
	})

	t.Run("token", func(t *testing.T) {
		tok, err := c.CreateToken(ctx, a, "hubcap integration", time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", tok, tok, tok), tok.Token) {
			t.Errorf("token printed")
		}
		uc, err := New(Config{BaseURL: sh.h.URL(), Token: tok.Token})
		if err != nil {
			t.Fatal(err)
		}
		if u, err := uc.User(ctx, a); err != nil || u.Name != a {
			t.Errorf("the user's own token cannot read the user: %v", err)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		m, err := c.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !(m.RSSBytes > 0) || !(m.CPUSeconds > 0) || !(m.RequestDuration.Count > 0) {
			t.Errorf("rss %v cpu %v requests %v", m.RSSBytes, m.CPUSeconds, m.RequestDuration.Count)
		}
		users, err := c.ListUsers(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if int(m.TotalUsers) != len(users) {
			t.Errorf("jupyterhub_total_users %v, listing has %d", m.TotalUsers, len(users))
		}
		if _, ok := m.SpawnDuration["success"]; !ok {
			t.Errorf("no successful spawn durations: %v", m.SpawnDuration)
		}
	})

	t.Run("cleanup removes what was created", func(t *testing.T) {
		if err := c.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		users, err := c.ListUsers(ctx, ListOptions{NameFilter: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 0 {
			t.Errorf("%d users left after Cleanup", len(users))
		}
		db := dbShape(t, sh.dbPath)
		for _, u := range db.Users {
			if strings.HasPrefix(u.Name, prefix) {
				t.Errorf("user %s still in the database", u.Name)
			}
		}
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
