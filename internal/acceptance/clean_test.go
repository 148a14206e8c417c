package acceptance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
)

// What every fault and release test checks after its run: no token in any
// output or log, and no user or server left that the run created.

// runPrefix is hubcap run's default --name-prefix.
const runPrefix = "hubcap-"

// noTokenIn fails if token appears in any of texts (name → content) or in
// any file of dirs (walked; the token files themselves excepted).
func noTokenIn(t *testing.T, token string, texts map[string]string, dirs ...string) {
	t.Helper()
	if len(token) < 16 {
		t.Fatalf("token %d characters long: not a token to look for", len(token))
	}
	for name, s := range texts {
		if strings.Contains(s, token) {
			t.Errorf("the token is in %s", name)
		}
	}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			// The token files and the hub's 0600 environment file hold
			// secrets by design.
			if err != nil || e.IsDir() || e.Name() == hub.ServiceTokenFile || strings.HasSuffix(e.Name(), "-token") || e.Name() == "hub-env.json" {
				return nil
			}
			if fi, err := e.Info(); err != nil || fi.Size() > 64<<20 || strings.HasSuffix(p, ".sqlite") || strings.Contains(p, "/home/") {
				// The database holds hashed tokens only; home dirs are the servers'.
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil && strings.Contains(string(b), token) {
				t.Errorf("the token is in %s", p)
			}
			return nil
		})
	}
}

// runToken is the service token of the local hub in runDir.
func runToken(t *testing.T, runDir string) string {
	t.Helper()
	tok, err := hub.ReadToken(filepath.Join(runDir, hub.ServiceTokenFile))
	if err != nil || tok == "" {
		t.Fatalf("the service token of %s: %v", runDir, err)
	}
	return tok
}

// nothingLeft fails if the hub database at dsn holds a user whose name
// starts with prefix, or a spawner row of one (what a run created and must
// have removed).
func nothingLeft(t *testing.T, dsn, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := hubdb.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open the hub database: %v", err)
	}
	defer db.Close()
	sh, err := db.Shape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range sh.Users {
		if strings.HasPrefix(u.Name, prefix) {
			t.Errorf("user %s is left with %d spawner rows (%d running)", u.Name, u.S, u.R)
		}
	}
}

// sqliteDSN is the database of a local hub's run directory.
func sqliteDSN(runDir string) string {
	return "sqlite:///" + filepath.Join(runDir, "jupyterhub.sqlite")
}
