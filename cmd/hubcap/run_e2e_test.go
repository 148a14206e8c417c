package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// End-to-end tests of hubcap run: scripts from testdata/hub run through the
// CLI entry point against a real JupyterHub 5.5.1 whose single-user servers
// are the in-process fleet.

const e2eRelease = "5.5.1"

func hubScript(name string) string { return filepath.Join("testdata", "hub", name) }

// readResults reads a --out json file with the report's k6 NDJSON reader.
func readResults(t *testing.T, path string) *reports.Results {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := reports.ReadNDJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return res
}

// points counts the points of metric whose tags include want.
func points(res *reports.Results, metric string, want map[string]string) (n int, last float64) {
	for _, s := range res.SeriesOf(metric) {
		ok := true
		for k, v := range want {
			if s.Tags[k] != v {
				ok = false
			}
		}
		if ok {
			n += len(s.Points)
			last = s.Points[len(s.Points)-1].Value
		}
	}
	return n, last
}

// span is the time of the first and last point of metric.
func span(res *reports.Results, metric string) (from, to time.Time) {
	for _, s := range res.SeriesOf(metric) {
		for _, p := range s.Points {
			if from.IsZero() || p.Time.Before(from) {
				from = p.Time
			}
			if p.Time.After(to) {
				to = p.Time
			}
		}
	}
	return from, to
}

