package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// counting is a script that prints its VUs and iterations in the summary.
const counting = `
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
const seen = new Counter('seen');
export const options = { vus: 1, iterations: 1, thresholds: { seen: ['count>1000'] } };
export default function () { seen.add(1); console.log('ua=' + exec.test.options.userAgent); }
`

// TestK6Environment: K6_* variables set options as in k6; flags win.
func TestK6Environment(t *testing.T) {
	p := writeScript(t, counting)
	t.Setenv("K6_ITERATIONS", "3")
	t.Setenv("K6_VUS", "3")
	t.Setenv("K6_USER_AGENT", "from-env")
	t.Setenv("K6_NO_THRESHOLDS", "true")
	code, stdout, stderr := runArgs(t, "run", "-q", p)
	if code != 0 || !regexp.MustCompile(`seen\.+: 3 `).MatchString(stdout) || !strings.Contains(stderr, "ua=from-env") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// The command line wins over the environment.
	code, stdout, _ = runArgs(t, "run", "-q", "--iterations", "5", p)
	if code != 0 || !regexp.MustCompile(`iterations\.+: 5 `).MatchString(stdout) {
		t.Errorf("--iterations 5 with K6_ITERATIONS=3: exit %d\n%s", code, stdout)
	}
	t.Setenv("K6_MAX_REDIRECTS", "lots")
	if code, _, stderr := runArgs(t, "run", "-q", p); code != ExitUsage || !strings.Contains(stderr, "K6_MAX_REDIRECTS") {
		t.Errorf("a bad K6_MAX_REDIRECTS: exit %d\n%s", code, stderr)
	}
}

// TestK6Flags: --no-thresholds, --summary-trend-stats, --stage,
// --summary-mode, --log-output and run - (the script from stdin).
func TestK6Flags(t *testing.T) {
	p := writeScript(t, counting)
	if code, _, stderr := runArgs(t, "run", "-q", p); code != ExitThresholds {
		t.Fatalf("the script's threshold should fail without --no-thresholds: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runArgs(t, "run", "-q", "--no-thresholds", "--summary-trend-stats", "avg,p(99.9)", p)
	if code != 0 || !strings.Contains(stdout, "p(99.9)=") || strings.Contains(stdout, "med=") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runArgs(t, "run", "-q", "--no-thresholds", "-s", "200ms:2", "--stage", "100ms:0", p)
	if code != 0 || !strings.Contains(stdout, "vus_max") || !strings.Contains(stdout, "max=2") {
		t.Errorf("--stage: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runArgs(t, "run", "-q", "-s", "soon:2", p); code != ExitUsage || !strings.Contains(stderr, "--stage") {
		t.Errorf("bad --stage: exit %d %s", code, stderr)
	}
	code, stdout, _ = runArgs(t, "run", "-q", "--no-thresholds", "--summary-mode", "full", p)
	if code != 0 || !strings.Contains(stdout, "group_duration") && !strings.Contains(stdout, "iteration_duration") {
		t.Errorf("--summary-mode full: exit %d\n%s", code, stdout)
	}
	logFile := filepath.Join(t.TempDir(), "k6.log")
	code, _, stderr = runArgs(t, "run", "-q", "--no-thresholds", "--log-output", "file="+logFile, p)
	b, _ := os.ReadFile(logFile)
	if code != 0 || !strings.Contains(string(b), "ua=") || strings.Contains(stderr, "ua=") {
		t.Errorf("--log-output file=: exit %d, file %q, stderr %q", code, b, stderr)
	}
	var out, errb bytes.Buffer
	stdin := strings.NewReader("export default function () { console.log('from stdin'); }")
	code = run(context.Background(), IO{Stdin: stdin, Stdout: &out, Stderr: &errb}, []string{"run", "-q", "-"})
	if code != 0 || !strings.Contains(errb.String(), "from stdin") {
		t.Errorf("run -: exit %d\n%s", code, errb.String())
	}
}

// TestOutCSVAndPrometheus: --out csv=FILE writes k6's CSV; --out
// experimental-prometheus-rw posts snappy protobuf to
// K6_PROMETHEUS_RW_SERVER_URL (a loopback receiver here; the output's own
// tests use a real Prometheus).
func TestOutCSVAndPrometheus(t *testing.T) {
	p := writeScript(t, counting)
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") == "snappy" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			posts.Add(1)
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	t.Setenv("K6_PROMETHEUS_RW_SERVER_URL", srv.URL+"/api/v1/write")
	t.Setenv("K6_CSV_TIME_FORMAT", "unix_milli")
	file := filepath.Join(t.TempDir(), "r.csv")
	code, stdout, stderr := runArgs(t, "run", "--no-thresholds", "--out", "csv="+file, "--out", "experimental-prometheus-rw", p)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(b), "metric_name,timestamp,metric_value,check,") || !strings.Contains(string(b), "\nseen,") {
		t.Errorf("csv: %v\n%s", err, b)
	}
	if !regexp.MustCompile(`\nseen,\d{13},1\.000000,`).Match(b) {
		t.Errorf("csv row of seen with a millisecond time and 6 decimals missing:\n%s", b)
	}
	if posts.Load() == 0 {
		t.Error("no remote-write request reached the receiver")
	}
	if !strings.Contains(stderr, "csv ("+file+")") || !strings.Contains(stderr, "Prometheus remote write") {
		t.Errorf("outputs not named in the header:\n%s", stderr)
	}
}

// FuzzParseStages: --stage and K6_STAGES values never panic the parser;
// accepted stages have a non-negative target.
func FuzzParseStages(f *testing.F) {
	f.Add("30s:10,1m:0")
	f.Add("soon:2")
	f.Add(":")
	f.Fuzz(func(t *testing.T, v string) {
		st, err := parseStages([]string{v})
		if err != nil {
			return
		}
		for _, s := range st {
			if s.Target < 0 {
				t.Fatalf("%q: negative target %d", v, s.Target)
			}
		}
	})
}
