package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// The hub's failures as a run meets them, one scrape at a time on an
// injected clock: the hub goes down (hub_up 0, counted, logged once), comes
// back with a token that lacks read:metrics (hub_up 1, one message naming
// the scope however often it happens), recovers fully, then sits behind a
// proxy that answers 503 (down again). The collector never stops and the
// token never shows.
func TestScrapeErrorPath(t *testing.T) {
	fh := newFakeHub()
	srv := httptest.NewServer(fh)
	addr := srv.Listener.Addr().String()
	client, err := hubapi.New(hubapi.Config{BaseURL: srv.URL, Token: fakeToken, MaxRetries: -1,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var buf samples.Buffer
	var logs logBuf
	clk := &clock{t: t0}
	c, err := New(Config{Client: client, Sink: &buf, Now: clk.Now, Logger: logs.logger(), Tags: runTags})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	step := func() []samples.Sample {
		n := len(buf.Samples())
		clk.Advance(5 * time.Second)
		c.scrapeMetrics(ctx)
		return buf.Samples()[n:]
	}
	up := func(ss []samples.Sample) []float64 { return values(ss, MetricUp) }
	errs := func(ss []samples.Sample, kind string) int {
		return len(values(ss, MetricScrapeErrors, TagSource, SourceMetrics, "kind", kind))
	}

	// 1. the hub answers
	ss := step()
	if got := up(ss); len(got) != 1 || got[0] != 1 {
		t.Fatalf("hub answering: hub_up %v, want [1]", got)
	}
	if len(values(ss, MetricRSS, TagSource, SourceMetrics)) != 1 {
		t.Fatalf("hub answering: no hub_rss_bytes in %v", ss)
	}

	// 2. the hub is gone: connection refused, twice
	srv.Close()
	for i := range 2 {
		ss = step()
		if got := up(ss); len(got) != 1 || got[0] != 0 {
			t.Fatalf("hub down (scrape %d): hub_up %v, want [0]", i, got)
		}
		if errs(ss, "down") != 1 || len(values(ss, MetricRSS)) != 0 {
			t.Fatalf("hub down (scrape %d): samples %v, want one hub_scrape_errors{kind=down} and no gauges", i, ss)
		}
	}
	if st := c.Status(); !st.Answered || st.Up || !st.Changed.Equal(t0.Add(10*time.Second)) {
		t.Errorf("status while down = %+v; want down since the second scrape", st)
	}
	if n := strings.Count(logs.String(), "does not answer"); n != 1 {
		t.Errorf("down logged %d times, want once:\n%s", n, logs.String())
	}

	// 3. the hub is back on the same address, but the token lacks read:metrics
	// (The port was the hub's a moment ago; retry while the kernel lets go of it.)
	var ln net.Listener
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot listen again on %s to bring the hub back: %v", addr, err)
		}
	}
	srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: fh}}
	srv.Start()
	defer srv.Close()
	fh.set(modeForbidden)
	for i := range 3 {
		ss = step()
		if got := up(ss); len(got) != 1 || got[0] != 1 {
			t.Fatalf("403 (scrape %d): hub_up %v, want [1]: a hub that refuses is up", i, got)
		}
		if errs(ss, "forbidden") != 1 {
			t.Fatalf("403 (scrape %d): samples %v, want hub_scrape_errors{kind=forbidden}", i, ss)
		}
	}
	if n := strings.Count(logs.String(), "kind=forbidden"); n != 1 || !strings.Contains(logs.String(), "lacks scope read:metrics") {
		t.Errorf("the 403 is logged %d times (want once), naming the missing scope read:metrics:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "answers again") {
		t.Errorf("the recovery is not logged:\n%s", logs.String())
	}

	// 4. full recovery: gauges again, and CPU utilisation from consecutive
	// answers (0.5 CPU s per 5 s scrape)
	fh.set(modeOK)
	step()
	ss = step()
	if got := up(ss); len(got) != 1 || got[0] != 1 {
		t.Fatalf("recovered: hub_up %v", got)
	}
	if got := values(ss, MetricCPUCores, TagSource, SourceMetrics); len(got) != 1 || !near(got[0], 0.1) {
		t.Errorf("recovered: hub_cpu_cores %v, want [0.1]", got)
	}

	// 5. the proxy still runs but the hub behind it does not: 503
	fh.set(modeProxy503)
	ss = step()
	if got := up(ss); len(got) != 1 || got[0] != 0 || errs(ss, "down") != 1 {
		t.Fatalf("proxy 503: hub_up %v, samples %v; want hub_up 0 and kind=down", got, ss)
	}
	if strings.Contains(logs.String(), fakeToken) {
		t.Error("the token appears in the log")
	}
	for _, s := range buf.Samples() {
		if strings.Contains(fmt.Sprint(s.Tags), fakeToken) {
			t.Errorf("the token appears in the tags of %v", s)
		}
	}
}

// The DB shape's failures name the scopes it needs.
func TestShapeErrorMessages(t *testing.T) {
	fh := newFakeHub()
	srv := httptest.NewServer(fh)
	defer srv.Close()
	client, err := hubapi.New(hubapi.Config{BaseURL: srv.URL, Token: "another-token-without-rights", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	var buf samples.Buffer
	var logs logBuf
	c, err := New(Config{Client: client, Sink: &buf, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	c.scrapeShape(context.Background())
	c.scrapeShape(context.Background())
	if n := len(values(buf.Samples(), MetricScrapeErrors, TagSource, SourceAPI, "kind", "forbidden")); n != 2 {
		t.Errorf("%d forbidden listings counted, want 2: %v", n, buf.Samples())
	}
	if n := strings.Count(logs.String(), "kind=forbidden"); n != 1 || !strings.Contains(logs.String(), "list:users and read:servers") {
		t.Errorf("the refused listing is logged %d times (want once), naming the scopes list:users and read:servers:\n%s", n, logs.String())
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		kind string
		down bool
	}{
		{&hubapi.APIError{Status: 403}, "forbidden", false},
		{&hubapi.APIError{Status: 401}, "unauthorized", false},
		{&hubapi.APIError{Status: 404}, "not_found", false},
		{&hubapi.APIError{Status: 302}, "redirect", false},
		{&hubapi.APIError{Status: 500}, "http", false}, // the hub itself answered
		{&hubapi.APIError{Status: 502}, "down", true},
		{&hubapi.APIError{Status: 503}, "down", true},
		{&hubapi.APIError{Status: 504}, "down", true},
		{fmt.Errorf("GET /hub/metrics: %w", hubapi.ErrMetricsSyntax), "parse", false},
		{hubapi.ErrMissingServers, "missing_servers", false},
		{fmt.Errorf("GET /hub/metrics: no answer: %w", context.DeadlineExceeded), "timeout", true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, "down", true},
		{proc.ErrNoProcess, "gone", true},
	}
	for _, c := range cases {
		kind, down := classify(c.err)
		if kind != c.kind || down != c.down {
			t.Errorf("classify(%v) = %s, %v; want %s, %v", c.err, kind, down, c.kind, c.down)
		}
	}
}
