package jshttp

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/httpbin"
	"github.com/hubcap-dev/hubcap/internal/script"
)

type run struct {
	res    *script.Result
	err    error
	stderr string
	points []point
}

type point struct {
	Type   string
	Metric string
	Data   struct {
		Value float64
		Tags  map[string]string
	}
}

// runScript runs testdata/name against a fresh httpbin on loopback.
func runScript(t *testing.T, name string) run {
	t.Helper()
	srv := httpbin.Start()
	defer srv.Close()
	tlsSrv := httpbin.StartTLS()
	defer tlsSrv.Close()
	out := filepath.Join(t.TempDir(), "out.json")
	var stderr strings.Builder
	res, err := script.Run(context.Background(), script.Options{
		Script: filepath.Join("testdata", name), Env: map[string]string{"BASE": srv.URL, "BASE_TLS": tlsSrv.URL},
		Stdout: &strings.Builder{}, Stderr: &lockedBuilder{b: &stderr}, Progress: script.ProgressOff, JSONOut: out,
	})
	r := run{res: res, err: err, stderr: stderr.String()}
	if f, ferr := os.Open(out); ferr == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var p point
			if json.Unmarshal(sc.Bytes(), &p) == nil && p.Type == "Point" {
				r.points = append(r.points, p)
			}
		}
	}
	return r
}

type lockedBuilder struct{ b *strings.Builder }

func (l *lockedBuilder) Write(p []byte) (int, error) { return l.b.Write(p) }

func (r run) metric(name string) []point {
	var out []point
	for _, p := range r.points {
		if p.Metric == name {
			out = append(out, p)
		}
	}
	return out
}

func mustPass(t *testing.T, r run) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("run failed: %v\n%s", r.err, r.stderr)
	}
	m, ok := r.res.Snapshot.Metric("checks")
	if !ok {
		t.Fatal("no checks ran")
	}
	if m.Values["rate"] != 1 {
		var failed []string
		for _, c := range r.res.Snapshot.Root.AllChecks() {
			if c.Fails > 0 {
				failed = append(failed, c.Name)
			}
		}
		t.Fatalf("failed checks: %v\n%s", failed, r.stderr)
	}
}

// TestAPI: the verbs, bodies (JSON, multipart), redirects, cookies,
// statuses, basic and digest auth, batch, network errors and timeouts
// behave as k6's, each a check of the script.
func TestAPI(t *testing.T) {
	r := runScript(t, "api.js")
	mustPass(t, r)
	// Per iteration: get, post, post, 4 (redirect 3 hops), 2 (cookie redirect),
	// 404, 2 (digest challenge + answer), basic, 3 batch, refused, timeout.
	reqs := r.metric("http_reqs")
	if want := 6 * 18; len(reqs) != want {
		t.Errorf("%d http_reqs samples, want %d (one per hop)", len(reqs), want)
	}
	failed := 0.0
	for _, p := range r.metric("http_req_failed") {
		failed += p.Data.Value
	}
	// 404, refused, timeout per iteration; the digest challenge is expected.
	if failed != 6*3 {
		t.Errorf("http_req_failed counted %v failures, want 18", failed)
	}
	if !strings.Contains(r.stderr, "Request Failed") {
		t.Error("no Request Failed warning for the refused connection")
	}
	if m, _ := r.res.Snapshot.Metric("data_received"); m.Values["count"] < 10000 {
		t.Errorf("data_received = %v bytes, want the bytes on the wire", m.Values["count"])
	}
}

// TestSystemTags: samples carry k6's system tags; the name tag and
// http.url name requests; response callbacks decide http_req_failed.
func TestSystemTags(t *testing.T) {
	r := runScript(t, "tags.js")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	reqs := r.metric("http_reqs")
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(reqs))
	}
	first := reqs[0].Data.Tags
	for k, want := range map[string]string{"method": "GET", "name": "created", "extra": "x", "status": "201",
		"group": "::g1", "scenario": "default", "team": "a", "expected_response": "true", "proto": "HTTP/1.1"} {
		if first[k] != want {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, first[k], want, first)
		}
	}
	if !strings.HasSuffix(first["url"], "/status/201") {
		t.Errorf("url tag %q", first["url"])
	}
	if got := reqs[1].Data.Tags["name"]; !strings.HasSuffix(got, "/anything/${}") {
		t.Errorf("http.url name tag = %q, want the template", got)
	}
	if got := reqs[1].Data.Tags["url"]; !strings.HasSuffix(got, "/anything/123") {
		t.Errorf("http.url url tag = %q", got)
	}
	if reqs[2].Data.Tags["expected_response"] != "true" {
		t.Errorf("404 with expectedStatuses(404): expected_response=%q", reqs[2].Data.Tags["expected_response"])
	}
	if _, ok := reqs[3].Data.Tags["expected_response"]; ok {
		t.Error("setResponseCallback(null) still tags expected_response")
	}
	if reqs[4].Data.Tags["expected_response"] != "true" {
		t.Error("params.responseCallback {min:500,max:599} did not accept 503")
	}
	if n := len(r.metric("http_req_failed")); n != 4 {
		t.Errorf("%d http_req_failed samples, want 4 (none without a callback)", n)
	}
	if got := reqs[3].Data.Tags["error_code"]; got != "1500" {
		t.Errorf("error_code tag of a 500 = %q, want 1500", got)
	}
}

// TestThresholdOnHTTPWithoutImport: k6 declares its HTTP metrics always,
// so such thresholds are valid (not exit 104).
func TestThresholdOnHTTPWithoutImport(t *testing.T) {
	r := runScript(t, "nohttp_threshold.js")
	if r.err != nil {
		t.Fatalf("%v (exit %d)\n%s", r.err, script.ExitCode(r.err), r.stderr)
	}
}

// TestInitContextRequest: requests at the top level fail as in k6.
func TestInitContextRequest(t *testing.T) {
	r := runScript(t, "init_request.js")
	if r.err == nil || script.ExitCode(r.err) != 107 || !strings.Contains(r.err.Error()+r.stderr, "init context") {
		t.Fatalf("want exit 107 naming the init context, got %v (exit %d)", r.err, script.ExitCode(r.err))
	}
}

// TestThrowOption: options.throw turns network errors into exceptions.
func TestThrowOption(t *testing.T) {
	r := runScript(t, "throw.js")
	if r.err != nil || strings.Contains(r.stderr, "did not throw") {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
}

// TestJarAndBodies: the VU's jar, own jars, params cookies, response
// cookies, binary and discarded bodies, bounded redirects, gzip.
func TestJarAndBodies(t *testing.T) {
	mustPass(t, runScript(t, "jar.js"))
}

// TestTLSOptions: options.tlsVersion and tlsCipherSuites shape the TLS
// handshake, as response.tls_version and tls_cipher_suite show.
func TestTLSOptions(t *testing.T) {
	mustPass(t, runScript(t, "tlsopts.js"))
}
