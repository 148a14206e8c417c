// Package testenv is the one place where hubcap's tests may skip. A test
// that needs something of its environment (an installed JupyterHub, node,
// a memory cgroup, PostgreSQL, Chromium, ECharts) calls Missing when it is
// not there: the test skips with the install hint, or fails with it under
// HUBCAP_REQUIRE_HUBS=1 (make test sets it), so nothing skips silently in
// CI. Long tests left out under -short call Short; tests that only
// regenerate fixtures on request call OptIn. archtest checks that no test
// calls Skip, Skipf or SkipNow itself.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

const (
	// RequireEnv turns every Missing into a failure when set to 1.
	RequireEnv = "HUBCAP_REQUIRE_HUBS"
	// RequireBrowserEnv turns MissingBrowser into a failure when set to 1
	// (as RequireEnv does).
	RequireBrowserEnv = "HUBCAP_REQUIRE_BROWSER"
)

// SetupHint is the usual install hint: what make test runs.
const SetupHint = "make setup (make test also installs Chromium and PostgreSQL)"

// Required reports whether missing pieces fail tests (HUBCAP_REQUIRE_HUBS=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Missing ends the test for a piece of its environment that is not there:
// what it is (and why it is missing), and hint, the command that installs
// it. It skips, or fails under HUBCAP_REQUIRE_HUBS=1.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	missing(t, Required(), what, hint)
}

// MissingBrowser is Missing for the browser tests' pieces (Chromium,
// ECharts): it also fails under HUBCAP_REQUIRE_BROWSER=1.
func MissingBrowser(t testing.TB, what, hint string) {
	t.Helper()
	missing(t, Required() || os.Getenv(RequireBrowserEnv) == "1", what, hint)
}

func missing(t testing.TB, fail bool, what, hint string) {
	t.Helper()
	msg := "missing: " + what
	if hint != "" {
		msg += "; install with: " + hint
	}
	if fail {
		t.Fatalf("%s (%s=1: nothing may skip)", msg, RequireEnv)
	}
	t.Skip(msg + " (skipped; " + RequireEnv + "=1 makes this a failure)")
}

// Short skips a long test under go test -short, saying what it would do.
// make test does not pass -short.
func Short(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: " + what)
	}
}

// OptIn skips a test that only does something when asked (asked is its
// flag, e.g. -fixture to regenerate a fixture), naming the flag.
func OptIn(t testing.TB, asked bool, how string) {
	t.Helper()
	if !asked {
		t.Skip(fmt.Sprintf("opt-in: %s", how))
	}
}

// CgroupHint says how to get a usable memory cgroup.
const CgroupHint = "run as root with the cgroup v2 memory controller (or cgroup v1's /sys/fs/cgroup/memory) mounted writable; in a container: --privileged or --cgroupns=host"
