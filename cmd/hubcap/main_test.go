package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/internal/testenv"
)

// asMainEnv makes the test binary behave as hubcap itself, so commands that
// re-execute os.Executable() (hub up --spawner fleet) work under go test.
const asMainEnv = "HUBCAP_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if n, err := strconv.Atoi(os.Getenv(standinEnv)); err == nil {
		os.Exit(serveStandin(n))
	}
	if os.Getenv(asMainEnv) == "1" {
		main()
		return
	}
	os.Setenv(asMainEnv, "1")
	os.Exit(m.Run())
}

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), IO{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string // in stdout+stderr
	}{
		{nil, ExitUsage, "Commands:"},
		{[]string{"help"}, ExitOK, "hub "},
		{[]string{"nosuch"}, ExitUsage, `unknown command "nosuch"`},
		{[]string{"hub"}, ExitUsage, "up|down|restart|status"},
		{[]string{"hub", "sideways"}, ExitUsage, `unknown subcommand "sideways"`},
		{[]string{"hub", "up", "--memory-limit", "12parsecs"}, ExitUsage, "invalid memory size"},
		{[]string{"hub", "up", "--no-such-flag"}, ExitUsage, "flag provided but not defined"},
		{[]string{"hub", "up", "-h"}, ExitOK, "--memory-limit"},
		{[]string{"hub", "up", "stray"}, ExitUsage, "unexpected arguments"},
		{[]string{"hub", "up", "--spawner", "kube", "--run-dir", "/nonexistent/x"}, ExitUsage, `spawner "kube"`},
	}
	for _, c := range cases {
		code, out, errs := runArgs(t, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("hubcap %q: exit %d (want %d), output:\n%s%s\nwant it to contain %q", c.args, code, c.code, out, errs, c.want)
		}
	}
	// Hidden commands stay out of the usage text.
	_, out, _ := runArgs(t, "help")
	for name, c := range commands {
		if c.Hidden && strings.Contains(out, "  "+name+" ") {
			t.Errorf("hidden command %s listed", name)
		}
	}
}

func TestUnknownReleaseExitCode(t *testing.T) {
	if _, err := hub.FindRoot(); err != nil {
		testenv.Missing(t, fmt.Sprintf("the install root (%v)", err), hub.SetupCommand)
	}
	code, _, errs := runArgs(t, "hub", "up", "--release", "0.0.1", "--run-dir", t.TempDir())
	if code != ExitSetup || !strings.Contains(errs, "make setup") || !strings.Contains(errs, "installed in") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitError},
		{fmt.Errorf("start: %w", &hub.StartError{Err: fmt.Errorf("x: %w", hub.ErrOOMKilled)}), ExitOOMKilled},
		{fmt.Errorf("x: %w", hub.ErrStartTimeout), ExitStartTimeout},
		{fmt.Errorf("x: %w", hub.ErrHubExited), ExitHubExited},
		{fmt.Errorf("x: %w", proc.ErrNoCgroup), ExitNoCgroup},
		{fmt.Errorf("x: %w", hub.ErrNotInstalled), ExitSetup},
		{fmt.Errorf("x: %w", hub.ErrPortBusy), ExitPortBusy},
		{fmt.Errorf("x: %w", context.Canceled), ExitInterrupted},
		{withExitCode(ExitThresholds, errors.New("thresholds")), ExitThresholds},
		{withExitCode(ExitHubDied, errHubDied(fmt.Errorf("x: %w", script.ErrThresholdsFailed))), ExitHubDied},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.code {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
	// Codes are distinct.
	seen := map[int]string{}
	for name, code := range map[string]int{"OK": ExitOK, "Error": ExitError, "Usage": ExitUsage, "Setup": ExitSetup,
		"NoCgroup": ExitNoCgroup, "StartTimeout": ExitStartTimeout, "OOMKilled": ExitOOMKilled, "HubExited": ExitHubExited,
		"PortBusy": ExitPortBusy, "NotRunning": ExitNotRunning, "AlreadyRunning": ExitAlreadyRunning, "Thresholds": ExitThresholds, "Interrupted": ExitInterrupted,
		"HubDied": ExitHubDied, "CheckFailed": ExitCheckFailed, "NotAHub": ExitNotAHub, "TokenRejected": ExitTokenRejected,
		"HubUnreachable": ExitHubUnreachable, "NoCalibration": ExitNoCalibration,
		"k6 ExternalAbort":   script.ExitExternalAbort,
		"k6 ScriptException": script.ExitScriptException, "k6 ScriptAborted": script.ExitScriptAborted,
		"k6 SetupTimeout": script.ExitSetupTimeout, "k6 TeardownTimeout": script.ExitTeardownTimeout, "k6 InvalidConfig": script.ExitInvalidConfig} {
		if other, dup := seen[code]; dup {
			t.Errorf("exit code %d used by %s and %s", code, name, other)
		}
		seen[code] = name
	}
}
