// Package hubdb reads a JupyterHub database, strictly read-only, into the
// numbers that drive the hub's start-up cost: the input side of
// `hubcap check`, the pre-workshop sign-off.
//
// Open accepts the path of a copied jupyterhub.sqlite (or a sqlite: URL) and
// PostgreSQL URLs. A SQLite file is opened through a read-only file: URI with
// PRAGMA query_only, and never gains a -journal, -wal or -shm file beside it;
// a PostgreSQL session runs with default_transaction_read_only=on and reads
// in a READ ONLY transaction. The alembic revision tells which releases wrote
// the database (DB.Release) and DB.Shape counts users and spawner rows.
//
// Every error wraps one of the Err… sentinels and says what to do.
package hubdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// DB is an open, read-only hub database. It is not safe for concurrent use.
type DB struct {
	be   backend
	dsn  DSN
	dia  dialect
	path string // SQLite: absolute path of the file read (may be a snapshot's source)

	revision    string
	revisionErr error // set when alembic_version is missing or odd

	cleanup func() error // removes a private snapshot, if one was taken
}

// rows is the part of *sql.Rows and pgx.Rows that hubdb uses.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// querier runs a query; SQLite placeholders are ?, PostgreSQL's $1.
type querier interface {
	Query(ctx context.Context, q string, args ...any) (rows, error)
}

// backend is a read-only connection to one of the engines.
type backend interface {
	querier
	// ReadTx runs fn in a read-only transaction: one consistent snapshot.
	ReadTx(ctx context.Context, fn func(querier) error) error
	Close() error
}

// dialect is the SQL that differs between SQLite and PostgreSQL.
type dialect struct {
	// byteLen returns the SQL expression for the length in bytes of a text
	// column, 0 when NULL.
	byteLen func(col string) string
}

var (
	sqliteDialect   = dialect{byteLen: func(c string) string { return "COALESCE(LENGTH(CAST(" + c + " AS BLOB)), 0)" }}
	postgresDialect = dialect{byteLen: func(c string) string { return "COALESCE(OCTET_LENGTH(" + c + "), 0)" }}
)

// Open opens the hub database at dsn (see ParseDSN for the forms) read-only,
// checks that it is a JupyterHub database and reads its alembic revision.
//
// Errors: ErrBadDSN, ErrNotFound, ErrNotSQLite, ErrNotJupyterHub, ErrConnect,
// ErrRead. An unknown revision is not an error here; DB.Release reports it.
func Open(ctx context.Context, dsn string) (*DB, error) {
	d, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var db *DB
	switch d.Kind {
	case SQLite:
		db, err = openSQLite(ctx, d)
	case Postgres:
		db, err = openPostgres(ctx, d)
	default:
		return nil, fmt.Errorf("%w: %v", ErrBadDSN, d)
	}
	if err != nil {
		return nil, err
	}
	if err := db.checkSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// DSN returns the parsed location of the database (printing it is safe).
func (db *DB) DSN() DSN { return db.dsn }

// Path is the absolute path of the SQLite file read ("" for PostgreSQL).
func (db *DB) Path() string { return db.path }

// Revision is the alembic revision stored in the database ("" if none).
func (db *DB) Revision() string { return db.revision }

// Release returns the JupyterHub releases whose schema head is the
// database's alembic revision. It fails with ErrUnknownRevision when the
// revision is missing or not in the table; the caller should then ask for
// --release. When the range straddles FixRelease (every 5.x database does),
// the result is valid but the caller must still ask for --release.
func (db *DB) Release() (ReleaseRange, error) {
	if db.revisionErr != nil {
		return ReleaseRange{Revision: db.revision}, db.revisionErr
	}
	return LookupRevision(db.revision)
}

// Close releases the connection (and deletes a private snapshot, if Open
// had to take one).
func (db *DB) Close() error {
	var err error
	if db.be != nil {
		err = db.be.Close()
		db.be = nil
	}
	if db.cleanup != nil {
		err = errors.Join(err, db.cleanup())
		db.cleanup = nil
	}
	return err
}

// where names the database in messages.
func (db *DB) where() string {
	if db.dsn.Kind == SQLite {
		return db.path
	}
	return db.dsn.String()
}

// readErr wraps a failed query.
func (db *DB) readErr(what string, err error) error {
	return fmt.Errorf("%w: %s of %s: %s; check the database is a complete, uncorrupted JupyterHub database",
		ErrRead, what, db.where(), db.dsn.scrub(err.Error()))
}

// requiredColumns are the tables and columns Shape reads (JupyterHub ≥ 1.0).
var requiredColumns = map[string][]string{
	"users":    {"id", "name"},
	"spawners": {"id", "user_id", "server_id", "name", "state", "user_options"},
	"servers":  {"id"},
}

// checkSchema fails with ErrNotJupyterHub unless users, spawners and servers
// exist with the columns Shape needs, and reads alembic_version.
func (db *DB) checkSchema(ctx context.Context) error {
	tables, err := db.tables(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for _, t := range []string{"users", "spawners", "servers"} {
		if _, ok := tables[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s has no %s table (tables found: %s); point hubcap at the hub's own database (z2jh: /srv/jupyterhub/jupyterhub.sqlite in the hub pod, or the URL in c.JupyterHub.db_url)",
			ErrNotJupyterHub, db.where(), strings.Join(missing, ", "), tableList(tables))
	}
	for _, t := range []string{"users", "spawners", "servers"} {
		cols, err := db.columns(ctx, t)
		if err != nil {
			return err
		}
		for _, c := range requiredColumns[t] {
			if !cols[c] {
				return fmt.Errorf("%w: table %s of %s has no column %s; hubcap reads databases of JupyterHub 1.0 or newer (run jupyterhub upgrade-db on a copy)",
					ErrNotJupyterHub, t, db.where(), c)
			}
		}
	}
	if _, ok := tables["alembic_version"]; !ok {
		db.revisionErr = fmt.Errorf("%w: %s has no alembic_version table; pass --release explicitly", ErrUnknownRevision, db.where())
		return nil
	}
	rows, err := db.be.Query(ctx, "SELECT version_num FROM alembic_version")
	if err != nil {
		return db.readErr("alembic_version", err)
	}
	defer rows.Close()
	var revs []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return db.readErr("alembic_version", err)
		}
		revs = append(revs, v)
	}
	if err := rows.Err(); err != nil {
		return db.readErr("alembic_version", err)
	}
	switch len(revs) {
	case 1:
		db.revision = revs[0]
	case 0:
		db.revisionErr = fmt.Errorf("%w: the alembic_version table of %s is empty; pass --release explicitly", ErrUnknownRevision, db.where())
	default:
		db.revision = strings.Join(revs, ",")
		db.revisionErr = fmt.Errorf("%w: alembic_version of %s holds %d revisions (%s), JupyterHub's history has one head; pass --release explicitly",
			ErrUnknownRevision, db.where(), len(revs), db.revision)
	}
	return nil
}

