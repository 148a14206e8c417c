package hubdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteMagic is the first 16 bytes of every SQLite 3 database file
// (https://www.sqlite.org/fileformat.html, "The Database Header").
var sqliteMagic = []byte("SQLite format 3\x00")

// sqliteHeader is what Open learns from the first 100 bytes of the file.
type sqliteHeader struct {
	wal bool // file format read/write version 2: journal_mode=WAL
}

// readSQLiteHeader checks the file is a SQLite 3 database. It opens the file
// read-only and writes nothing.
func readSQLiteHeader(path string) (sqliteHeader, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return sqliteHeader{}, notFoundErr(path)
	}
	if err != nil {
		return sqliteHeader{}, fmt.Errorf("%w: cannot open %q: %v; check its permissions", ErrRead, path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return sqliteHeader{}, fmt.Errorf("%w: cannot stat %q: %v", ErrRead, path, err)
	}
	if st.IsDir() {
		return sqliteHeader{}, notSQLiteErr(path, "it is a directory (name the jupyterhub.sqlite file inside)")
	}
	if st.Size() == 0 {
		return sqliteHeader{}, notSQLiteErr(path, "the file is empty")
	}
	var h [100]byte
	n, err := io.ReadFull(f, h[:])
	if n < len(sqliteMagic) || !bytes.Equal(h[:len(sqliteMagic)], sqliteMagic) {
		return sqliteHeader{}, notSQLiteErr(path, "it does not start with the SQLite header")
	}
	if err != nil { // shorter than the 100-byte header
		return sqliteHeader{}, notSQLiteErr(path, fmt.Sprintf("it is truncated (%d bytes)", st.Size()))
	}
	// Offsets 18 and 19: file format write and read versions, 1 legacy, 2 WAL.
	return sqliteHeader{wal: h[18] == 2 || h[19] == 2}, nil
}

// openSQLite opens the first existing candidate path of d read-only.
//
// The open mode depends on what lies beside the file, because a plain
// mode=ro connection creates -wal and -shm files for a WAL database and
// cannot read through a hot rollback journal:
//
//	rollback journal, no -journal      mode=ro (shared locks; creates nothing)
//	rollback journal, -journal present mode=ro; if SQLite needs to roll the
//	                                   journal back (a crashed writer), read a
//	                                   private snapshot instead
//	WAL, no -wal file (or an empty one) immutable=1 (all data is in the file)
//	WAL, -wal and -shm present         mode=ro&readonly_shm=1
//	WAL, -wal but no -shm              private snapshot
//
// A private snapshot copies the database and its -wal/-journal into a fresh
// temporary directory, lets SQLite recover the copy there, and is removed by
// Close. The hub's files are only ever opened for reading.
func openSQLite(ctx context.Context, d DSN) (*DB, error) {
	path := d.Path
	if !exists(path) {
		if d.AltPath == "" || !exists(d.AltPath) {
			paths := []string{abs(path)}
			if d.AltPath != "" {
				paths = append(paths, abs(d.AltPath))
			}
			return nil, notFoundErr(paths...)
		}
		path = d.AltPath
	}
	path = abs(path)
	hdr, err := readSQLiteHeader(path)
	if err != nil {
		return nil, err
	}
	walFile, shmFile, journal := path+"-wal", path+"-shm", path+"-journal"
	db := &DB{dsn: d, dia: sqliteDialect, path: path}
	var b sqliteBackend
	switch {
	case hdr.wal && size(walFile) <= 0:
		b, err = openSQLiteURI(path, "mode=ro&immutable=1")
	case hdr.wal && exists(shmFile):
		b, err = openSQLiteURI(path, "mode=ro&readonly_shm=1")
	case hdr.wal:
		return openSnapshot(ctx, db, walFile)
	default:
		b, err = openSQLiteURI(path, "mode=ro")
	}
	if err != nil {
		return nil, err
	}
	if err := b.touch(ctx); err != nil {
		b.Close()
		switch {
		case isNotADB(err):
			return nil, notSQLiteErr(path, "SQLite cannot read it (corrupt or encrypted)")
		case sqliteCode(err) == sqlite3.SQLITE_READONLY_ROLLBACK && exists(journal):
			return openSnapshot(ctx, db, journal)
		}
		return nil, db.readErr("schema", err)
	}
	db.be = b
	return db, nil
}

