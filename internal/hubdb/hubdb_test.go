package hubdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/filesnap"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/shape"
)

// openShape opens path, reads its shape and closes it.
func openShape(t *testing.T, dsn string) (Shape, ReleaseRange, error) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dsn)
	if err != nil {
		return Shape{}, ReleaseRange{}, err
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	sh, err := db.Shape(ctx)
	if err != nil {
		return Shape{}, ReleaseRange{}, err
	}
	rr, err := db.Release()
	return sh, rr, err
}

// compareShape checks the counts users rely on: the totals and each user's
// row, in order of share of J.
func compareShape(t *testing.T, got, want Shape) {
	t.Helper()
	if got.U != want.U || got.S != want.S || got.R != want.R || got.J != want.J {
		t.Errorf("U,S,R,J = %d,%d,%d,%d; want %d,%d,%d,%d", got.U, got.S, got.R, got.J, want.U, want.S, want.R, want.J)
	}
	if got.Spawners != want.Spawners || got.Servers != want.Servers {
		t.Errorf("spawners, servers = %d, %d; want %d, %d", got.Spawners, got.Servers, want.Spawners, want.Servers)
	}
	if want.JB >= 0 && got.JB != want.JB {
		t.Errorf("JoinedBytes = %d, want %d", got.JB, want.JB)
	}
	if want.JP != 0 && (got.JP != want.JP || got.LP != want.LP) {
		t.Errorf("JoinedPyBytes, LinearPyBytes = %d, %d; want %d, %d", got.JP, got.LP, want.JP, want.LP)
	}
	byName := map[string]shape.User{}
	for _, u := range want.Users {
		byName[u.Name] = u
	}
	if len(got.Users) != len(want.Users) {
		t.Fatalf("%d users in PerUser, want %d", len(got.Users), len(want.Users))
	}
	for i, u := range got.Users {
		w := byName[u.Name]
		if w.Py == 0 { // the fixture knows only the text bytes of all rows
			u.RunBytes, u.Py, u.RunPy = 0, 0, 0
		}
		if u != w {
			t.Errorf("PerUser[%d] = %+v, want %+v", i, u, w)
		}
		if i > 0 {
			p := got.Users[i-1]
			if p.J < u.J || p.J == u.J && (p.S < u.S || p.S == u.S && p.Name > u.Name) {
				t.Errorf("PerUser not sorted by share of J: %+v before %+v", p, u)
			}
		}
	}
}

