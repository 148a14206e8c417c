package hubdb

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (test with errors.Is) and carries a hint that says what to do.
var (
	// ErrBadDSN: the database URL could not be understood (unknown scheme,
	// empty path, in-memory database).
	ErrBadDSN = errors.New("hubdb: bad database URL")

	// ErrNotFound: the SQLite file does not exist.
	ErrNotFound = errors.New("hubdb: database file not found")

	// ErrNotSQLite: the file exists but is not a SQLite database (a text
	// file, an empty or truncated copy, a directory).
	ErrNotSQLite = errors.New("hubdb: not a SQLite database")

	// ErrNotJupyterHub: the database has no users, spawners or servers table
	// (or those tables lack the columns JupyterHub ≥ 1.0 has).
	ErrNotJupyterHub = errors.New("hubdb: not a JupyterHub database")

	// ErrUnknownRevision: the alembic_version revision is not in the
	// revision table of this package, so the JupyterHub release is unknown.
	ErrUnknownRevision = errors.New("hubdb: unknown JupyterHub database revision")

	// ErrConnect: the PostgreSQL server could not be reached or refused the
	// connection.
	ErrConnect = errors.New("hubdb: cannot connect to PostgreSQL")

	// ErrRead: a query failed on a database that opened fine.
	ErrRead = errors.New("hubdb: cannot read the database")
)
