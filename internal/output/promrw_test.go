package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// FuzzSnappy: every input survives a round trip through the encoder and
// the decoder; the decoder never panics on outside bytes.
func FuzzSnappy(f *testing.F) {
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
	f.Add([]byte("k6_http_reqs_total k6_http_reqs_total method GET method GET"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := SnappyDecode(SnappyEncode(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %q: %q, %v", b, got, err)
		}
		_, _ = SnappyDecode(b)
	})
}

// TestSnappyKnownStream: a stream from the snappy format description
// (literal "abcd" then a copy of offset 4, length 8) decodes as specified.
func TestSnappyKnownStream(t *testing.T) {
	stream := []byte{12, 3 << 2, 'a', 'b', 'c', 'd', (8-1)<<2 | 2, 4, 0}
	got, err := SnappyDecode(stream)
	if err != nil || string(got) != "abcdabcdabcd" {
		t.Fatalf("%q %v", got, err)
	}
	if enc := SnappyEncode([]byte("abcdabcdabcdabcdabcdabcd")); len(enc) >= 24 {
		t.Errorf("repeated input not compressed: %d bytes", len(enc))
	}
}

func TestPromNames(t *testing.T) {
	for _, c := range []struct {
		m    samples.Metric
		stat string
		want string
	}{
		{samples.Metric{Name: "http_reqs", Kind: samples.Counter}, "", "k6_http_reqs_total"},
		{samples.Metric{Name: "vus", Kind: samples.Gauge}, "", "k6_vus"},
		{samples.Metric{Name: "checks", Kind: samples.Rate}, "", "k6_checks_rate"},
		{samples.Metric{Name: "http_req_duration", Kind: samples.Trend}, "p(99)", "k6_http_req_duration_p99"},
		{samples.Metric{Name: "http_req_duration", Kind: samples.Trend}, "p(99.9)", "k6_http_req_duration_p999"},
		{samples.Metric{Name: "http_req_duration", Kind: samples.Trend}, "avg", "k6_http_req_duration_avg"},
	} {
		if got := promName(c.m, c.stat); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.m.Name, c.stat, got, c.want)
		}
	}
}

// startPrometheus runs a real Prometheus with its remote-write receiver on
// loopback (Debian's prometheus package).
func startPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.Missing(t, "prometheus (the remote-write receiver)", "apt-get install prometheus (Debian's package has --web.enable-remote-write-receiver)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1h\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/-/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not become ready:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func queryProm(t *testing.T, base, q string) []any {
	t.Helper()
	res, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			Result []any `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Data.Result
}

// TestPromRWAgainstPrometheus: a real Prometheus accepts the writes and
// answers queries by k6's series names and the samples' tags.
func TestPromRWAgainstPrometheus(t *testing.T) {
	base := startPrometheus(t)
	reg := map[string]samples.Metric{
		"http_reqs":         {Name: "http_reqs", Kind: samples.Counter},
		"http_req_duration": {Name: "http_req_duration", Kind: samples.Trend, Contains: samples.Time},
		"checks":            {Name: "checks", Kind: samples.Rate},
		"vus":               {Name: "vus", Kind: samples.Gauge},
	}
	cfg, err := PromRWConfigFromEnv([]string{"K6_PROMETHEUS_RW_SERVER_URL=" + base + "/api/v1/write",
		"K6_PROMETHEUS_RW_TREND_STATS=p(99),avg", "K6_PROMETHEUS_RW_PUSH_INTERVAL=1h"}, "")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPromRW(cfg)
	if err := p.Start(func(n string) (samples.Metric, bool) { m, ok := reg[n]; return m, ok }); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tags := map[string]string{"method": "GET", "status": "200", "scenario": "default"}
	for i := 1; i <= 10; i++ {
		p.AddSample(samples.Sample{Metric: "http_reqs", Time: now, Value: 1, Tags: tags})
		p.AddSample(samples.Sample{Metric: "http_req_duration", Time: now, Value: float64(i), Tags: tags})
		p.AddSample(samples.Sample{Metric: "checks", Time: now, Value: float64(i % 2), Tags: map[string]string{"check": "ok"}})
	}
	p.AddSample(samples.Sample{Metric: "vus", Time: now, Value: 7})
	p.AddSample(samples.Sample{Metric: "unknown_metric", Time: now, Value: 1})
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]float64{
		`k6_http_reqs_total{method="GET",status="200",scenario="default"}`: 10,
		`k6_http_req_duration_avg{method="GET"}`:                           5.5,
		`k6_checks_rate{check="ok"}`:                                       0.5,
		`k6_vus`:                                                           7,
	} {
		res := queryProm(t, base, q)
		if len(res) != 1 {
			t.Errorf("%s: %d series, want 1", q, len(res))
			continue
		}
		v := res[0].(map[string]any)["value"].([]any)[1].(string)
		if v != fmt.Sprint(want) {
			t.Errorf("%s = %s, want %v", q, v, want)
		}
	}
	if res := queryProm(t, base, `k6_http_req_duration_p99`); len(res) != 1 {
		t.Errorf("p99 series: %v", res)
	}
}
