package script

import (
	"strings"
	"testing"
)

func allChecksPass(t *testing.T, r runOut) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	var failed []string
	for _, c := range r.res.Snapshot.Root.AllChecks() {
		if c.Fails > 0 || c.Passes == 0 {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 || len(r.res.Snapshot.Root.AllChecks()) == 0 {
		t.Fatalf("failed checks %v\n%s", failed, r.stderr)
	}
}

// TestStdModules: k6/timers, setInterval, k6/encoding, k6/crypto and
// k6/data against published test vectors.
func TestStdModules(t *testing.T) {
	r := runScript(t, "std_modules.js", nil)
	allChecksPass(t, r)
	if n := len(r.res.Snapshot.Root.AllChecks()); n != 16 {
		t.Errorf("%d checks ran, want 16", n)
	}
}

// TestSharedArrayBuiltOnce: the data function runs once for all VUs.
func TestSharedArrayBuiltOnce(t *testing.T) {
	r := runScript(t, "shared_array_once.js", nil)
	if r.err != nil || strings.Contains(r.stderr, "bad length") {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if n := strings.Count(r.stderr, "SHARED ARRAY BUILT"); n != 1 {
		t.Errorf("the SharedArray function ran %d times, want 1", n)
	}
}