// prefixed lists the hub's users whose names start with prefix.
func prefixed(t *testing.T, c *hubapi.Client, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	users, err := c.ListUsers(ctx, hubapi.ListOptions{NameFilter: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		if strings.HasPrefix(u.Name, prefix) {
			names = append(names, u.Name)
		}
	}
	return names
}

// TestRunAgainstHub runs the testdata scripts against one hub started by
// the test, passed as --hub URL with its service token in a --token-file.
func TestRunAgainstHub(t *testing.T) {
	l := localhubtest.Start(t, e2eRelease, localhub.Options{})
	admin := localhubtest.Admin(t, l, "hubcap-")
	token, err := l.Hub.Token()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hubArgs := func(runID string, extra ...string) []string {
		return append([]string{"run", "--hub", l.Hub.URL(), "--token-file", l.Hub.TokenFile(),
			"--telemetry-interval", "500ms", "--shape-interval", "1s", "--no-color", "-e", "RUN=" + runID}, extra...)
	}
	noToken := func(t *testing.T, texts ...string) {
		t.Helper()
		for _, s := range texts {
			if strings.Contains(s, token) {
				t.Errorf("the hub token appears in the output: %.200s", s)
			}
		}
	}
	ctx := context.Background()

	// Checks, groups, custom metrics, setup data, handleSummary, the NDJSON
	// stream with attendee phases and hub telemetry on one time axis, and
	// the cleanup of what the run created.
	t.Run("checks groups metrics summary", func(t *testing.T) {
		out, summary, export := filepath.Join(dir, "basic.json"), filepath.Join(dir, "summary.json"), filepath.Join(dir, "export.json")
		code, stdout, stderr := runCtx(ctx, hubArgs("basic", "-e", "SUMMARY="+summary, "--out", "json="+out,
			"--summary-export", export, hubScript("basic.js"))...)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "handled the summary") {
			t.Errorf("handleSummary's stdout is missing:\n%s", stdout)
		}
		var data struct {
			Metrics map[string]struct {
				Values map[string]float64 `json:"values"`
			} `json:"metrics"`
			RootGroup struct {
				Groups []struct {
					Name   string `json:"name"`
					Checks []struct {
						Name   string `json:"name"`
						Passes int    `json:"passes"`
						Fails  int    `json:"fails"`
					} `json:"checks"`
				} `json:"groups"`
			} `json:"root_group"`
		}
		b, err := os.ReadFile(summary)
		if err != nil {
			t.Fatalf("handleSummary did not write its file: %v", err)
		}
		if err := json.Unmarshal(b, &data); err != nil {
			t.Fatal(err)
		}
		if v := data.Metrics["checks"].Values; v["rate"] != 1 || v["passes"] < 15 {
			t.Errorf("checks: %v", v)
		}
		if v := data.Metrics["hubcap_test_journeys"].Values; v["count"] != 4 {
			t.Errorf("custom counter: %v, want count 4", v)
		}
		if v := data.Metrics["hubcap_test_spawn"].Values; !(v["min"] > 0) {
			t.Errorf("custom trend: %v", v)
		}
		journeyChecks := 0
		for _, g := range data.RootGroup.Groups {
			for _, c := range g.Checks {
				if g.Name == "attendee" && c.Name == "journey ok" && c.Fails == 0 {
					journeyChecks = c.Passes
				}
			}
		}
		if journeyChecks != 4 {
			t.Errorf("group attendee: %d passing 'journey ok' checks, want 4 (groups %+v)", journeyChecks, data.RootGroup.Groups)
		}
		if _, err := os.Stat(export); err != nil {
			t.Errorf("--summary-export: %v", err)
		}

		res := readResults(t, out)
		if res.Status != reports.StatusCompleted {
			t.Errorf("run status %q, want completed", res.Status)
		}
		// Attendee phases, tagged with the VU's scenario and group.
		if n, _ := points(res, "jupyterhub_spawn_duration", map[string]string{"phase": "spawn", "scenario": "journeys",
			"group": "::attendee", "cohort": "a", "result": "ok"}); n != 4 {
			t.Errorf("%d spawn samples of the journeys, want 4", n)
		}
		// Every hub request also counts in k6's HTTP metrics, named by its
		// endpoint template (basic.js has thresholds on them).
		if n, _ := points(res, "http_reqs", map[string]string{"scenario": "journeys", "group": "::attendee"}); n < 10 {
			t.Errorf("%d http_reqs points from the journeys' hub traffic, want one per request", n)
		}
		if n, _ := points(res, "http_req_duration", map[string]string{"scenario": "journeys", "expected_response": "true"}); n < 10 {
			t.Errorf("%d http_req_duration points of expected responses from the journeys", n)
		}
		if n, _ := points(res, "jupyterhub_execute_duration", map[string]string{"scenario": "steps"}); n != 2 {
			t.Errorf("%d execute samples of the steps, want 2", n)
		}
		phases := map[string]bool{}
		for _, p := range reports.PhaseLatencies(res) {
			phases[p.Phase] = true
		}
		for _, p := range []string{"login", "spawn", "oauth", "lab_load", "execute", "stop_server", "logout"} {
			if !phases[p] {
				t.Errorf("the report finds no %s latencies (found %v)", p, phases)
			}
		}
		// Hub telemetry in the same stream, during the run.
		n, rss := points(res, "hub_rss_bytes", map[string]string{"source": "metrics"})
		if n < 1 || rss < 10<<20 {
			t.Errorf("%d hub_rss_bytes points, last %.0f", n, rss)
		}
		if n, up := points(res, "hub_up", nil); n < 1 || up != 1 {
			t.Errorf("%d hub_up points, last %v", n, up)
		}
		// ... on one time axis: the hub was read while the attendees ran.
		hubFrom, hubTo := span(res, "hub_rss_bytes")
		attFrom, attTo := span(res, "jupyterhub_login_duration")
		if hubFrom.IsZero() || attFrom.IsZero() || hubFrom.After(attTo) || hubTo.Before(attFrom) {
			t.Errorf("hub telemetry %v..%v and attendee logins %v..%v do not overlap", hubFrom, hubTo, attFrom, attTo)
		}
		// Setup's user, the attendees' users: all removed after the run.
		if left := prefixed(t, admin, "hubcap-basic-"); len(left) != 0 {
			t.Errorf("left on the hub after the run: %v", left)
		}
		if !strings.Contains(stderr, "cleanup: removed 4 users") {
			t.Errorf("no cleanup line:\n%s", stderr)
		}
		nd, _ := os.ReadFile(out)
		noToken(t, stdout, stderr, string(nd), string(b))
	})

	// A failing threshold: exit 99; with --keep the user stays.
	t.Run("threshold fails, keep", func(t *testing.T) {
		out := filepath.Join(dir, "thr.json")
		code, stdout, stderr := runCtx(ctx, hubArgs("thr", "-q", "--keep", "--out", "json="+out, hubScript("thresholds_fail.js"))...)
		if code != ExitThresholds || !strings.Contains(stderr, "thresholds have been crossed on metrics 'jupyterhub_login_duration'") {
			t.Fatalf("exit %d, want 99\n%s%s", code, stdout, stderr)
		}
		if res := readResults(t, out); res.Status != reports.StatusCompleted {
			t.Errorf("status %q, want completed", res.Status)
		}
		if left := prefixed(t, admin, "hubcap-thr"); !slices.Equal(left, []string{"hubcap-thr"}) {
			t.Errorf("with --keep the hub has %v, want the attendee's user", left)
		}
		if err := admin.DeleteUser(ctx, "hubcap-thr"); err != nil {
			t.Error(err)
		}
	})

	// abortOnFail stops a 60 s scenario within seconds.
	t.Run("abortOnFail", func(t *testing.T) {
		out := filepath.Join(dir, "abort.json")
		start := time.Now()
		code, stdout, stderr := runCtx(ctx, hubArgs("abort", "-q", "--out", "json="+out, hubScript("abort_on_fail.js"))...)
		took := time.Since(start)
		if code != ExitThresholds || !strings.Contains(stderr, "abortOnFail") {
			t.Fatalf("exit %d, want 99\n%s%s", code, stdout, stderr)
		}
		if took > 40*time.Second {
			t.Errorf("the run took %v; abortOnFail should stop the 60 s scenario at the first evaluation", took)
		}
		if res := readResults(t, out); res.Status != reports.StatusAborted {
			t.Errorf("status %q, want aborted", res.Status)
		}
		if left := prefixed(t, admin, "hubcap-abort"); len(left) != 0 {
			t.Errorf("left on the hub: %v", left)
		}
	})

	// Two execution segments of one test run every iteration once.
	t.Run("execution segments", func(t *testing.T) {
		count := map[string]float64{}
		for i, seg := range []string{"0:1/2", "1/2:1"} {
			out := filepath.Join(dir, "seg"+strconv.Itoa(i)+".json")
			code, stdout, stderr := runCtx(ctx, hubArgs("seg", "-q", "--execution-segment", seg,
				"--execution-segment-sequence", "0,1/2,1", "--out", "json="+out, hubScript("segments.js"))...)
			if code != 0 {
				t.Fatalf("segment %s: exit %d\n%s%s", seg, code, stdout, stderr)
			}
			res := readResults(t, out)
			n := 0
			for _, s := range res.SeriesOf("hubcap_test_iterations") {
				for _, p := range s.Points {
					count[s.Tags["iteration"]] += p.Value
					n++
				}
			}
			if n != 5 {
				t.Errorf("segment %s ran %d iterations, want 5", seg, n)
			}
		}
		for i := range 10 {
			if c := count[strconv.Itoa(i)]; c != 1 {
				t.Errorf("iteration %d ran %v times over both segments", i, c)
			}
		}
		if len(count) != 10 {
			t.Errorf("iterations seen: %v", count)
		}
	})

	// Ctrl-C: the run stops, says so in its output, and still cleans up.
	t.Run("interrupted", func(t *testing.T) {
		out := filepath.Join(dir, "int.json")
		ictx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			// Interrupt once the first attendee has logged in.
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) && ictx.Err() == nil {
				if len(prefixed(t, admin, "hubcap-int-")) > 0 {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			cancel()
		}()
		code, stdout, stderr := runCtx(ictx, hubArgs("int", "-q", "--out", "json="+out, hubScript("interrupt.js"))...)
		if code != script.ExitExternalAbort {
			t.Fatalf("exit %d, want 105\n%s%s", code, stdout, stderr)
		}
		res := readResults(t, out)
		if res.Status != reports.StatusInterrupted {
			t.Errorf("status %q, want interrupted", res.Status)
		}
		if n, _ := points(res, "jupyterhub_login_duration", nil); n == 0 {
			t.Error("no login before the interruption")
		}
		if left := prefixed(t, admin, "hubcap-int-"); len(left) != 0 {
			t.Errorf("left on the hub after Ctrl-C: %v", left)
		}
	})

	// Hub calls at the top level of a script are refused, naming the call.
	t.Run("init context", func(t *testing.T) {
		code, stdout, stderr := runCtx(ctx, hubArgs("init", "-q", hubScript("init_call.js"))...)
		msg := stdout + stderr
		if code != 107 || !strings.Contains(msg, "not available in the init context: jupyterhub.admin.users()") ||
			!strings.Contains(msg, "init_call.js:5:") {
			t.Errorf("exit %d, want 107 naming the call and its line\n%s", code, msg)
		}
	})

	// A syntax error names file:line:col, before any hub is involved.
	t.Run("syntax error", func(t *testing.T) {
		code, stdout, stderr := runCtx(ctx, hubArgs("syn", "-q", hubScript("syntax_error.js"))...)
		if code != 107 || !regexp.MustCompile(`syntax_error\.js:4:\d+: SyntaxError`).MatchString(stdout+stderr) {
			t.Errorf("exit %d, want 107 with file:line:col\n%s%s", code, stdout, stderr)
		}
	})

	// A token the hub refuses stops the run before it starts, unprinted.
	t.Run("token rejected", func(t *testing.T) {
		bad := filepath.Join(dir, "bad-token")
		os.WriteFile(bad, []byte("not-the-token-4711\n"), 0o600)
		code, stdout, stderr := runCtx(ctx, "run", "-q", "--hub", l.Hub.URL(), "--token-file", bad, hubScript("thresholds_fail.js"))
		if code != ExitTokenRejected || strings.Contains(stdout+stderr, "not-the-token-4711") {
			t.Errorf("exit %d, want %d without the token\n%s%s", code, ExitTokenRejected, stdout, stderr)
		}
	})
}

