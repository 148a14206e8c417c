package hubdb

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/pgtest"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
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

// TestPostgres reads the real hub schema with the fixture's rows in a
// PostgreSQL server: the same shape as from SQLite, the release range, a
// session that refuses writes, and the connection errors.
func TestPostgres(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	srv := pgtest.Start(t)
	hubURL := srv.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Set up the hub database with a write connection of the test's own.
	w, err := pgx.Connect(ctx, hubURL)
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
	copyRows(ctx, t, hubsqlite.Copy(t, f.Path), w)

	t.Run("shape", func(t *testing.T) {
		db, err := Open(ctx, hubURL)
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
		fromSQLite, _, err := openShape(t, hubsqlite.Copy(t, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if sh.State != fromSQLite.State {
			t.Errorf("state stats differ: PostgreSQL %+v, SQLite %+v", sh.State, fromSQLite.State)
		}
	})

	t.Run("read-only session", func(t *testing.T) {
		db, err := Open(ctx, hubURL)
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
		_, err := Open(ctx, strings.Replace(hubURL, srv.Password(), wrong, 1))
		if !errors.Is(err, ErrConnect) {
			t.Fatalf("Open with a wrong password = %v, want ErrConnect", err)
		}
		if msg := err.Error(); strings.Contains(msg, wrong) || strings.Contains(msg, srv.Password()) || !strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d", srv.Port)) {
			t.Errorf("error %q: must name 127.0.0.1:%d and no password", msg, srv.Port)
		}
	})

	t.Run("not a hub database", func(t *testing.T) {
		_, err := Open(ctx, srv.URL("postgres"))
		if !errors.Is(err, ErrNotJupyterHub) {
			t.Fatalf("Open(postgres database) = %v, want ErrNotJupyterHub", err)
		}
		if strings.Contains(err.Error(), srv.Password()) {
			t.Errorf("error shows the password: %v", err)
		}
	})
}

// copyRows copies users, servers and spawners (the columns hubdb reads, plus
// NOT NULL ones) from a SQLite hub database into PostgreSQL.
func copyRows(ctx context.Context, t *testing.T, sqlitePath string, w *pgx.Conn) {
	t.Helper()
	src := hubsqlite.Open(t, sqlitePath)
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
