// Package localhubtest starts a real hub with an in-process fleet for a
// test, skipping (or failing under HUBCAP_REQUIRE_HUBS=1) when the release
// is not installed, and stops everything in t.Cleanup.
package localhubtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// Start starts release with o (o.Hub.Release is set from release; RunDir
// defaults to a temp dir) and registers its Stop with t.Cleanup.
func Start(t testing.TB, release string, o localhub.Options) *localhub.Local {
	t.Helper()
	root, _ := hubtest.Require(t, release)
	o.Hub.Release = release
	if o.Hub.Root == "" {
		o.Hub.Root = root
	}
	if o.Hub.RunDir == "" {
		o.Hub.RunDir = t.TempDir()
	}
	if o.Hub.Log == nil {
		o.Hub.Log = tlog{t}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := localhub.Start(ctx, o)
	if err != nil {
		t.Fatalf("start jupyterhub %s with fleet: %v", release, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Stop(ctx); err != nil {
			t.Errorf("stop hub: %v", err)
		}
	})
	return l
}

// Admin returns an admin client of l's service token whose removals are
// guarded by prefix.
func Admin(t testing.TB, l *localhub.Local, prefix string) *hubapi.Client {
	t.Helper()
	tok, err := l.Hub.Token()
	if err != nil {
		t.Fatal(err)
	}
	c, err := hubapi.New(hubapi.Config{BaseURL: l.Hub.URL(), Token: tok, NamePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