// TestRunLocalHubDies runs a script against --hub local:5.5.1, kills the
// hub in the middle, and checks that the results say hub_died, that the
// hub's /proc telemetry is in them, that the report is written with a FAIL
// verdict, that the run exits ExitHubDied although the script has no
// threshold that failed, that no token is in any output, and that the run
// stopped what it started and kept its run directory. It is the fault
// suite's row "hub SIGKILLed mid-run" (docs/reliability.md).
func TestRunLocalHubDies(t *testing.T) {
	hubtest.Require(t, e2eRelease)
	runDir := filepath.Join(t.TempDir(), "run")
	out := filepath.Join(t.TempDir(), "died.json")
	report := filepath.Join(t.TempDir(), "died.html")
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := runCtx(context.Background(), "run", "--hub", "local:"+e2eRelease, "--run-dir", runDir,
			"--telemetry-interval", "300ms", "--progress", "off", "--out", "json="+out, "--report", report, hubScript("hub_died.js"))
		done <- result{code, stdout, stderr}
	}()
	// Wait until the run is under way, then kill the hub process.
	var st hub.State
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the local hub did not come up")
		}
		b, err := os.ReadFile(filepath.Join(runDir, hub.StateFile))
		if err == nil && json.Unmarshal(b, &st) == nil && st.Hub.PID > 0 && st.LastStart != nil {
			if fi, err := os.Stat(out); err == nil && fi.Size() > 0 {
				break
			}
		}
		select {
		case r := <-done:
			t.Fatalf("the run ended early: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(time.Second)
	if err := syscall.Kill(st.Hub.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the hub (pid %d): %v", st.Hub.PID, err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the run did not end")
	}
	res := readResults(t, out)
	if res.Status != reports.StatusHubDied {
		t.Errorf("status %q, want hub_died\n%s", res.Status, r.stderr)
	}
	if r.code != ExitHubDied || !strings.Contains(r.stderr, ErrHubDied.Error()) {
		t.Errorf("exit %d, want %d (the hub died) whatever the thresholds say\n%s", r.code, ExitHubDied, r.stderr)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no report after the hub died: %v", err)
	}
	if !strings.Contains(string(html), "the hub died during the run") {
		t.Error("the report does not say the hub died")
	}
	tok, err := hub.ReadToken(filepath.Join(runDir, hub.ServiceTokenFile))
	if err != nil || tok == "" {
		t.Fatalf("service token: %q %v", tok, err)
	}
	for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "results": mustRead(t, out), "report": string(html),
		"hub log": mustRead(t, filepath.Join(runDir, hub.LogFile))} {
		if strings.Contains(text, tok) {
			t.Errorf("the service token is in the %s", name)
		}
	}
	if !strings.Contains(r.stderr, "the hub stopped answering") {
		t.Errorf("no word of the hub's death:\n%s", r.stderr)
	}
	if n, rss := points(res, "hub_rss_bytes", map[string]string{"source": "proc"}); n < 1 || rss < 10<<20 {
		t.Errorf("%d /proc hub_rss_bytes points, last %.0f", n, rss)
	}
	if n, up := points(res, "hub_up", nil); n < 2 || up != 0 {
		t.Errorf("%d hub_up points, last %v; want the last 0", n, up)
	}
	// Everything the run started is stopped; the run directory stays.
	b, err := os.ReadFile(filepath.Join(runDir, hub.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var after hub.State
	if err := json.Unmarshal(b, &after); err != nil {
		t.Fatal(err)
	}
	if !after.Stopped {
		t.Error("the state file does not say stopped")
	}
	if err := syscall.Kill(after.Proxy.PID, 0); err == nil && after.Proxy.PID > 0 {
		t.Errorf("the proxy (pid %d) still runs", after.Proxy.PID)
	}
	if _, err := os.Stat(filepath.Join(runDir, hub.LogFile)); err != nil {
		t.Errorf("run directory not kept: %v", err)
	}
}

// mustRead is the content of path.
func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