// TestRealHub reads databases written by the installed JupyterHub releases:
// the shape matches what the hub's ORM was told to write, the release range
// contains the installed version, and the file is byte-identical afterwards
// with no -journal, -wal or -shm beside it.
func TestRealHub(t *testing.T) {
	for _, rel := range testReleases {
		t.Run(rel, func(t *testing.T) {
			f := hubFixture(t, rel)
			path := hubsqlite.Copy(t, f.Path)
			before := filesnap.Snapshot(t, filepath.Dir(path))

			ctx := context.Background()
			db, err := Open(ctx, "sqlite:///"+path)
			if err != nil {
				t.Fatal(err)
			}
			if db.Revision() != f.Revision {
				t.Errorf("Revision() = %q, hub stamped %q", db.Revision(), f.Revision)
			}
			rr, err := db.Release()
			if err != nil {
				t.Fatalf("Release: %v", err)
			}
			if !rr.Contains(f.Version) {
				t.Errorf("release range %v does not contain the installed JupyterHub %s", rr, f.Version)
			}
			// Both installed releases are 5.x, which share one head across
			// the 5.4.3 fix: the caller has to ask.
			if !rr.StraddlesFix {
				t.Errorf("range %v of a 5.x database should straddle %s", rr, FixRelease)
			}
			sh, err := db.Shape(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			compareShape(t, sh, expectShape(f.Spec, f.Bytes))
			if sh.J <= sh.R {
				t.Errorf("fixture should have users with several running servers (J=%d, R=%d)", sh.J, sh.R)
			}
			filesnap.AssertUntouched(t, filepath.Dir(path), before)
		})
	}
}

// TestStateStats checks the state-size statistics against the fixture.
func TestStateStats(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	sh, _, err := openShape(t, hubsqlite.Copy(t, f.Path))
	if err != nil {
		t.Fatal(err)
	}
	var total, maxState int
	for _, u := range f.Spec.Users {
		for _, s := range u.Spawners {
			if s.State != nil {
				maxState = max(maxState, len(s.State["pad"].(string)))
			}
		}
		total += f.Bytes[u.Name]
	}
	avg := sh.State.AvgStateBytes + sh.State.AvgUserOptionsBytes
	if want := float64(total) / float64(sh.Spawners); abs64(avg-want) > 1e-9*want {
		t.Errorf("avg state+user_options bytes = %v, want %v", avg, want)
	}
	// The largest state holds the largest pad plus the JSON around it.
	if sh.State.MaxStateBytes <= int64(maxState) || sh.State.MaxStateBytes > int64(maxState)+100 {
		t.Errorf("MaxStateBytes = %d; the largest pad is %d bytes", sh.State.MaxStateBytes, maxState)
	}
	if sh.State.MaxUserOptionsBytes == 0 || sh.State.Rows != sh.Spawners {
		t.Errorf("state stats %+v", sh.State)
	}
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestShapeGenerated checks the GROUP BY against counts drawn by the test,
// including users without spawners and a user whose rows are all stopped.
func TestShapeGenerated(t *testing.T) {
	path, _ := schemaDB(t, "4621fec11365")
	users := []hubsqlite.User{
		{Name: "heavy", S: 40, R: 39, StateBytes: 500},
		{Name: "none", S: 0},
		{Name: "stopped", S: 5, R: 0, StateBytes: 20},
		{Name: "one", S: 1, R: 1, StateBytes: 20},
	}
	for i := range 30 {
		users = append(users, hubsqlite.User{Name: fmt.Sprintf("u%02d", i), S: 1 + i%4, R: i % 3 % (1 + i%4), StateBytes: 100})
	}
	hubsqlite.Insert(t, path, users)
	before := filesnap.Snapshot(t, filepath.Dir(path))
	sh, _, err := openShape(t, path)
	if err != nil {
		t.Fatal(err)
	}
	var want Shape
	for _, u := range users {
		st := int64(len(`{"pad": "`+strings.Repeat("x", max(0, u.StateBytes-11))+`"}`)) + 2 // + "{}"
		state := `{"pad": "` + strings.Repeat("x", max(0, u.StateBytes-11)) + `"}`
		rowPy, err := models.PyJSONSize([]byte(state))
		if err != nil {
			t.Fatal(err)
		}
		rowPy += 64 // user_options {}
		us := shape.User{Name: u.Name, S: int64(u.S), R: int64(u.R), J: int64(u.R * u.S), Bytes: st * int64(u.S),
			RunBytes: st * int64(u.R), Py: rowPy * int64(u.S), RunPy: rowPy * int64(u.R)}
		want.U++
		want.S += us.S
		want.R += us.R
		want.J += us.J
		want.Spawners += us.S
		want.Servers += us.R
		want.JB += us.R*us.Bytes + us.S*us.RunBytes
		want.JP += us.R*us.Py + us.S*us.RunPy
		if us.R > 0 {
			want.LP += us.RunPy + us.Py
		}
		want.Users = append(want.Users, us)
	}
	compareShape(t, sh, want)
	if sh.Users[0].Name != "heavy" {
		t.Errorf("largest share of J first: got %q", sh.Users[0].Name)
	}
	filesnap.AssertUntouched(t, filepath.Dir(path), before)
}

// TestDSNForms opens one database through every accepted spelling.
func TestDSNForms(t *testing.T) {
	path, _ := schemaDB(t, "4621fec11365")
	hubsqlite.Insert(t, path, []hubsqlite.User{{Name: "a", S: 2, R: 1}})
	dir := filepath.Dir(path)
	t.Chdir(dir)
	for _, dsn := range []string{
		path,
		"sqlite:///" + path,
		"sqlite:////" + strings.TrimPrefix(path, "/"),
		"sqlite:" + path,
		"sqlite:jupyterhub.sqlite",
		"sqlite:///jupyterhub.sqlite", // SQLAlchemy's relative reading (JupyterHub's default db_url)
		"jupyterhub.sqlite",
		"file://" + path,
		"SQLITE:///" + path + "?timeout=5",
	} {
		sh, _, err := openShape(t, dsn)
		if err != nil {
			t.Errorf("%s: %v", dsn, err)
			continue
		}
		if sh.U != 1 || sh.S != 2 || sh.R != 1 {
			t.Errorf("%s: shape %d/%d/%d", dsn, sh.U, sh.S, sh.R)
		}
	}
}

// TestErrors checks every bad input gives its sentinel and a hint.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noTables := filepath.Join(dir, "other.sqlite")
	db := hubsqlite.Open(t, noTables)
	hubsqlite.Exec(t, db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
	hubsqlite.Exec(t, db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
	db.Close()
	oldHub := filepath.Join(dir, "old.sqlite")
	db = hubsqlite.Open(t, oldHub)
	for _, s := range []string{"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
		"CREATE TABLE servers (id INTEGER PRIMARY KEY)",
		"CREATE TABLE spawners (id INTEGER PRIMARY KEY, user_id INTEGER, server_id INTEGER, state TEXT, name TEXT)"} {
		hubsqlite.Exec(t, db, s)
	}
	db.Close()
	truncated := filepath.Join(dir, "trunc.sqlite")
	orig, err := os.ReadFile(noTables)
	if err != nil {
		t.Fatal(err)
	}
	write("trunc.sqlite", orig[:50])
	corrupt := write("corrupt.sqlite", append(append([]byte{}, orig[:100]...), make([]byte, 4000)...))

	cases := []struct {
		name, dsn string
		want      error
		says      []string
	}{
		{"missing file", filepath.Join(dir, "nope", "jupyterhub.sqlite"), ErrNotFound,
			[]string{filepath.Join(dir, "nope", "jupyterhub.sqlite"), "/srv/jupyterhub/jupyterhub.sqlite", "kubectl cp"}},
		{"missing, both readings", "sqlite:///nope/jupyterhub.sqlite", ErrNotFound,
			[]string{"/nope/jupyterhub.sqlite", "kubectl cp"}},
		{"text file", write("notes.txt", []byte("c.JupyterHub.db_url = 'sqlite:///x'\n")), ErrNotSQLite, []string{"notes.txt", "SQLite header"}},
		{"empty file", write("empty.sqlite", nil), ErrNotSQLite, []string{"empty"}},
		{"directory", dir, ErrNotSQLite, []string{"directory"}},
		{"truncated header", truncated, ErrNotSQLite, []string{"truncated"}},
		{"corrupt", corrupt, ErrNotSQLite, []string{"corrupt"}},
		{"no hub tables", noTables, ErrNotJupyterHub, []string{"spawners", "servers", "/srv/jupyterhub/jupyterhub.sqlite"}},
		{"pre-1.0 columns", oldHub, ErrNotJupyterHub, []string{"user_options", "1.0"}},
		{"in-memory", "sqlite://", ErrBadDSN, []string{"in-memory"}},
		{"mysql", "mysql://hub:s3cret-pw@db/jupyterhub", ErrBadDSN, []string{"mysql"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(ctx, c.dsn)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want %v", c.dsn, c.want)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Open(%q) = %v, want %v", c.dsn, err, c.want)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*-*"))
	if len(matches) > 0 {
		t.Errorf("files appeared: %v", matches)
	}
}

// TestUnknownRevision: a database of a release newer than the table opens,
// reads, and says which revision it found and to pass --release.
func TestUnknownRevision(t *testing.T) {
	for _, c := range []struct{ name, rev, says string }{
		{"future revision", "0123456789ab", `"0123456789ab"`},
		{"empty alembic_version", "", "empty"},
		{"no alembic_version", "-", "no alembic_version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, _ := schemaDB(t, c.rev)
			w := hubsqlite.Open(t, path)
			switch c.rev {
			case "":
				hubsqlite.Exec(t, w, "DELETE FROM alembic_version")
			case "-":
				hubsqlite.Exec(t, w, "DROP TABLE alembic_version")
			}
			w.Close()
			hubsqlite.Insert(t, path, []hubsqlite.User{{Name: "a", S: 3, R: 2}})
			sh, rr, err := openShape(t, path)
			if !errors.Is(err, ErrUnknownRevision) {
				t.Fatalf("Release() error = %v, want ErrUnknownRevision", err)
			}
			for _, s := range []string{c.says, "--release"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
			if c.rev == "0123456789ab" && rr.Revision != c.rev {
				t.Errorf("ReleaseRange.Revision = %q", rr.Revision)
			}
			if sh.J != 6 {
				t.Errorf("shape still readable: J = %d, want 2·3", sh.J)
			}
		})
	}
}

// TestPostgresRefused: a closed 127.0.0.1 port gives ErrConnect naming
// host:port and never the password.
func TestPostgresRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now closed: connections are refused
	const pw = "Sup3r-s3cret/pw"
	for _, dsn := range []string{
		"postgresql://hub:" + "Sup3r-s3cret%2Fpw" + "@" + addr + "/jupyterhub",
		"postgres://hub:" + "Sup3r-s3cret%2Fpw" + "@" + addr + "/jupyterhub?sslmode=disable",
		"postgresql+psycopg2://hub:" + "Sup3r-s3cret%2Fpw" + "@" + addr + "/jupyterhub?connect_timeout=3",
	} {
		_, err := Open(context.Background(), dsn)
		if !errors.Is(err, ErrConnect) {
			t.Fatalf("Open(%s) = %v, want ErrConnect", Redact(dsn), err)
		}
		msg := err.Error()
		if !strings.Contains(msg, addr) {
			t.Errorf("error %q does not name %s", msg, addr)
		}
		if strings.Contains(msg, pw) || strings.Contains(msg, "Sup3r-s3cret%2Fpw") || strings.Contains(msg, "s3cret") {
			t.Errorf("error shows the password: %q", msg)
		}
		if !strings.Contains(msg, "port-forward") {
			t.Errorf("error %q has no hint", msg)
		}
	}
}

// TestDSNNeverPrintsPassword covers fmt's verbs on a parsed DSN.
func TestDSNNeverPrintsPassword(t *testing.T) {
	d, err := ParseDSN("postgresql://hub:hunter2-pw@db.example:5433/jhub?password=qqq-pw2&sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{d.String(), fmt.Sprint(d), fmt.Sprintf("%v %+v %#v %s", d, d, d, d)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "qqq-pw2") {
			t.Errorf("printed the password: %s", s)
		}
	}
	if d.Host != "db.example" || d.Port != "5433" || d.User != "hub" || d.Database != "jhub" {
		t.Errorf("parsed %+v", d)
	}
	if d.hostPort() != "db.example:5433" {
		t.Errorf("hostPort = %q", d.hostPort())
	}
}

// TestParseDSN is the table of accepted and rejected spellings.
func TestParseDSN(t *testing.T) {
	for _, c := range []struct {
		in         string
		kind       Kind
		path, alt  string
		host, port string
		err        bool
	}{
		{in: "/srv/jupyterhub/jupyterhub.sqlite", kind: SQLite, path: "/srv/jupyterhub/jupyterhub.sqlite"},
		{in: "jupyterhub.sqlite", kind: SQLite, path: "jupyterhub.sqlite"},
		{in: "sqlite:///srv/jupyterhub.sqlite", kind: SQLite, path: "/srv/jupyterhub.sqlite", alt: "srv/jupyterhub.sqlite"},
		{in: "sqlite:////srv/jupyterhub.sqlite", kind: SQLite, path: "/srv/jupyterhub.sqlite"},
		{in: "sqlite:rel/x.sqlite", kind: SQLite, path: "rel/x.sqlite"},
		{in: "sqlite:///x.sqlite?timeout=30", kind: SQLite, path: "/x.sqlite", alt: "x.sqlite"},
		{in: "file:///a%20b/x.sqlite", kind: SQLite, path: "/a b/x.sqlite"},
		{in: "postgresql://u:p@h:6543/d", kind: Postgres, host: "h", port: "6543"},
		{in: "postgres://u@h/d", kind: Postgres, host: "h"},
		{in: "postgresql+psycopg2://u:p@[::1]:5432/d", kind: Postgres, host: "::1", port: "5432"},
		{in: "", err: true},
		{in: "sqlite://", err: true},
		{in: "sqlite:///:memory:", err: true},
		{in: "sqlite://host/x", err: true},
		{in: "sqlite:", err: true},
		{in: "mysql+pymysql://u:p@h/d", err: true},
		{in: "postgresql:relative", err: true},
	} {
		d, err := ParseDSN(c.in)
		if (err != nil) != c.err {
			t.Errorf("ParseDSN(%q) error = %v, want error %v", c.in, err, c.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadDSN) {
				t.Errorf("ParseDSN(%q) = %v, want ErrBadDSN", c.in, err)
			}
			continue
		}
		if d.Kind != c.kind || d.Path != c.path || d.AltPath != c.alt || d.Host != c.host || d.Port != c.port {
			t.Errorf("ParseDSN(%q) = kind %q path %q alt %q host %q port %q", c.in, d.Kind, d.Path, d.AltPath, d.Host, d.Port)
		}
	}
}
