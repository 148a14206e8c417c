package hubdb_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/hubdb"
)

// TestInstalledHeads reads the alembic migration head of every release that
// setup installs from its own jupyterhub/alembic/versions and checks that
// the revision table maps that head to a range containing the release: a
// new release in setup whose head the table does not know fails here.
func TestInstalledHeads(t *testing.T) {
	revRe := regexp.MustCompile(`(?m)^revision\s*=\s*['"]([0-9a-f]{12})['"]`)
	downRe := regexp.MustCompile(`(?m)^down_revision\s*=\s*['"]([0-9a-f]{12})['"]`)
	for _, release := range []string{"4.1.6", "5.3.0", "5.5.1", "6.1.1"} {
		t.Run(release, func(t *testing.T) {
			_, in := hubtest.Require(t, release)
			files, _ := filepath.Glob(filepath.Join(in.Dir, "lib", "python3*", "site-packages", "jupyterhub", "alembic", "versions", "*.py"))
			revs, downs := map[string]bool{}, map[string]bool{}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if m := revRe.FindSubmatch(b); m != nil {
					revs[string(m[1])] = true
				}
				if m := downRe.FindSubmatch(b); m != nil {
					downs[string(m[1])] = true
				}
			}
			var heads []string
			for r := range revs {
				if !downs[r] {
					heads = append(heads, r)
				}
			}
			if len(heads) != 1 {
				t.Fatalf("%d migration files in %s, heads %v; want one head", len(files), in.Dir, heads)
			}
			r, err := hubdb.LookupRevision(heads[0])
			if err != nil {
				t.Fatal(err)
			}
			if !r.Contains(release) {
				t.Errorf("the installed %s has head %s, which the table maps to %v", release, heads[0], r)
			}
		})
	}
}
