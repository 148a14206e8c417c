package hubdb

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/filesnap"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
	"github.com/hubcap-dev/hubcap/shape"
)

// pyWALWriter is another process, as the hub is: it switches the database
// to WAL, adds a user with 3 spawner rows (2 running) without checkpointing,
// says "ready" and keeps the connection open until stdin closes.
const pyWALWriter = `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
assert c.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("BEGIN")
uid = c.execute("INSERT INTO users (name, cookie_id) VALUES ('wal-user', 'wal-cookie')").lastrowid
for i, running in enumerate([True, True, False]):
    sid = c.execute("INSERT INTO servers (base_url) VALUES ('/user/wal-user/')").lastrowid if running else None
    c.execute("INSERT INTO spawners (user_id, server_id, name) VALUES (?, ?, ?)", (uid, sid, "n" * i))
c.execute("COMMIT")
print("ready", flush=True)
sys.stdin.read()
`

// walFixture is a copy of the 5.5.1 fixture in WAL mode, held open by a
// writer process whose rows live only in the -wal file. It returns the path
// and the shape including the writer's user.
func walFixture(t *testing.T) (string, Shape) {
	f := hubFixture(t, "5.5.1")
	path := hubsqlite.Copy(t, f.Path)
	cmd := exec.Command(hubtest.Python(t, "5.5.1"), "-c", pyWALWriter, path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("writer said %q, %v", line, err)
	}
	if size(path+"-wal") <= 0 || !exists(path+"-shm") {
		t.Fatal("the writer left no -wal/-shm: the test does not test WAL reading")
	}
	want := expectShape(f.Spec, f.Bytes)
	want.Users = append(want.Users, shape.User{Name: "wal-user", S: 3, R: 2, J: 6})
	want.U++
	want.S += 3
	want.R += 2
	want.J += 6
	want.Spawners += 3
	want.Servers += 2
	return path, want
}

// TestWALClean: a WAL-mode database without -wal/-shm (a clean copy) is read
// without creating either.
func TestWALClean(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	path := hubsqlite.Copy(t, f.Path)
	w := hubsqlite.Open(t, path)
	hubsqlite.Exec(t, w, "PRAGMA journal_mode=WAL")
	w.Close()
	if hdr, err := readSQLiteHeader(path); err != nil || !hdr.wal {
		t.Fatalf("header %+v %v: want a WAL database", hdr, err)
	}
	before := filesnap.Snapshot(t, filepath.Dir(path))
	if len(before) != 1 {
		t.Fatalf("want the database alone, have %v", before)
	}
	sh, _, err := openShape(t, path)
	if err != nil {
		t.Fatal(err)
	}
	compareShape(t, sh, expectShape(f.Spec, f.Bytes))
	filesnap.AssertUntouched(t, filepath.Dir(path), before)
}

// TestWALLiveWriter: with a live writer process (-wal and -shm present),
// the reader sees the rows that are only in the WAL and changes none of the
// three files (readonly_shm: it takes no read mark in the -shm). A writer in
// the same process would share its writable -shm mapping with the reader, so
// this needs the second process.
func TestWALLiveWriter(t *testing.T) {
	path, want := walFixture(t)
	before := filesnap.Snapshot(t, filepath.Dir(path))
	sh, _, err := openShape(t, path)
	if err != nil {
		t.Fatal(err)
	}
	compareShape(t, sh, want)
	filesnap.AssertUntouched(t, filepath.Dir(path), before)
}

// TestWALWithoutShm: a database copied with its -wal but not its -shm is
// read from a private snapshot (a read-only open would create -shm), which
// Close removes.
func TestWALWithoutShm(t *testing.T) {
	src, want := walFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "jupyterhub.sqlite")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+suffix, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	before := filesnap.Snapshot(t, dir)
	sh, _, err := openShape(t, path)
	if err != nil {
		t.Fatal(err)
	}
	compareShape(t, sh, want)
	filesnap.AssertUntouched(t, dir, before)
	if left := filesnap.Snapshot(t, tmp); len(left) > 0 {
		t.Errorf("the private snapshot was not removed: %v", left)
	}
}

