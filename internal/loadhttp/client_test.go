package loadhttp

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/httpbin"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

type recorder struct {
	mu sync.Mutex
	s  []samples.Sample
}

func (r *recorder) emit(metric string, at time.Time, v float64, tags map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s = append(r.s, samples.Sample{Metric: metric, Time: at, Value: v, Tags: tags})
}

func (r *recorder) count(metric string) int {
	n := 0
	for _, s := range r.s {
		if s.Metric == metric {
			n++
		}
	}
	return n
}

// TestErrorCodes: network and HTTP failures carry k6's error codes.
func TestErrorCodes(t *testing.T) {
	srv := httpbin.Start()
	defer srv.Close()
	tlsSrv := httpbin.StartTLS()
	defer tlsSrv.Close()
	c := NewClient(Config{MaxRedirects: 10})
	for _, tc := range []struct {
		name    string
		url     string
		timeout time.Duration
		code    int
		status  int
	}{
		{"refused", "http://127.0.0.1:1/", 0, CodeConnRefused, 0},
		{"bad URL", "://nope", 0, CodeInvalidURL, 0},
		{"no scheme", "127.0.0.1/get", 0, CodeInvalidURL, 0},
		{"timeout", srv.URL + "/delay/2", 100 * time.Millisecond, CodeTimeout, 0},
		{"self-signed certificate", tlsSrv.URL + "/get", 0, CodeUnknownAuthority, 0},
		{"404 is 1404", srv.URL + "/status/404", 0, 1404, 404},
		{"503 is 1503", srv.URL + "/status/503", 0, 1503, 503},
		{"200 has none", srv.URL + "/get", 0, 0, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Do(context.Background(), &Request{Method: "GET", URL: tc.url, Timeout: tc.timeout}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.ErrorCode != tc.code || res.Status != tc.status {
				t.Errorf("code %d status %d (error %q), want %d and %d", res.ErrorCode, res.Status, res.Error, tc.code, tc.status)
			}
		})
	}
	insecure := NewClient(Config{InsecureSkipTLSVerify: true})
	res, _ := insecure.Do(context.Background(), &Request{Method: "GET", URL: tlsSrv.URL + "/get"}, nil)
	if res.Status != 200 || res.TLSVersion != "tls1.3" || res.Timings.TLSHandshaking <= 0 {
		t.Errorf("insecureSkipTLSVerify: status %d, tls %q, handshake %vms", res.Status, res.TLSVersion, res.Timings.TLSHandshaking)
	}
}

// TestRedirectHopsAndData: each redirect hop is a request of its own;
// bytes on the wire are counted.
func TestRedirectHopsAndData(t *testing.T) {
	srv := httpbin.Start()
	defer srv.Close()
	c := NewClient(Config{MaxRedirects: 10})
	var rec recorder
	res, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/redirect/2", Expected: DefaultExpected(),
		Tags: map[string]string{"name": "r"}}, rec.emit)
	if err != nil || res.Status != 200 {
		t.Fatalf("status %d, %v", res.Status, err)
	}
	if n := rec.count(MetricReqs); n != 3 {
		t.Errorf("%d http_reqs for 2 redirects, want 3", n)
	}
	if n := rec.count(MetricFailed); n != 3 {
		t.Errorf("%d http_req_failed samples, want 3", n)
	}
	for _, s := range rec.s {
		if s.Tags["name"] != "r" {
			t.Fatalf("hop without the name tag: %v", s.Tags)
		}
	}
	sent, recv := c.TakeData()
	if sent < 100 || recv < 300 {
		t.Errorf("data sent %d received %d: not counted", sent, recv)
	}
	if s, r := c.TakeData(); s != 0 || r != 0 {
		t.Errorf("TakeData does not reset: %d %d", s, r)
	}
	// POST redirected with 303 becomes a GET without a body.
	res, _ = c.Do(context.Background(), &Request{Method: "POST", URL: srv.URL + "/redirect-to?status_code=303&url=/get", Body: []byte("x"), HasBody: true}, nil)
	if res.Status != 200 || res.Request.Method != "GET" {
		t.Errorf("303: status %d, last method %s", res.Status, res.Request.Method)
	}
	// 307 keeps the method and the body.
	res, _ = c.Do(context.Background(), &Request{Method: "POST", URL: srv.URL + "/redirect-to?status_code=307&url=/post", Body: []byte("keep"), HasBody: true}, nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), `"data": "keep"`) {
		t.Errorf("307: status %d body %s", res.Status, res.Body)
	}
}

// TestExpectedStatuses: codes and inclusive ranges.
func TestExpectedStatuses(t *testing.T) {
	e := &ExpectedStatuses{Codes: []int{404}, Ranges: [][2]int{{200, 299}}}
	for status, want := range map[int]bool{200: true, 299: true, 300: false, 404: true, 0: false, 500: false} {
		if e.Match(status) != want {
			t.Errorf("Match(%d) = %v", status, !want)
		}
	}
	if d := DefaultExpected(); !d.Match(399) || d.Match(400) || d.Match(199) {
		t.Error("the default callback is not 200-399")
	}
}

// TestFromHubRequest: a hub request sample counts as an HTTP request.
func TestFromHubRequest(t *testing.T) {
	in := samples.Sample{Metric: "jupyterhub_api_duration", Value: 12.5, Tags: map[string]string{"method": "POST", "endpoint": "/hub/api/users/{name}", "status": "503"}}
	out := FromHubRequest(in)
	got := map[string]float64{}
	for _, s := range out {
		got[s.Metric] = s.Value
		if s.Tags["name"] != "/hub/api/users/{name}" || s.Tags["expected_response"] != "false" || s.Tags["method"] != "POST" {
			t.Errorf("tags %v", s.Tags)
		}
	}
	if got[MetricReqs] != 1 || got[MetricDuration] != 12.5 || got[MetricFailed] != 1 {
		t.Errorf("samples %v", got)
	}
	in.Tags["status"] = "200"
	for _, s := range FromHubRequest(in) {
		if s.Metric == MetricFailed && s.Value != 0 {
			t.Error("a 200 counted as failed")
		}
	}
	if in.Tags["name"] != "" {
		t.Error("FromHubRequest changed its input's tags")
	}
}

func TestParseAuthParams(t *testing.T) {
	p := parseAuthParams(`realm="a, b", qop="auth,auth-int", nonce=abc, opaque="x"`)
	if p["realm"] != "a, b" || p["qop"] != "auth,auth-int" || p["nonce"] != "abc" || p["opaque"] != "x" {
		t.Errorf("%v", p)
	}
}

// FuzzParseAuthParams: a server's WWW-Authenticate header never panics
// the parser.
func FuzzParseAuthParams(f *testing.F) {
	f.Add(`realm="r", nonce="n", qop="auth"`)
	f.Add(`a=`)
	f.Add(`="`)
	f.Fuzz(func(t *testing.T, s string) {
		_ = parseAuthParams(s)
	})
}
