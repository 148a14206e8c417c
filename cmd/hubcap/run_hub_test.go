package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/internal/output"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// runCtx runs hubcap with args under ctx, as main does.
func runCtx(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb testkit.Buffer
	code = run(ctx, IO{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// TestRunStatus: the status marker the report reads, for each way a run
// ends.
func TestRunStatus(t *testing.T) {
	aborting := &script.Result{Snapshot: &metrics.Snapshot{Metrics: []metrics.MetricSummary{
		{Name: "x", Thresholds: []metrics.ThresholdResult{{OK: false, Abort: true}}}}}}
	failing := &script.Result{Snapshot: &metrics.Snapshot{ThresholdsFailed: 1, Metrics: []metrics.MetricSummary{
		{Name: "x", Thresholds: []metrics.ThresholdResult{{OK: false}}}}}}
	cases := []struct {
		name    string
		err     error
		res     *script.Result
		hubDied bool
		want    string
	}{
		{"every scenario ran", nil, &script.Result{Snapshot: &metrics.Snapshot{}}, false, statusCompleted},
		// Thresholds failing at the end judge a complete run.
		{"thresholds failed at the end", fmt.Errorf("%w on x", script.ErrThresholdsFailed), failing, false, statusCompleted},
		{"abortOnFail stopped it", fmt.Errorf("%w on x", script.ErrThresholdsFailed), aborting, false, statusAborted},
		{"test.abort()", fmt.Errorf("wrapped: %w", script.ErrAborted), nil, false, statusAborted},
		{"Ctrl-C", fmt.Errorf("%w by the user", script.ErrInterrupted), nil, false, statusInterrupted},
		{"setup threw", &script.ScriptError{Where: "setup", Message: "boom"}, nil, false, statusAborted},
		{"setup timed out", script.ErrSetupTimeout, nil, false, statusAborted},
		// The scenarios ran; only the end failed.
		{"teardown threw", &script.ScriptError{Where: "teardown"}, nil, false, statusCompleted},
		{"handleSummary threw", &script.ScriptError{Where: "handleSummary"}, nil, false, statusCompleted},
		// A dead hub explains the rest, whatever else happened.
		{"hub died", nil, nil, true, statusHubDied},
		{"hub died and Ctrl-C", script.ErrInterrupted, nil, true, statusHubDied},
	}
	for _, c := range cases {
		if got := runStatus(c.err, c.res, c.hubDied); got != c.want {
			t.Errorf("%s: status %q, want %q", c.name, got, c.want)
		}
	}
}

// TestAppendRunStatus: the marker appended after the run's own output is
// read by the report's k6 NDJSON reader, plain and gzip-compressed.
func TestAppendRunStatus(t *testing.T) {
	for _, name := range []string{"out.json", "out.json.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			j, err := output.OpenJSON(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			j.AddSample(samples.Sample{Metric: "hub_rss_bytes", Time: t0, Value: 1e8, Tags: map[string]string{"source": "proc"}})
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if err := appendRunStatus(path, statusInterrupted, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res, err := reports.ReadNDJSON(f)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != reports.StatusInterrupted || !res.StatusTime.Equal(t0.Add(time.Minute)) || res.PointCount != 2 ||
				res.Metrics[reports.MetricRunStatus].Type != "gauge" {
				t.Errorf("read back status %q at %v, %d points, metric %+v", res.Status, res.StatusTime, res.PointCount, res.Metrics[reports.MetricRunStatus])
			}
		})
	}
}

// TestWrittenSince: the marker goes only into an output this run wrote.
func TestWrittenSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	if writtenSince(path, statFile(path)) {
		t.Error("a missing file counts as written")
	}
	before := statFile(path)
	os.WriteFile(path, []byte("{}\n"), 0o644)
	if !writtenSince(path, before) {
		t.Error("a new file does not count as written")
	}
	before = statFile(path)
	if writtenSince(path, before) {
		t.Error("an untouched older file counts as written")
	}
}

// TestScriptEnv: __ENV has the process environment and -e values, but
// never the admin token.
func TestScriptEnv(t *testing.T) {
	env := scriptEnv(true, []string{"HOME=/h", TokenEnv + "=secret", "A=1=2"}, map[string]string{"A": "3", "B": "4"})
	if env["HOME"] != "/h" || env["A"] != "3" || env["B"] != "4" {
		t.Errorf("env = %v", env)
	}
	if _, ok := env[TokenEnv]; ok {
		t.Errorf("%s reached the script", TokenEnv)
	}
	if env := scriptEnv(false, []string{"HOME=/h"}, nil); len(env) != 0 {
		t.Errorf("without system env: %v", env)
	}
}

// TestRunTargetErrors: bad targets stop the run before it starts, with
// their own exit codes and a message saying what to do.
func TestRunTargetErrors(t *testing.T) {
	script := writeScript(t, "export default function () {}\n")
	notHub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>a blog</body></html>"))
	}))
	defer notHub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("\n"), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"token on the command line", []string{"--hub", notHub.URL, "--token", "abc"}, ExitUsage, "--token is refused"},
		{"empty token flag", []string{"--token=", "--hub", notHub.URL}, ExitUsage, "--token is refused"},
		{"local without release", []string{"--hub", "local:"}, ExitUsage, "name the release"},
		{"token file with a local hub", []string{"--hub", "local:5.5.1", "--token-file", tokFile}, ExitUsage, "a local hub has its own token"},
		{"empty token file", []string{"--hub", notHub.URL, "--token-file", tokFile}, ExitUsage, "is empty"},
		{"missing token file", []string{"--hub", notHub.URL, "--token-file", tokFile + ".nope"}, ExitUsage, "--token-file"},
		{"run dir with a URL", []string{"--hub", notHub.URL, "--run-dir", t.TempDir()}, ExitUsage, "--run-dir goes with --hub local"},
		{"negative interval", []string{"--telemetry-interval", "-1s"}, ExitUsage, "can't be negative"},
		{"not a hub", []string{"--hub", notHub.URL}, ExitNotAHub, "not a JupyterHub"},
		{"nothing answers", []string{"--hub", closed}, ExitHubUnreachable, "nothing answered"},
		{"not a URL", []string{"--hub", "hub.example.org"}, ExitUsage, "not an http(s) URL"},
		{"release not installed", []string{"--hub", "local:0.0.1", "--run-dir", t.TempDir()}, ExitSetup, "make setup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "-q"}, c.args...)
			code, stdout, stderr := runCtx(context.Background(), append(args, script)...)
			if code != c.code || !strings.Contains(stdout+stderr, c.want) {
				t.Errorf("hubcap %q: exit %d (want %d)\n%s%s\nwant %q", args, code, c.code, stdout, stderr, c.want)
			}
			if strings.Contains(stdout+stderr, "abc") && c.name == "token on the command line" {
				t.Error("the refused token was echoed")
			}
		})
	}
}

