package hubdb

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/filesnap"
	"github.com/hubcap-dev/hubcap/internal/testkit/hubsqlite"
)

// TestStoppedServers lists, from a database the real hub's ORM wrote, the
// stopped named servers of the users asked for — the names a check prints
// exact removal calls for — and leaves the file untouched.
func TestStoppedServers(t *testing.T) {
	f := hubFixture(t, "5.5.1")
	path := hubsqlite.Copy(t, f.Path)
	before := filesnap.Snapshot(t, filepath.Dir(path))
	want := map[string][]string{}
	var users []string
	for i, u := range f.Spec.Users {
		if i%2 == 1 {
			continue // not asked for: must not appear
		}
		users = append(users, u.Name)
		for _, s := range u.Spawners {
			if !s.Running && s.Name != "" {
				want[u.Name] = append(want[u.Name], s.Name)
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("fixture has no stopped named servers among the users asked for; the test would prove nothing")
	}
	db, err := Open(context.Background(), "sqlite:///"+path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.StoppedServers(context.Background(), users)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for u, names := range want {
		slices.Sort(names)
		if !slices.Equal(got[u], names) {
			t.Errorf("user %s: stopped servers %v, want %v", u, got[u], names)
		}
	}
	for u := range got {
		if _, ok := want[u]; !ok {
			t.Errorf("user %s listed but not asked for or without stopped servers: %v", u, got[u])
		}
	}
	filesnap.AssertUntouched(t, filepath.Dir(path), before)
}