// TestHotJournal: a database left with a hot rollback journal (the writer
// died mid-transaction, pages already spilled into the file) reads as it was
// before that transaction, from a private snapshot; the originals are
// untouched.
func TestHotJournal(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	src := hubsqlite.Copy(t, f.Path)
	w := hubsqlite.Open(t, src)
	hubsqlite.Exec(t, w, "PRAGMA cache_size=10") // spill modified pages to the file
	tx, err := w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("DELETE FROM spawners"); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if _, err := tx.Exec("INSERT INTO users (name, cookie_id) VALUES (?, ?)", "torn-"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+strconv.Itoa(i), "c"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	// "Crash": copy the files while the transaction is open.
	dir := t.TempDir()
	path := filepath.Join(dir, "jupyterhub.sqlite")
	for _, suffix := range []string{"", "-journal"} {
		b, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatalf("%s: %v (no journal: the test does not test a hot journal)", suffix, err)
		}
		if err := os.WriteFile(path+suffix, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tx.Rollback()
	pristine := filesnap.Snapshot(t, filepath.Dir(f.Path))[filepath.Base(f.Path)]
	before := filesnap.Snapshot(t, dir)
	if before["jupyterhub.sqlite"] == pristine {
		t.Fatal("no pages were spilled into the file: the journal would not matter")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	sh, _, err := openShape(t, path)
	if err != nil {
		t.Fatal(err)
	}
	compareShape(t, sh, expectShape(f.Spec, f.Bytes))
	filesnap.AssertUntouched(t, dir, before)
	if left := filesnap.Snapshot(t, tmp); len(left) > 0 {
		t.Errorf("the private snapshot was not removed: %v", left)
	}
}

// TestRollbackLiveWriter: a writer inside a small transaction (a -journal
// that is not hot) does not stop the reader, which sees committed data.
func TestRollbackLiveWriter(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	path := hubsqlite.Copy(t, f.Path)
	w := hubsqlite.Open(t, path)
	tx, err := w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO users (name, cookie_id) VALUES ('uncommitted', 'c')"); err != nil {
		t.Fatal(err)
	}
	if !exists(path + "-journal") {
		t.Fatal("no -journal during the write transaction")
	}
	before := filesnap.Snapshot(t, filepath.Dir(path))
	sh, _, err := openShape(t, path)
	if err != nil {
		t.Fatal(err)
	}
	compareShape(t, sh, expectShape(f.Spec, f.Bytes))
	filesnap.AssertUntouched(t, filepath.Dir(path), before)
}

// TestReadOnlyEnforced: the connection refuses writes even if hubdb had a
// bug that issued one.
func TestReadOnlyEnforced(t *testing.T) {
	path, _ := schemaDB(t, "4621fec11365")
	before := filesnap.Snapshot(t, filepath.Dir(path))
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	be := db.be.(sqliteBackend)
	for _, q := range []string{"INSERT INTO users (name, cookie_id) VALUES ('x', 'y')", "CREATE TABLE x (y)", "PRAGMA journal_mode=WAL"} {
		if _, err := be.db.Exec(q); err == nil && !strings.HasPrefix(q, "PRAGMA") {
			t.Errorf("%s succeeded on a read-only connection", q)
		}
	}
	var mode string
	if err := be.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode == "wal" {
		t.Errorf("journal_mode = %q, %v: the file must stay in its mode", mode, err)
	}
	db.Close()
	if _, err := db.Shape(context.Background()); !errors.Is(err, ErrRead) {
		t.Errorf("Shape after Close = %v, want ErrRead", err)
	}
	filesnap.AssertUntouched(t, filepath.Dir(path), before)
}