func tableList(tables map[string]bool) string {
	if len(tables) == 0 {
		return "none"
	}
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	slices.Sort(names)
	if len(names) > 12 {
		names = append(names[:12], "…")
	}
	return strings.Join(names, ", ")
}

// tables lists the tables visible to the connection (lower-cased names).
func (db *DB) tables(ctx context.Context) (map[string]bool, error) {
	var q string
	switch db.dsn.Kind {
	case SQLite:
		q = "SELECT name FROM sqlite_master WHERE type = 'table'"
	default:
		// Tables on the search_path, as JupyterHub's unqualified names resolve.
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false))"
	}
	rows, err := db.be.Query(ctx, q)
	if err != nil {
		return nil, db.notSQLiteOrRead("list of tables", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, db.readErr("list of tables", err)
		}
		out[strings.ToLower(n)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, db.notSQLiteOrRead("list of tables", err)
	}
	return out, nil
}

// columns lists the columns of a table (lower-cased names).
func (db *DB) columns(ctx context.Context, table string) (map[string]bool, error) {
	var (
		rows rows
		err  error
	)
	switch db.dsn.Kind {
	case SQLite:
		rows, err = db.be.Query(ctx, "SELECT name FROM pragma_table_info(?)", table)
	default:
		rows, err = db.be.Query(ctx,
			"SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))", table)
	}
	if err != nil {
		return nil, db.readErr("columns of "+table, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, db.readErr("columns of "+table, err)
		}
		out[strings.ToLower(n)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, db.readErr("columns of "+table, err)
	}
	return out, nil
}

// notSQLiteOrRead turns SQLite's "file is not a database" into ErrNotSQLite.
func (db *DB) notSQLiteOrRead(what string, err error) error {
	if db.dsn.Kind == SQLite && isNotADB(err) {
		return notSQLiteErr(db.path, "SQLite cannot read it (corrupt or encrypted)")
	}
	return db.readErr(what, err)
}

// notFoundErr is ErrNotFound with the z2jh hint.
func notFoundErr(paths ...string) error {
	what := fmt.Sprintf("%q", paths[0])
	if len(paths) > 1 {
		what += fmt.Sprintf(" (nor %q)", paths[1])
	}
	return fmt.Errorf("%w: no file %s; copy the hub's database first: in zero-to-jupyterhub it is /srv/jupyterhub/jupyterhub.sqlite in the hub pod, kubectl cp <namespace>/<hub-pod>:/srv/jupyterhub/jupyterhub.sqlite ./jupyterhub.sqlite (the pod: kubectl get pod -n <namespace> -l component=hub)",
		ErrNotFound, what)
}

func notSQLiteErr(path, why string) error {
	return fmt.Errorf("%w: %q: %s; give the hub's jupyterhub.sqlite (if it came from kubectl cp, check the copy finished), or a postgresql:// URL for a PostgreSQL hub",
		ErrNotSQLite, path, why)
}

// exists reports whether path exists (errors other than not-exist count as
// existing, so that Open then reports them).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
