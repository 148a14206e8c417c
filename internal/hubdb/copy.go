package hubdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrCopy: a copy of the database could not be written.
var ErrCopy = errors.New("hubdb: cannot copy the database")

// CopySQLite writes a consistent copy of the SQLite database to dest with
// SQLite's VACUUM INTO, run on the read-only connection Open made: the copy
// is one read snapshot (a -wal's committed frames included, a hot journal
// rolled back in Open's private snapshot), and the original is only ever
// read. dest must not exist; its directory must. PostgreSQL databases
// fail with ErrCopy.
func (db *DB) CopySQLite(ctx context.Context, dest string) error {
	b, ok := db.be.(sqliteBackend)
	if !ok {
		return fmt.Errorf("%w: %s is not a SQLite database", ErrCopy, db.where())
	}
	dest, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCopy, err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%w: %s exists; remove it or choose another file", ErrCopy, dest)
	}
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCopy, err)
	}
	defer conn.Close()
	// query_only refuses VACUUM INTO; the connection's file stays read-only
	// (mode=ro or immutable, or Open's private snapshot), so lifting it for
	// this one statement cannot write the original.
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only=0"); err != nil {
		return fmt.Errorf("%w: %v", ErrCopy, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA query_only=1")
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		os.Remove(dest)
		return fmt.Errorf("%w: %s to %s: %v", ErrCopy, db.where(), dest, err)
	}
	return nil
}
