package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
)

// Every problem with the options is reported at once, each saying what
// to give.
func TestValidate(t *testing.T) {
	errs := Options{MemoryLimit: 1 << 20, StartTimeout: -1}.Validate()
	msg := errors.Join(errs...).Error()
	for _, want := range []string{"no database given", "no release given", "below what an empty hub needs", "negative start timeout"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validate lacks %q:\n%s", want, msg)
		}
	}
	for _, err := range errs {
		if !errors.Is(err, ErrOptions) {
			t.Errorf("%v does not wrap ErrOptions", err)
		}
	}
	if errs := (Options{DB: "x.sqlite", Release: "5.3.0", MemoryLimit: -5}).Validate(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "negative") {
		t.Errorf("negative limit: %v", errs)
	}
	if errs := (Options{DB: "x.sqlite", JupyterHub: "/opt/hub", MemoryLimit: 2 << 30}).Validate(); len(errs) != 0 {
		t.Errorf("valid options refused: %v", errs)
	}
}

// Error paths that need no hub: they fail before any install is looked
// for or anything is written.
func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUBCAP_HOME", filepath.Join(dir, "no-install"))
	for _, c := range []struct {
		db   string
		want error
		hint string
	}{
		{filepath.Join(dir, "missing.sqlite"), hubdb.ErrNotFound, "missing.sqlite"},
		{notDB, hubdb.ErrNotSQLite, "notes.txt"},
		{"postgresql://hub:secret@127.0.0.1:1/jupyterhub?connect_timeout=5", hubdb.ErrConnect, "127.0.0.1"},
		{"mysql://x", hubdb.ErrBadDSN, ""},
	} {
		_, err := Run(context.Background(), Options{DB: c.db, Release: "5.3.0", RunDir: filepath.Join(dir, "run")})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.hint) {
			t.Errorf("Run(%s): %v, want %v mentioning %q", c.db, err, c.want, c.hint)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed replay created its run directory: %v", err)
	}
}
