package telemetry

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Modes of the fake hub's /hub/metrics.
const (
	modeOK        = "ok"        // the metrics text
	modeForbidden = "forbidden" // 403 as JupyterHub 5.5.1 answers a token without read:metrics
	modeProxy503  = "proxy503"  // configurable-http-proxy's answer when the hub is gone
	modeHang      = "hang"      // no answer until the request is abandoned
)

// fakeHub answers /hub/metrics per its mode and /hub/api/users with a
// fixed user listing: alice (default server stopped, s1 running, s2
// stopped) and bob (default server running).
type fakeHub struct {
	mode     atomic.Value // string
	scrapes  atomic.Int64
	listings atomic.Int64
	cpu      atomic.Int64 // process_cpu_seconds_total, in ms
}

func newFakeHub() *fakeHub {
	h := &fakeHub{}
	h.mode.Store(modeOK)
	return h
}

func (h *fakeHub) set(mode string) { h.mode.Store(mode) }

const fakeToken = "tok-0123456789abcdef-secret"

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hub/metrics":
		h.scrapes.Add(1)
		switch h.mode.Load().(string) {
		case modeForbidden:
			// 5.5.1 answers with its HTML error page (utils.metrics_authentication)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "<html><title>403 Forbidden</title><body><p>Access to metrics requires scope 'read:metrics'</p></body></html>")
			return
		case modeProxy503:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "<html><body><h1>503: Service Unavailable</h1></body></html>")
			return
		case modeHang:
			<-r.Context().Done()
			return
		}
		cpu := h.cpu.Add(500) // +0.5 CPU s per scrape
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "process_resident_memory_bytes 1.5e+08\nprocess_cpu_seconds_total %g\n"+
			"process_start_time_seconds 1.7e+09\njupyterhub_running_servers 2\njupyterhub_total_users 2\n",
			float64(cpu)/1000)
	case "/hub/api/users":
		h.listings.Add(1)
		if r.Header.Get("Authorization") != "token "+fakeToken {
			http.Error(w, `{"status":403,"message":"Missing or invalid credentials."}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"items":[`+
			`{"kind":"user","name":"alice","servers":{"":{"name":"","stopped":true},"s1":{"name":"s1","ready":true,"stopped":false},"s2":{"name":"s2","stopped":true}}},`+
			`{"kind":"user","name":"bob","servers":{"":{"name":"","ready":true,"stopped":false}}}],`+
			`"_pagination":{"offset":0,"limit":200,"total":2,"next":null}}`)
	default:
		http.NotFound(w, r)
	}
}

// inProcess is an http.RoundTripper that calls a handler directly: no
// sockets, so it runs inside a synctest bubble.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// logBuf collects log output safely.
type logBuf struct{ testkit.Buffer }

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// values returns the values of metric whose tags include every pair of kv.
func values(ss []samples.Sample, metric string, kv ...string) []float64 {
	var out []float64
next:
	for _, s := range ss {
		if s.Metric != metric {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if s.Tags[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, s.Value)
	}
	return out
}

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
