package hub_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
)

// An install given by path must hold bin/jupyterhub and bin/python; the
// error says which is missing and how to make one.
func TestInstallAtIncomplete(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "python"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := hub.InstallAt(dir)
	if !errors.Is(err, hub.ErrPythonMissing) || !strings.Contains(err.Error(), "bin/jupyterhub") || !strings.Contains(err.Error(), "pip install jupyterhub") {
		t.Fatalf("InstallAt without bin/jupyterhub: %v", err)
	}
	if _, err := hub.InstallAt(filepath.Join(dir, "nope")); !errors.Is(err, hub.ErrPythonMissing) {
		t.Fatalf("InstallAt of a missing directory: %v", err)
	}
	if _, err := hub.ResolveInstall(context.Background(), "", "", ""); !errors.Is(err, hub.ErrNotInstalled) {
		t.Fatalf("ResolveInstall with neither release nor path: %v", err)
	}
}

// A jupyterhub whose --version prints no release number is refused.
func TestInstallVersionGarbage(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"python": "#!/bin/sh\n", "jupyterhub": "#!/bin/sh\necho 'not a version!'\n"} {
		if err := os.WriteFile(filepath.Join(dir, "bin", name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := hub.ResolveInstall(context.Background(), "", "", dir)
	if !errors.Is(err, hub.ErrPythonMissing) || !strings.Contains(err.Error(), "not a release number") {
		t.Fatalf("ResolveInstall of a jupyterhub printing garbage: %v", err)
	}
}

// The release of an install given by path is what its jupyterhub says;
// asking for another release names both.
func TestResolveInstallReadsVersion(t *testing.T) {
	_, want := hubtest.Require(t, "5.3.0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// bin/jupyterhub itself is accepted as well as its prefix
	for _, p := range []string{want.Dir, want.Bin("jupyterhub")} {
		in, err := hub.ResolveInstall(ctx, "", "", p)
		if err != nil {
			t.Fatal(err)
		}
		if in.Release != "5.3.0" || in.Dir != want.Dir {
			t.Fatalf("ResolveInstall(%s) = %+v, want release 5.3.0 in %s", p, in, want.Dir)
		}
	}
	_, err := hub.ResolveInstall(ctx, "", "5.5.1", want.Dir)
	if !errors.Is(err, hub.ErrVersionMismatch) || !strings.Contains(err.Error(), "5.3.0") || !strings.Contains(err.Error(), "5.5.1") {
		t.Fatalf("ResolveInstall with the wrong release: %v", err)
	}
}
