// Package hubsqlite builds JupyterHub databases on SQLite for tests: the
// real schema written by a release's own ORM (WriteORM), a minimal schema
// for tests that need no installed hub (Minimal), and bulk rows in one
// transaction (Insert), the fast way to 100,000 rows.
//
// Only _test.go files import hubsqlite.
package hubsqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Schema is enough of JupyterHub's schema for tests that need no real hub:
// the tables and columns hubcap reads.
const Schema = `
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(255) UNIQUE, cookie_id VARCHAR(255));
CREATE TABLE servers (id INTEGER PRIMARY KEY, base_url VARCHAR(255));
CREATE TABLE spawners (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
	server_id INTEGER REFERENCES servers (id) ON DELETE SET NULL, state TEXT, name VARCHAR(255),
	started DATETIME, last_activity DATETIME, user_options TEXT, oauth_client_id VARCHAR(255));
`

// Minimal writes a fresh jupyterhub.sqlite with Schema into a new temporary
// directory, stamped with revision rev ("" leaves alembic_version empty),
// and returns its path.
func Minimal(tb testing.TB, rev string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "jupyterhub.sqlite")
	db := Open(tb, path)
	for _, stmt := range strings.Split(Schema, ";") {
		if strings.TrimSpace(stmt) != "" {
			Exec(tb, db, stmt)
		}
	}
	if rev != "" {
		Exec(tb, db, "INSERT INTO alembic_version VALUES (?)", rev)
	}
	db.Close()
	return path
}

// Open opens the test-owned database at path read-write (one connection,
// 5 s busy timeout) and closes it when the test ends.
func Open(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

// Exec runs q and fails the test on error.
func Exec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// Copy copies the database file src into a fresh temporary directory and
// returns the copy's path.
func Copy(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "jupyterhub.sqlite")
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// User is a user for Insert: S spawner rows (the first is the default ""
// row, the others s1, s2, ...), the first R of them running (with a
// servers row), each with a JSON state of StateBytes bytes.
type User struct {
	Name       string
	S, R       int
	StateBytes int
}

// Insert writes users, servers and spawners into the database at path in
// one transaction. It works on Schema and on the schema a real hub
// created (which has more columns in users).
func Insert(tb testing.TB, path string, users []User) {
	tb.Helper()
	db := Open(tb, path)
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	// The real schema has more columns than Schema.
	full := strings.Contains(columns(tb, tx, "users"), "last_activity")
	q := "INSERT INTO users (name, cookie_id) VALUES (?, ?)"
	if full {
		q = "INSERT INTO users (name, admin, created, last_activity, cookie_id) VALUES (?, 0, ?, ?, ?)"
	}
	prep := func(q string) *sql.Stmt {
		st, err := tx.Prepare(q)
		if err != nil {
			tb.Fatal(err)
		}
		return st
	}
	insUser := prep(q)
	insServer := prep("INSERT INTO servers (base_url) VALUES (?)")
	insSpawner := prep("INSERT INTO spawners (user_id, server_id, state, name, started, last_activity, user_options) VALUES (?, ?, ?, ?, ?, ?, ?)")
	now := "2026-01-01 00:00:00.000000"
	for i, u := range users {
		var res sql.Result
		if full {
			res, err = insUser.Exec(u.Name, now, now, fmt.Sprintf("cookie-%d", i))
		} else {
			res, err = insUser.Exec(u.Name, fmt.Sprintf("cookie-%d", i))
		}
		if err != nil {
			tb.Fatal(err)
		}
		uid, _ := res.LastInsertId()
		state := `{"pad": "` + strings.Repeat("x", max(0, u.StateBytes-11)) + `"}`
		for k := range u.S {
			name := ""
			if k > 0 {
				name = fmt.Sprintf("s%d", k)
			}
			var sid any
			if k < u.R {
				res, err := insServer.Exec(fmt.Sprintf("/user/%s/%s/", u.Name, name))
				if err != nil {
					tb.Fatal(err)
				}
				sid, _ = res.LastInsertId()
			}
			if _, err := insSpawner.Exec(uid, sid, state, name, now, now, `{}`); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	db.Close()
}

func columns(tb testing.TB, tx *sql.Tx, table string) string {
	tb.Helper()
	rows, err := tx.Query("SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	return strings.Join(cols, ",")
}
