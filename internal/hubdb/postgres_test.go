package hubdb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// pgDDL prints the CREATE statements of the real hub's ORM for PostgreSQL
// (the schema jupyterhub creates on a postgresql:// db_url), without needing
// a PostgreSQL driver in the venv.
const pgDDL = `
from sqlalchemy.schema import CreateTable, CreateIndex
from sqlalchemy.dialects import postgresql
from jupyterhub import orm
d = postgresql.dialect()
for t in orm.Base.metadata.sorted_tables:
    print(str(CreateTable(t).compile(dialect=d)).strip() + ";")
    for i in t.indexes:
        print(str(CreateIndex(i).compile(dialect=d)).strip() + ";")
print("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));")
`

// pgServer is a throw-away PostgreSQL cluster on 127.0.0.1.
type pgServer struct {
	port     int
	password string // of the superuser hubadmin (scram over TCP)
}

func (s pgServer) url(password, db string) string {
	return fmt.Sprintf("postgresql://hubadmin:%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10", password, s.port, db)
}

// startPostgres runs initdb and pg_ctl in a temporary directory, as the
// postgres user when running as root. It skips when the server binaries are
// not installed (Debian: apt-get install postgresql).
func startPostgres(t *testing.T) pgServer {
	t.Helper()
	bin := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
		if len(m) > 0 {
			return m[len(m)-1]
		}
		return ""
	}
	initdb, pgctl := bin("initdb"), bin("pg_ctl")
	if initdb == "" || pgctl == "" {
		testenv.Missing(t, "the PostgreSQL server (no initdb/pg_ctl)", "HUBCAP_SETUP_POSTGRES=1 make setup (Debian: apt-get install postgresql)")
	}
	var asUser string
	var uid, gid int
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		runuser, _ := exec.LookPath("runuser")
		if err != nil || runuser == "" {
			testenv.Missing(t, "a postgres user and runuser (initdb refuses root)", "apt-get install postgresql util-linux")
		}
		asUser = u.Username
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	command := func(name string, args ...string) *exec.Cmd {
		if asUser != "" {
			return exec.Command("runuser", append([]string{"-u", asUser, "--", name}, args...)...)
		}
		return exec.Command(name, args...)
	}
	base, err := os.MkdirTemp("", "hubdb-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	pw := make([]byte, 12)
	rand.Read(pw)
	srv := pgServer{password: hex.EncodeToString(pw)}
	if err := os.WriteFile(filepath.Join(base, "pw"), []byte(srv.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if asUser != "" {
		for _, p := range []string{base, filepath.Join(base, "pw")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	data := filepath.Join(base, "data")
	run := func(cmd *exec.Cmd) {
		t.Helper()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out.String())
		}
	}
	run(command(initdb, "-D", data, "-U", "hubadmin", "--pwfile", filepath.Join(base, "pw"),
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Cleanup(func() {
		cmd := command(pgctl, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop")
		cmd.WaitDelay = 5 * time.Second
		cmd.Run()
	})
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=20 -c shared_buffers=16MB", srv.port, base)
	run(command(pgctl, "-D", data, "-l", filepath.Join(base, "log"), "-w", "-t", "60", "-o", opts, "start"))
	return srv
}

// TestPostgres reads the real hub schema with the fixture's rows in a
// PostgreSQL server: the same shape as from SQLite, the release range, a
// session that refuses writes, and the connection errors.
func TestPostgres(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	srv := startPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Set up the hub database with a write connection of the test's own.
	admin, err := pgx.Connect(ctx, srv.url(srv.password, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE jupyterhub"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	w, err := pgx.Connect(ctx, srv.url(srv.password, "jupyterhub"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	ddl, err := exec.Command(hubtest.Python(t, "5.5.1"), "-c", pgDDL).Output()
	if err != nil {
		t.Fatalf("DDL from the hub's ORM: %v", err)
	}
	if _, err := w.Exec(ctx, string(ddl)); err != nil {
		t.Fatalf("applying the hub's DDL: %v", err)
	}
	if _, err := w.Exec(ctx, "INSERT INTO alembic_version VALUES ($1)", f.Revision); err != nil {
		t.Fatal(err)
	}
	copyRows(ctx, t, copyDB(t, f.Path), w)

	t.Run("shape", func(t *testing.T) {
		db, err := Open(ctx, srv.url(srv.password, "jupyterhub"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rr, err := db.Release()
		if err != nil || !rr.Contains(f.Version) {
			t.Errorf("Release() = %v, %v; want a range containing %s", rr, err, f.Version)
		}
		sh, err := db.Shape(ctx)
		if err != nil {
			t.Fatal(err)
		}
		compareShape(t, sh, expectShape(f.Spec, f.Bytes))
		fromSQLite, _, err := openShape(t, copyDB(t, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if sh.State != fromSQLite.State {
			t.Errorf("state stats differ: PostgreSQL %+v, SQLite %+v", sh.State, fromSQLite.State)
		}
	})

	t.Run("read-only session", func(t *testing.T) {
		db, err := Open(ctx, srv.url(srv.password, "jupyterhub"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		c := db.be.(pgBackend).c
		for _, q := range []string{"CREATE TABLE x (y int)", "DELETE FROM spawners", "UPDATE users SET admin = true"} {
			if _, err := c.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "read-only") {
				t.Errorf("%s through hubdb's session: %v, want a read-only error", q, err)
			}
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		const wrong = "not-the-pw-4711"
		_, err := Open(ctx, srv.url(wrong, "jupyterhub"))
		if !errors.Is(err, ErrConnect) {
			t.Fatalf("Open with a wrong password = %v, want ErrConnect", err)
		}
		if msg := err.Error(); strings.Contains(msg, wrong) || strings.Contains(msg, srv.password) || !strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d", srv.port)) {
			t.Errorf("error %q: must name 127.0.0.1:%d and no password", msg, srv.port)
		}
	})

	t.Run("not a hub database", func(t *testing.T) {
		_, err := Open(ctx, srv.url(srv.password, "postgres"))
		if !errors.Is(err, ErrNotJupyterHub) {
			t.Fatalf("Open(postgres database) = %v, want ErrNotJupyterHub", err)
		}
		if strings.Contains(err.Error(), srv.password) {
			t.Errorf("error shows the password: %v", err)
		}
	})
}

// copyRows copies users, servers and spawners (the columns hubdb reads, plus
// NOT NULL ones) from a SQLite hub database into PostgreSQL.
func copyRows(ctx context.Context, t *testing.T, sqlitePath string, w *pgx.Conn) {
	t.Helper()
	src := writeDB(t, sqlitePath)
	for _, c := range []struct{ table, cols string }{
		{"users", "id, name, cookie_id"},
		{"servers", "id, base_url"},
		{"spawners", "id, user_id, server_id, state, name, user_options"},
	} {
		rows, err := src.Query("SELECT " + c.cols + " FROM " + c.table)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(c.cols, ",") + 1
		ph := make([]string, n)
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		ins := "INSERT INTO " + c.table + " (" + c.cols + ") VALUES (" + strings.Join(ph, ", ") + ")"
		for rows.Next() {
			vals := make([]any, n)
			ptrs := make([]any, n)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
			}
			if _, err := w.Exec(ctx, ins, vals...); err != nil {
				t.Fatalf("%s %v: %v", ins, vals, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	src.Close()
}
