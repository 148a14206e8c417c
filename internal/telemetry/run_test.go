package telemetry

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

func fakeClient(t *testing.T, h http.Handler) *hubapi.Client {
	t.Helper()
	c, err := hubapi.New(hubapi.Config{BaseURL: "http://hub.invalid", Token: fakeToken, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: inProcess{h}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Run reads each source at once and then on its own interval, keeps going
// through a hub that hangs (each scrape bounded by ScrapeTimeout, /proc
// readings unaffected), and returns nil when its context ends.
func TestRunIntervals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fh := newFakeHub()
		var buf samples.Buffer
		c, err := New(Config{
			Client: fakeClient(t, fh), Sink: &buf,
			MetricsInterval: 5 * time.Second, ShapeInterval: 30 * time.Second, ProcInterval: time.Second,
			ScrapeTimeout: 3 * time.Second,
			LocalPID:      os.Getpid, // this test process stands in for a local hub
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()

		// t = 0, 5, 10: three scrapes, one listing, eleven /proc readings by 10.5 s
		time.Sleep(10*time.Second + 500*time.Millisecond)
		synctest.Wait()
		if n := fh.scrapes.Load(); n != 3 {
			t.Errorf("%d scrapes in 10.5 s at a 5 s interval, want 3", n)
		}
		if n := fh.listings.Load(); n != 1 {
			t.Errorf("%d listings in 10.5 s at a 30 s interval, want 1", n)
		}
		ss := buf.Samples()
		if n := len(values(ss, MetricRSS, TagSource, SourceProc)); n != 11 {
			t.Errorf("%d /proc readings in 10.5 s at 1 s, want 11", n)
		}
		// the fake listing: alice '' + s1 + s2 (1 running), bob '' (running)
		if got := values(ss, MetricDBJoinedRows); len(got) != 1 || got[0] != 3+1 {
			t.Errorf("J = %v, want [4] (alice 1×3 + bob 1×1)", got)
		}
		if n := len(values(ss, MetricRSS, TagSource, SourceMetrics)); n != 0 {
			t.Errorf("hub_rss_bytes from both sources (%d from metrics): the report would add them up", n)
		}
		if st := c.Status(); !st.Up || st.Shape.J != 4 || !(st.RSSBytes > 0) {
			t.Errorf("Status = %+v", st)
		}
		if err := c.Run(ctx); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run = %v, want ErrRunning", err)
		}

		// the hub hangs: the scrape at 15 s gives up at 18 s
		fh.set(modeHang)
		n0 := len(buf.Samples())
		time.Sleep(8 * time.Second) // to 18.5 s
		synctest.Wait()
		ss = buf.Samples()[n0:]
		if got := values(ss, MetricUp); len(got) != 1 || got[0] != 0 {
			t.Errorf("hanging hub: hub_up %v, want [0]", got)
		}
		if n := len(values(ss, MetricScrapeErrors, "kind", "timeout")); n != 1 {
			t.Errorf("hanging hub: %d timeouts counted, want 1", n)
		}
		if n := len(values(ss, MetricRSS, TagSource, SourceProc)); n != 8 {
			t.Errorf("%d /proc readings while the hub hangs, want 8: they must not wait for it", n)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New without client or pid = %v, want ErrConfig", err)
	}
	errs := Config{ScrapeTimeout: -1, ProcInterval: -1}.Validate()
	if len(errs) != 3 {
		t.Errorf("Validate reported %d problems, want all 3: %v", len(errs), errs)
	}
	c, err := New(Config{LocalPID: os.Getpid, Tags: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.MetricsInterval != DefaultMetricsInterval || c.cfg.ShapeInterval != DefaultShapeInterval ||
		c.cfg.ProcInterval != DefaultMetricsInterval || c.cfg.ScrapeTimeout != DefaultScrapeTimeout {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
}