// TestRunWithoutHub: a script that does not use the hub runs without
// --hub, and its output ends with the status marker.
func TestRunWithoutHub(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.json")
	s := writeScript(t, "import jupyterhub from 'k6/x/jupyterhub';\nexport const options = { iterations: 2 };\n"+
		"export default function () { if (jupyterhub.hubURL() !== '') throw new Error('hub?'); }\n")
	code, stdout, stderr := runCtx(context.Background(), "run", "-q", "--out", "json="+out, s)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := reports.ReadNDJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != reports.StatusCompleted {
		t.Fatalf("status %q, want completed", res.Status)
	}
}

// FuzzHubSpec: any --hub value is either refused with a message or gives
// exactly one kind of target.
func FuzzHubSpec(f *testing.F) {
	for _, s := range []string{"", "local:5.5.1", "local:", "http://127.0.0.1:8000/", "https://hub.example.org/jhub", "local:../x", "ftp://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hub string) {
		s, err := (&runFlags{hub: hub, namePrefix: defaultNamePrefix}).hubSpec()
		if err != nil {
			if err.Error() == "" {
				t.Error("empty error message")
			}
			return
		}
		switch {
		case hub == "":
			if s.url != "" || s.release != "" {
				t.Errorf("no --hub gave %+v", s)
			}
		case strings.HasPrefix(hub, localScheme):
			if s.release == "" || s.url != "" {
				t.Errorf("--hub %q gave %+v", hub, s)
			}
		default:
			if s.url == "" || s.release != "" || strings.HasSuffix(s.url, "/") {
				t.Errorf("--hub %q gave %+v", hub, s)
			}
		}
	})
}
