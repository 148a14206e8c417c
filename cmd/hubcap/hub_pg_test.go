package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/pglocal"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// TestHubUpPostgres: hub up --db postgresql runs the hub on a throwaway
// PostgreSQL cluster of its own: a user created through the API is a row in
// PostgreSQL (no SQLite file appears), it survives hub restart, the
// cluster's password is in no output, file or command line (only the 0600
// environment file), and hub down stops the cluster and deletes it.
func TestHubUpPostgres(t *testing.T) {
	hubtest.Require(t, "5.5.1")
	var m *pglocal.MissingError
	if err := pglocal.Installed(); errors.As(err, &m) {
		testenv.Missing(t, m.What, m.Hint)
	}
	dir := t.TempDir()
	t.Cleanup(func() { runArgs(t, "hub", "down", "--run-dir", dir) })
	code, out, errs := runArgs(t, "hub", "up", "--release", "5.5.1", "--run-dir", dir, "--db", "postgresql", "--json")
	if code != ExitOK {
		t.Fatalf("hub up --db postgresql: exit %d\n%s%s", code, out, errs)
	}
	var up struct {
		URL string
		DB  string
		PID int
	}
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("hub up --json: %v\n%s", err, out)
	}
	st, err := hub.ReadState(dir)
	if err != nil || len(st.Companions) != 1 || st.Companions[0].Name != "postgresql" || st.Companions[0].RemoveDir == "" {
		t.Fatalf("PostgreSQL not recorded as the hub's companion: %+v %v", st.Companions, err)
	}
	pg, pgDir := st.Companions[0].Proc, st.Companions[0].RemoveDir
	if !proc.Alive(pg) {
		t.Fatalf("PostgreSQL (pid %d) not running", pg.PID)
	}
	t.Cleanup(func() { // should hub down fail: leave nothing behind
		if proc.Alive(pg) {
			_ = proc.KillTree(context.Background(), []proc.Proc{pg}, 5*time.Second)
		}
		os.RemoveAll(pgDir)
	})

	// The URL with its password is only in the 0600 environment file.
	var env map[string]string
	b, err := os.ReadFile(filepath.Join(dir, "hub-env.json"))
	if err != nil || json.Unmarshal(b, &env) != nil || env[hub.DBURLEnv] == "" {
		t.Fatalf("hub environment file: %v\n%s", err, b)
	}
	dbURL, err := url.Parse(env[hub.DBURLEnv])
	if err != nil || dbURL.Scheme != "postgresql" || dbURL.Hostname() != "127.0.0.1" {
		t.Fatalf("database URL %v: want postgresql on 127.0.0.1", err)
	}
	pw, _ := dbURL.User.Password()
	if len(pw) < 16 {
		t.Fatalf("a weak or no password (%d characters)", len(pw))
	}
	if !strings.Contains(up.DB, "postgresql://") || !strings.Contains(up.DB, "127.0.0.1:"+dbURL.Port()) {
		t.Errorf("hub up says the database is %q", up.DB)
	}
	places := map[string]string{"stdout": out, "stderr": errs}
	for _, f := range []string{hub.ConfigFile, hub.StateFile, hub.LogFile} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		places[f] = string(b)
	}
	for _, pid := range []int{up.PID, pg.PID} {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		places["command line of pid "+strconv.Itoa(pid)] = string(b)
	}
	for where, s := range places {
		if strings.Contains(s, pw) {
			t.Errorf("the PostgreSQL password is in %s", where)
		}
	}

	tok, _ := hub.ReadToken(filepath.Join(dir, hub.ServiceTokenFile))
	api := func(method, path, body string) int {
		req, _ := http.NewRequest(method, up.URL+"/hub/api"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "token "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := api(http.MethodPost, "/users", `{"usernames": ["pg-probe"]}`); s != http.StatusCreated {
		t.Fatalf("create user: %d", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL.String())
	if err != nil {
		t.Fatalf("connect to the hub's database: %v", err)
	}
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM users WHERE name = $1", "pg-probe").Scan(&n)
	conn.Close(ctx)
	if err != nil || n != 1 {
		t.Fatalf("the user is not in PostgreSQL: %d rows, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, hub.SQLiteFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists: the hub is not on PostgreSQL only (%v)", hub.SQLiteFile, err)
	}

	if code, out, errs := runArgs(t, "hub", "restart", "--run-dir", dir); code != ExitOK {
		t.Fatalf("restart: exit %d\n%s%s", code, out, errs)
	}
	if s := api(http.MethodGet, "/users/pg-probe", ""); s != http.StatusOK {
		t.Errorf("after restart the user answers %d, want 200 (kept in PostgreSQL)", s)
	}

	if code, out, errs := runArgs(t, "hub", "down", "--run-dir", dir); code != ExitOK {
		t.Fatalf("down: exit %d\n%s%s", code, out, errs)
	}
	if proc.Alive(pg) {
		t.Errorf("PostgreSQL (pid %d) alive after hub down", pg.PID)
	}
	if _, err := os.Stat(pgDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's directory %s is still there after hub down (%v)", pgDir, err)
	}
}

// --db: sqlite, a throwaway cluster, or an existing database whose password
// comes from $PGPASSWORD — never from the command line.
func TestHubDBFlag(t *testing.T) {
	env := func(pw string) func(string) string {
		return func(k string) string {
			if k == "PGPASSWORD" {
				return pw
			}
			return ""
		}
	}
	cases := []struct {
		arg, pgpassword string
		url             string
		throwaway       bool
		err             string
	}{
		{"sqlite", "", "", false, ""},
		{"", "", "", false, ""},
		{"postgresql", "", "", true, ""},
		{"PostgreSQL", "", "", true, ""},
		// the password joins the URL from the environment
		{"postgresql://hub@db.example:5432/jupyterhub", "s3cret-pw", "postgresql://hub:s3cret-pw@db.example:5432/jupyterhub", false, ""},
		{"postgresql://hub@db.example/jupyterhub", "", "postgresql://hub@db.example/jupyterhub", false, ""},
		// a password on the command line is refused, and not repeated
		{"postgresql://hub:s3cret-pw@db.example/jupyterhub", "", "", false, "$PGPASSWORD"},
		{"mysql://hub@db/x", "", "", false, "want sqlite, postgresql"},
		{"postgresq", "", "", false, "want sqlite, postgresql"},
	}
	for _, c := range cases {
		u, throwaway, err := hubDB(c.arg, env(c.pgpassword))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("hubDB(%q) error %v, want one saying %q without the password", c.arg, err, c.err)
			}
			continue
		}
		if err != nil || u != c.url || throwaway != c.throwaway {
			t.Errorf("hubDB(%q) = %q, %v, %v; want %q, %v", c.arg, u, throwaway, err, c.url, c.throwaway)
		}
	}
}
