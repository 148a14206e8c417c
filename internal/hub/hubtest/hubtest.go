// Package hubtest gives tests in any package a real local JupyterHub: it
// skips when the releases are not installed (fails instead when
// HUBCAP_REQUIRE_HUBS=1) and stops the hub in t.Cleanup.
package hubtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/testenv"
)

// RequireEnv names the variable that turns "skip" into "fail" when hubs
// are not installed (set it in CI after make setup).
const RequireEnv = testenv.RequireEnv

// Require returns the install root and the install of release, or skips
// the test (fails it when $HUBCAP_REQUIRE_HUBS=1) with the setup command.
func Require(t testing.TB, release string) (root string, in hub.Install) {
	t.Helper()
	fail := func(err error) {
		t.Helper()
		testenv.Missing(t, fmt.Sprintf("jupyterhub %s (%v)", release, err), hub.SetupCommand)
	}
	root, err := hub.FindRoot()
	if err != nil {
		fail(err)
	}
	in, err = hub.FindInstall(root, release)
	if err != nil {
		fail(err)
	}
	if _, err := hub.ProxyCommand(root); err != nil {
		fail(err)
	}
	return root, in
}

// Start starts a hub for the test with o (Release required; RunDir
// defaults to a test temp dir, Log to t.Log) and stops it in t.Cleanup.
// It skips like Require when the release is not installed.
func Start(t testing.TB, o hub.Options) *hub.Hub {
	t.Helper()
	root, _ := Require(t, o.Release)
	if o.Root == "" {
		o.Root = root
	}
	if o.RunDir == "" {
		o.RunDir = t.TempDir()
	}
	if o.Log == nil {
		o.Log = tlog{t}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := hub.Start(ctx, o)
	if err != nil {
		t.Fatalf("start jupyterhub %s: %v", o.Release, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Errorf("stop hub: %v", err)
		}
	})
	return h
}

type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Python returns the python of release's virtual environment (with the
// release's jupyterhub importable), skipping like Require when it is not
// installed.
func Python(t testing.TB, release string) string {
	t.Helper()
	_, in := Require(t, release)
	return in.Bin("python")
}

// StopHubProcess ends the hub process only (hub.StopProcess; the proxy and any
// fleet stay), as between two restarts, so that its database can be
// written; h.Restart starts it again.
func StopHubProcess(ctx context.Context, t testing.TB, h *hub.Hub) {
	t.Helper()
	if err := h.StopProcess(ctx); err != nil {
		t.Fatal(err)
	}
}
