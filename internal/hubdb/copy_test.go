package hubdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/filesnap"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
)

// copyAndShape copies the database at src with CopySQLite and returns the
// shape read from the copy; the source's directory must be untouched.
func copyAndShape(t *testing.T, src string) Shape {
	t.Helper()
	ctx := context.Background()
	before := filesnap.Snapshot(t, filepath.Dir(src))
	db, err := Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "copy.sqlite")
	if err := db.CopySQLite(ctx, dest); err != nil {
		t.Fatal(err)
	}
	// a second copy onto the first is refused, the first kept
	if err := db.CopySQLite(ctx, dest); !errors.Is(err, ErrCopy) {
		t.Fatalf("copy onto an existing file: %v", err)
	}
	// the connection is read-only again afterwards
	if _, err := db.be.(sqliteBackend).db.ExecContext(ctx, "DELETE FROM users"); err == nil {
		t.Fatal("the connection accepted a write after the copy")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	filesnap.AssertUntouched(t, filepath.Dir(src), before)
	sh, _, err := openShape(t, dest)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// TestCopySQLite: the copy holds the same shape as the original, which is
// byte-identical afterwards.
func TestCopySQLite(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	path := hubsqlite.Copy(t, f.Path)
	compareShape(t, copyAndShape(t, path), expectShape(f.Spec, f.Bytes))
}

// TestCopySQLiteWAL: with a live writer whose rows are only in the -wal,
// the copy has them and none of the three files changes.
func TestCopySQLiteWAL(t *testing.T) {
	path, want := walFixture(t)
	compareShape(t, copyAndShape(t, path), want)
}

// TestCopySQLiteMissingDir: a destination in a missing directory fails
// with ErrCopy and leaves nothing behind.
func TestCopySQLiteMissingDir(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	ctx := context.Background()
	db, err := Open(ctx, hubsqlite.Copy(t, f.Path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dest := filepath.Join(t.TempDir(), "no", "such", "copy.sqlite")
	if err := db.CopySQLite(ctx, dest); !errors.Is(err, ErrCopy) {
		t.Fatalf("copy into a missing directory: %v", err)
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s: %v", dest, err)
	}
}
