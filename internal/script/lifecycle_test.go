package script

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestTestFail: exec.test.fail() lets the test run on and exits 110.
func TestTestFail(t *testing.T) {
	r := runScript(t, "lifecycle_fail.js", nil)
	if ExitCode(r.err) != ExitMarkedAsFailed || r.res.ExitCode != 110 {
		t.Fatalf("exit %d (%v), want 110\n%s", ExitCode(r.err), r.err, r.stderr)
	}
	if got := metricValue(t, r.res.Snapshot, "iterations", "count"); got != 3 {
		t.Errorf("%v iterations, want 3: fail() must not stop the test", got)
	}
	if !strings.Contains(r.stderr, "first iteration saw a problem") {
		t.Errorf("the reason is not logged:\n%s", r.stderr)
	}
}

// TestAbortInInitContext: test.abort() at the top level exits 108.
func TestAbortInInitContext(t *testing.T) {
	r := runScript(t, "lifecycle_abort_init.js", nil)
	if ExitCode(r.err) != ExitScriptAborted {
		t.Fatalf("exit %d (%v), want 108", ExitCode(r.err), r.err)
	}
}

// TestHandleSummaryTimeout: a handleSummary slower than its timeout is
// stopped and the default summary printed.
func TestHandleSummaryTimeout(t *testing.T) {
	start := time.Now()
	r := runScript(t, "lifecycle_summary_slow.js", nil)
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the run took %s: handleSummaryTimeout (300ms) was not applied", took)
	}
	if !strings.Contains(r.stderr, "handleSummaryTimeout") || !strings.Contains(r.stdout, "TOTAL RESULTS") {
		t.Errorf("want the timeout logged and the default summary printed\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// TestCtrlCEndsHandleSummary: a Ctrl-C during a hanging handleSummary ends
// it; the default summary is still printed.
func TestCtrlCEndsHandleSummary(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	r := runScriptCtx(t, ctx, "lifecycle_summary_hang.js", nil)
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the run took %s after Ctrl-C", took)
	}
	if ExitCode(r.err) != ExitExternalAbort || !strings.Contains(r.stdout, "TOTAL RESULTS") {
		t.Errorf("exit %d (%v), want 105 and the default summary\n%s", ExitCode(r.err), r.err, r.stdout)
	}
}

// TestHandleSummaryReturningNothing prints the default summary.
func TestHandleSummaryReturningNothing(t *testing.T) {
	r := runScript(t, "lifecycle_summary_nothing.js", nil)
	if r.err != nil || !strings.Contains(r.stdout, "summary_seen") {
		t.Fatalf("%v; want the default summary\n%s\n%s", r.err, r.stdout, r.stderr)
	}
}

// TestFreshPhaseVUs: setup, teardown and handleSummary do not share
// globals or VU tags.
func TestFreshPhaseVUs(t *testing.T) {
	r := runScript(t, "lifecycle_fresh.js", nil)
	if r.err != nil || !strings.Contains(r.stdout, "FRESH") {
		t.Fatalf("%v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
}

// TestConsolidatedOptions: exec.test.options shows the overrides, the
// default scenario made from the shortcuts and the defaults.
func TestConsolidatedOptions(t *testing.T) {
	r := runScript(t, "lifecycle_options.js", func(o *Options) { o.Overrides.VUs = 3 })
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, bad := r.res.Snapshot.Metric("bad_options"); bad {
		t.Errorf("exec.test.options is not consolidated:\n%s", r.stderr)
	}
}

// TestNoThresholdsAndSummaryFull: NoThresholds skips failing thresholds;
// the full summary lists the HTTP phases k6's compact one leaves out.
func TestNoThresholdsAndSummaryFull(t *testing.T) {
	r := runScript(t, "thresholds_fail.js", func(o *Options) { o.NoThresholds = true })
	if r.err != nil {
		t.Fatalf("--no-thresholds: %v", r.err)
	}
	r = runScript(t, "basic.js", func(o *Options) { o.SummaryFull = true })
	if r.err != nil || !strings.Contains(r.stdout, "group_duration") {
		t.Errorf("full summary without group_duration: %v\n%s", r.err, r.stdout)
	}
}

// TestSourceFromStdin: a script given as text resolves imports from its
// directory.
func TestSourceFromStdin(t *testing.T) {
	src := []byte(`import { double } from './lib/util.js';
export const options = { iterations: 1 };
export default function () { if (double(2) !== 4) throw new Error("bad import"); }`)
	r := runScript(t, "basic.js", func(o *Options) { o.Script = "testdata/-"; o.Source = src })
	if r.err != nil || strings.Contains(r.stderr, "bad import") || metricValue(t, r.res.Snapshot, "iterations", "count") != 1 {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
}
