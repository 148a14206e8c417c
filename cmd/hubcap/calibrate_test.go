package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/hub"
)

func TestCalibrateCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"calibrate", "-h"}, ExitOK, "--budget"},
		{[]string{"calibrate"}, ExitUsage, "--hub is required"},
		{[]string{"calibrate", "--hub", "5.3.0"}, ExitUsage, "use --hub local:VERSION"},
		{[]string{"calibrate", "--hub", "local:"}, ExitUsage, "use --hub local:VERSION"},
		{[]string{"calibrate", "--hub", "local:5.3.0", "--budget", "-1s"}, ExitUsage, "budget"},
		{[]string{"calibrate", "--hub", "local:5.3.0", "--max-memory", "1Mi"}, ExitUsage, "at least 256Mi"},
		{[]string{"calibrate", "--hub", "local:5.3.0", "-o", filepath.Join(t.TempDir(), "no", "such", "c.json")}, ExitUsage, "does not exist"},
		{[]string{"calibrate", "--hub", "local:5.3.0", "stray"}, ExitUsage, "unexpected arguments"},
		{[]string{"calibrate", "--jupyterhub", filepath.Join(t.TempDir(), "nope")}, ExitUsage, "not a directory"},
		{[]string{"calibrate", "--jupyterhub", t.TempDir()}, ExitUsage, "no executable bin/python"},
		{[]string{"calibrate", "--hub", "5.3.0", "--jupyterhub", t.TempDir()}, ExitUsage, "use --hub local:VERSION"},
	} {
		code, out, errs := runArgs(t, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("hubcap %q: exit %d (want %d), output:\n%s%s\nwant it to contain %q", c.args, code, c.code, out, errs, c.want)
		}
	}
}

func TestLocalRelease(t *testing.T) {
	if r, err := localRelease("local:5.5.1"); r != "5.5.1" || err != nil {
		t.Errorf("local:5.5.1 → %q, %v", r, err)
	}
	for _, bad := range []string{"", "local:", "5.5.1", "http://127.0.0.1:8000", "local:../x", "local:a b"} {
		if _, err := localRelease(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDefaultCalibrationPath(t *testing.T) {
	// in a hubcap checkout (a root with .hubcap/ and models/calibrations/):
	// the shipped location
	repo := t.TempDir()
	for _, d := range []string{".hubcap", filepath.Join("models", "calibrations")} {
		if err := os.MkdirAll(filepath.Join(repo, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(hub.HomeEnv, repo)
	if p, want := defaultCalibrationPath("5.3.0"), filepath.Join(repo, "models", "calibrations", "jupyterhub-5.3.0.json"); p != want {
		t.Errorf("in a checkout: %q, want %q", p, want)
	}
	// elsewhere: the working directory
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, ".hubcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(hub.HomeEnv, other)
	if p := defaultCalibrationPath("5.5.1"); p != "jupyterhub-5.5.1.json" {
		t.Errorf("outside a checkout: %q", p)
	}
}
