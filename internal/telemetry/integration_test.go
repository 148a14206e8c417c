package telemetry

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func last(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	return vs[len(vs)-1]
}

// A real JupyterHub 5.5.1 with the fleet, seeded with 3 running and 1
// stopped named servers, followed by the collector at short intervals:
// both sources see the hub's memory, the running servers and the DB shape
// are what was seeded, and when the hub is stopped mid-collection hub_up
// drops to 0 while the collector goes on without error.
func TestIntegrationRealHub(t *testing.T) {
	testenv.Short(t, "starts a real hub")
	l := localhubtest.Start(t, "5.5.1", localhub.Options{})
	admin := localhubtest.Admin(t, l, "tel-")
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	// one worker: jupyterhub_running_servers over-counts concurrent spawns
	// (it is set to the active count, pending spawns included, then
	// incremented when each spawn is routed; upstream issue #2685)
	plan := seed.Plan{{Name: "tel-a", Running: 2, Stopped: 1}, {Name: "tel-b", Running: 1}}
	if _, err := seed.Apply(ctx, admin, plan, seed.Options{Workers: 1}); err != nil {
		t.Fatal(err)
	}

	var buf samples.Buffer
	var logs logBuf
	c, err := New(Config{
		Client: admin, Sink: &buf, Logger: logs.logger(), Tags: runTags,
		MetricsInterval: 500 * time.Millisecond, ShapeInterval: time.Second, ScrapeTimeout: 2 * time.Second,
		LocalPID: l.Hub.PID,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()

	// wait for two shape readings and a few scrapes with rates
	waitFor(t, 15*time.Second, "two DB shapes and request rates", func() bool {
		ss := buf.Samples()
		return len(values(ss, MetricDBJoinedRows)) >= 2 && len(values(ss, MetricRequestRate)) >= 2 &&
			len(values(ss, MetricCPUCores, TagSource, SourceProc)) >= 2
	})
	ss := buf.Samples()
	const mib = 1 << 20
	procRSS := last(values(ss, MetricRSS, TagSource, SourceProc))
	scrapedRSS := last(values(ss, MetricScrapedRSS, TagSource, SourceMetrics))
	if !(procRSS > 50*mib) || !(scrapedRSS > 50*mib) {
		t.Errorf("hub RSS: /proc %.0f MiB, /hub/metrics %.0f MiB; want both > 50 MiB", procRSS/mib, scrapedRSS/mib)
	}
	// the same process read two ways, a fraction of a second apart
	if math.Abs(procRSS-scrapedRSS) > 0.25*procRSS {
		t.Errorf("hub RSS disagrees: /proc %.1f MiB vs /hub/metrics %.1f MiB", procRSS/mib, scrapedRSS/mib)
	}
	if hwm := last(values(ss, MetricRSSHWM, TagSource, SourceProc)); !(hwm >= procRSS) {
		t.Errorf("VmHWM %.1f MiB below VmRSS %.1f MiB", hwm/mib, procRSS/mib)
	}
	if n := len(values(ss, MetricRSS, TagSource, SourceMetrics)); n != 0 {
		t.Errorf("%d hub_rss_bytes from /hub/metrics next to /proc's: the report would add them up", n)
	}
	if cpu := last(values(ss, MetricCPU, TagSource, SourceProc)); !(cpu > 0) {
		t.Errorf("hub CPU seconds from /proc = %v, want > 0", cpu)
	}
	if got := last(values(ss, MetricRunning, TagSource, SourceMetrics)); got != 3 {
		t.Errorf("hub_running_servers = %v, want the 3 seeded", got)
	}
	// tel-a: '' + 3 named rows, 2 running → 8 joined rows; tel-b: '' + 1, 1 running → 2
	for _, w := range []struct {
		metric string
		want   float64
	}{{MetricDBRunning, 3}, {MetricDBJoinedRows, 10}, {MetricDBTopUserShare, 0.8}} {
		if got := last(values(ss, w.metric, TagSource, SourceAPI)); !near(got, w.want) {
			t.Errorf("%s = %v, want %v", w.metric, got, w.want)
		}
	}
	if got := last(values(ss, MetricUsers, TagSource, SourceAPI)); !(got >= 2) {
		t.Errorf("hub_users = %v, want at least the 2 seeded", got)
	}
	if got := last(values(ss, MetricInitSpawners, TagSource, SourceMetrics)); !(got > 0) {
		t.Errorf("hub_init_spawners_duration = %v ms, want > 0", got)
	}
	for _, u := range values(ss, MetricUp) {
		if u != 1 {
			t.Fatalf("hub_up %v while the hub runs: %s", values(ss, MetricUp), logs.String())
		}
	}

	// stop the hub (and its proxy) mid-collection
	n0 := len(buf.Samples())
	stopCtx, cancelStop := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStop()
	if err := l.Hub.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "hub_up 0 three times after the hub stopped", func() bool {
		ups := values(buf.Samples()[n0:], MetricUp)
		zeros := 0
		for _, u := range ups {
			if u == 0 {
				zeros++
			}
		}
		return zeros >= 3 && last(ups) == 0
	})
	select {
	case err := <-done:
		t.Fatalf("the collector stopped on its own when the hub died: %v", err)
	default:
	}
	stopRun()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	after := buf.Samples()[n0:]
	// Each hub_up=0 is a counted failure: down (connection refused), or
	// another kind (timeout, a proxy error) when the hub stopped during a
	// scrape, as the first one or two often do on a loaded machine.
	failed := len(values(after, MetricScrapeErrors, TagSource, SourceMetrics))
	down := len(values(after, MetricScrapeErrors, TagSource, SourceMetrics, "kind", "down"))
	if failed < 3 || down < 1 {
		t.Errorf("%d scrape errors (%d down) counted after the hub stopped, want ≥ 3 with at least one down", failed, down)
	}
	t.Logf("hub RSS /proc %.1f MiB, /hub/metrics %.1f MiB; %d samples; log:\n%s",
		procRSS/mib, scrapedRSS/mib, len(buf.Samples()), logs.String())
}