// openSQLiteURI opens path through a file: URI with the given SQLite URI
// parameters plus query_only. SQLite URIs take %-escapes in the path.
func openSQLiteURI(path, params string) (sqliteBackend, error) {
	u := url.URL{Scheme: "file", Path: path}
	dsn := u.String() + "?" + params + "&_pragma=query_only(1)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return sqliteBackend{}, fmt.Errorf("%w: %v", ErrRead, err)
	}
	// One connection: SQLite gains nothing from more for one reader, and
	// every connection re-reads the schema.
	db.SetMaxOpenConns(1)
	return sqliteBackend{db}, nil
}

// sqliteBackend is a backend over database/sql and modernc.org/sqlite.
type sqliteBackend struct{ db *sql.DB }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqlQuerier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func query(ctx context.Context, q sqlQuerier, s string, args ...any) (rows, error) {
	r, err := q.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type txQuerier struct{ tx *sql.Tx }

func (t txQuerier) Query(ctx context.Context, s string, args ...any) (rows, error) {
	return query(ctx, t.tx, s, args...)
}

func (b sqliteBackend) Query(ctx context.Context, s string, args ...any) (rows, error) {
	return query(ctx, b.db, s, args...)
}

// ReadTx runs fn in one deferred transaction: a single read snapshot.
func (b sqliteBackend) ReadTx(ctx context.Context, fn func(querier) error) error {
	tx, err := b.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(txQuerier{tx})
}

func (b sqliteBackend) Close() error { return b.db.Close() }

// touch reads the schema, so that "not a database" and a hot journal show up
// at Open rather than in the middle of Shape.
func (b sqliteBackend) touch(ctx context.Context) error {
	return b.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(new(int64))
}

// openSnapshot copies the database and one sibling (-wal or -journal) to a
// private temporary directory and opens the copy, letting SQLite apply or
// roll back the sibling there. The copy is writable (recovery writes), but
// the connection is query_only.
func openSnapshot(ctx context.Context, db *DB, sibling string) (*DB, error) {
	dir, err := os.MkdirTemp("", "hubcap-hubdb-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %s needs a private copy (it has %s) but no temporary directory: %v; set TMPDIR to a writable directory",
			ErrRead, db.path, filepath.Base(sibling), err)
	}
	cleanup := func() error { return os.RemoveAll(dir) }
	fail := func(err error) (*DB, error) {
		cleanup()
		return nil, err
	}
	base := filepath.Join(dir, "jupyterhub.sqlite")
	suffix := strings.TrimPrefix(sibling, db.path)
	for _, c := range [][2]string{{db.path, base}, {sibling, base + suffix}} {
		if err := copyFile(c[0], c[1]); err != nil {
			return fail(fmt.Errorf("%w: copying %s to a private snapshot: %v", ErrRead, c[0], err))
		}
	}
	u := url.URL{Scheme: "file", Path: base}
	s, err := sql.Open("sqlite", u.String()+"?mode=rw&_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrRead, err))
	}
	s.SetMaxOpenConns(1)
	b := sqliteBackend{s}
	if err := b.touch(ctx); err != nil {
		s.Close()
		if isNotADB(err) {
			return fail(notSQLiteErr(db.path, "SQLite cannot read it (corrupt or encrypted)"))
		}
		return fail(db.readErr("schema (private snapshot)", err))
	}
	db.be, db.cleanup = b, cleanup
	return db, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sqliteCode is the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isNotADB: SQLite says the file is not a database or is malformed.
func isNotADB(err error) bool {
	c := sqliteCode(err) & 0xff
	return c == sqlite3.SQLITE_NOTADB || c == sqlite3.SQLITE_CORRUPT
}

// size is the size of path in bytes, -1 when it does not exist.
func size(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
