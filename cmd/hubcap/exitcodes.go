package main

import (
	"context"
	"errors"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/proc"
)

// Exit codes of hubcap. Scripts may rely on them; do not renumber.
const (
	ExitOK = 0
	// ExitError is any failure without a more specific code.
	ExitError = 1
	// ExitUsage: bad command line.
	ExitUsage = 2
	// ExitSetup: a release, node or the proxy is not installed (run make setup).
	ExitSetup = 3
	// ExitNoCgroup: a memory limit was asked for but no cgroup is usable.
	ExitNoCgroup = 4
	// ExitStartTimeout: the hub did not become healthy in time.
	ExitStartTimeout = 5
	// ExitOOMKilled: the hub was killed by its memory limit.
	ExitOOMKilled = 6
	// ExitHubExited: the hub exited on its own before it became healthy.
	ExitHubExited = 7
	// ExitPortBusy: an explicitly requested port is taken.
	ExitPortBusy = 8
	// ExitNotRunning: no (running) hub where one was expected.
	ExitNotRunning = 9
	// ExitAlreadyRunning: hub up found a hub running from that run directory.
	ExitAlreadyRunning = 10
	// ExitHubDied: hubcap run's hub stopped answering during the run and did
	// not come back. It wins over the script's own result (thresholds that
	// held, 99, 105, 107, 108): CI gating on the exit code must not pass a
	// run in which the hub died. Not a k6 code (k6 uses 97–110).
	ExitHubDied = 31
	// ExitThresholds: a load test ran but its thresholds failed (as k6).
	ExitThresholds = 99
	// ExitInterrupted: stopped by Ctrl-C or SIGTERM (128 + SIGINT).
	ExitInterrupted = 130
)

// exitCodes maps sentinel errors to exit codes; the first match wins.
// Command files may append their own from init().
var exitCodes = []struct {
	err  error
	code int
}{
	{context.Canceled, ExitInterrupted},
	{hub.ErrOOMKilled, ExitOOMKilled},
	{hub.ErrStartTimeout, ExitStartTimeout},
	{hub.ErrHubExited, ExitHubExited},
	{hub.ErrPortBusy, ExitPortBusy},
	{hub.ErrNotInstalled, ExitSetup},
	{hub.ErrNoRoot, ExitSetup},
	{hub.ErrPythonMissing, ExitSetup},
	{hub.ErrProxyMissing, ExitSetup},
	{hub.ErrNodeMissing, ExitSetup},
	{proc.ErrNoCgroup, ExitNoCgroup},
	{hub.ErrAlreadyRunning, ExitAlreadyRunning},
	{hub.ErrNoState, ExitNotRunning},
	{hub.ErrStopped, ExitNotRunning},
	{hub.ErrBadOptions, ExitUsage},
	{bytesize.ErrInvalid, ExitUsage},
}

// exitError attaches an exit code to an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExitCode makes err exit the process with code.
func withExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// errSilent marks errors already reported to the user.
var errSilent = errors.New("already reported")

type silentError struct{ err error }

func (e silentError) Error() string   { return e.err.Error() }
func (e silentError) Unwrap() []error { return []error{e.err, errSilent} }

// errSilentWrap marks err as already printed (the flag package prints its own).
func errSilentWrap(err error) error { return silentError{err} }

// exitCode picks the exit code for err.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	for _, m := range exitCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return ExitError
}
