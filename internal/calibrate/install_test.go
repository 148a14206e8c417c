package calibrate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
)

// A calibration of an install given by path (--jupyterhub) records that
// install's Python and SQLAlchemy; a path without jupyterhub is refused
// before any hub starts.
func TestEnvironmentOfInstallPath(t *testing.T) {
	_, in := hubtest.Require(t, "5.3.0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := environment(ctx, "/nonexistent-root", "5.3.0", in.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if env.Release != "5.3.0" || env.Python == "" || env.SQLAlchemy == "" {
		t.Fatalf("environment of %s: %+v", in.Dir, env)
	}
	if _, err := environment(ctx, "", "5.3.0", t.TempDir()); !errors.Is(err, hub.ErrPythonMissing) {
		t.Fatalf("environment of an empty directory: %v", err)
	}
}
