package telemetry

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// key names a sample by metric and tags (the run tag "run" left out).
func key(s samples.Sample) string {
	var kv []string
	for k, v := range s.Tags {
		if k != "run" {
			kv = append(kv, k+"="+v)
		}
	}
	sort.Strings(kv)
	return s.Metric + "{" + strings.Join(kv, ",") + "}"
}

// byKey indexes samples and checks the invariants every sample keeps: the
// stamped time, the run tag, a declared metric, and one sample per key.
func byKey(t *testing.T, ss []samples.Sample, at time.Time) map[string]float64 {
	t.Helper()
	declared := map[string]bool{}
	for _, m := range Metrics() {
		declared[m.Name] = true
	}
	out := map[string]float64{}
	for _, s := range ss {
		k := key(s)
		if _, dup := out[k]; dup {
			t.Errorf("two samples %s", k)
		}
		out[k] = s.Value
		if !s.Time.Equal(at) {
			t.Errorf("%s: time %v, want %v", k, s.Time, at)
		}
		if s.Tags["run"] != "r1" {
			t.Errorf("%s: tags %v lack the collector's tag run=r1", k, s.Tags)
		}
		if !declared[s.Metric] {
			t.Errorf("%s: metric not in Metrics()", k)
		}
	}
	return out
}

func check(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s (want %v)", k, w)
		} else if !near(g, w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %v", k, g)
		}
	}
}

func parseMetrics(t *testing.T, text string) hubapi.HubMetrics {
	t.Helper()
	fams, err := hubapi.ParseMetricsText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return hubapi.HubMetricsFrom(fams)
}

var runTags = map[string]string{"run": "r1"}

// A real first scrape of a 5.5.1 hub (testdata/metrics-5.5.1.txt, taken
// after seeding one user with 2 running and 1 stopped named server): gauges
// only, since rates need a previous scrape.
func TestMetricsSamplesFirstScrape(t *testing.T) {
	b, err := os.ReadFile("testdata/metrics-5.5.1.txt")
	if err != nil {
		t.Fatal(err)
	}
	cur := newMetricsReading(t0, parseMetrics(t, string(b)))
	got := byKey(t, metricsSamples(nil, cur, runTags, false), t0)
	// values copied from the fixture's lines
	check(t, got, map[string]float64{
		"hub_rss_bytes{source=metrics}":               1.18345728e+08,
		"hub_cpu_seconds{source=metrics}":             3.21,
		"hub_running_servers{source=metrics}":         4, // upstream's gauge over-counts concurrent spawns
		"hub_total_users{source=metrics}":             1,
		"hub_active_users{period=24h,source=metrics}": 0,
		"hub_active_users{period=7d,source=metrics}":  0,
		"hub_active_users{period=30d,source=metrics}": 0,
		"hub_init_spawners_duration{source=metrics}":  5.5693270001029305,
		"hub_startup_duration{source=metrics}":        234.33021399978315,
	})
	// with a local PID, /proc owns hub_rss_bytes: the scrape's figures move.
	got = byKey(t, metricsSamples(nil, cur, runTags, true), t0)
	if _, ok := got["hub_rss_bytes{source=metrics}"]; ok {
		t.Error("procPrimary: hub_rss_bytes from metrics would be summed with /proc's by the report")
	}
	if !near(got["hub_scraped_rss_bytes{source=metrics}"], 1.18345728e+08) || !near(got["hub_scraped_cpu_seconds{source=metrics}"], 3.21) {
		t.Errorf("procPrimary: scraped RSS/CPU = %v", got)
	}
}

// reqLines writes one handler's request-duration histogram.
func reqLines(handler string, sum float64, buckets ...float64) string {
	bounds := []string{"0.1", "0.5", "1.0", "+Inf"}
	var b strings.Builder
	for i, c := range buckets {
		b.WriteString(`jupyterhub_request_duration_seconds_bucket{code="200",handler="` + handler + `",le="` + bounds[i] + `",method="GET"} ` + ftoa(c) + "\n")
	}
	b.WriteString(`jupyterhub_request_duration_seconds_count{code="200",handler="` + handler + `",method="GET"} ` + ftoa(buckets[len(buckets)-1]) + "\n")
	b.WriteString(`jupyterhub_request_duration_seconds_sum{code="200",handler="` + handler + `",method="GET"} ` + ftoa(sum) + "\n")
	return b.String()
}

func loopLines(sum float64, buckets ...float64) string {
	bounds := []string{"0.05", "0.1", "1.0", "+Inf"}
	var b strings.Builder
	b.WriteString("# TYPE jupyterhub_event_loop_interval_seconds histogram\n")
	for i, c := range buckets {
		b.WriteString(`jupyterhub_event_loop_interval_seconds_bucket{le="` + bounds[i] + `"} ` + ftoa(c) + "\n")
	}
	b.WriteString("jupyterhub_event_loop_interval_seconds_count " + ftoa(buckets[len(buckets)-1]) + "\n")
	b.WriteString("jupyterhub_event_loop_interval_seconds_sum " + ftoa(sum) + "\n")
	return b.String()
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func scrapeText(start, cpu float64, api, metrics, loop string) string {
	return "process_resident_memory_bytes 1e+08\n" +
		"process_cpu_seconds_total " + ftoa(cpu) + "\n" +
		"process_start_time_seconds " + ftoa(start) + "\n" +
		"jupyterhub_running_servers 3\njupyterhub_total_users 5\n" +
		"# TYPE jupyterhub_request_duration_seconds histogram\n" + api + metrics + loop
}

// Two scrapes 5 s apart: CPU utilisation, the interval's request rate and
// p95 (the collector's own /hub/metrics requests left out), and the event
// loop interval's mean and p99, all from the differences.
func TestMetricsSamplesInterval(t *testing.T) {
	const metricsHandler = "jupyterhub.handlers.metrics.MetricsHandler"
	prevText := scrapeText(1000, 10,
		reqLines("jupyterhub.apihandlers.users.UserAPIHandler", 10, 10, 20, 25, 25),
		reqLines(metricsHandler, 0.1, 50, 50, 50, 50),
		loopLines(5, 100, 100, 100, 100))
	// 21 more API requests, mostly slow; 1000 fast scrapes that must not
	// dilute them; 100 event-loop ticks with some long stalls.
	curText := scrapeText(1000, 12.5,
		reqLines("jupyterhub.apihandlers.users.UserAPIHandler", 30, 10, 30, 45, 46),
		reqLines(metricsHandler, 2.1, 1050, 1050, 1050, 1050),
		loopLines(11, 180, 190, 200, 200))
	prev := newMetricsReading(t0, parseMetrics(t, prevText))
	t1 := t0.Add(5 * time.Second)
	cur := newMetricsReading(t1, parseMetrics(t, curText))
	got := byKey(t, metricsSamples(&prev, cur, runTags, false), t1)
	check(t, got, map[string]float64{
		"hub_rss_bytes{source=metrics}":       1e8,
		"hub_cpu_seconds{source=metrics}":     12.5,
		"hub_cpu_cores{source=metrics}":       0.5, // 2.5 CPU s / 5 s
		"hub_running_servers{source=metrics}": 3,
		"hub_total_users{source=metrics}":     5,
		"hub_request_rate{source=metrics}":    4.2, // 21 requests / 5 s
		// Δ {0.1:0, 0.5:10, 1:20, +Inf:21}: rank 19.95 → 0.5+0.5·0.995 s
		"hub_request_duration_p95{source=metrics}": 997.5,
		// Δsum 6 s / Δcount 100
		"hub_event_loop_interval_mean{source=metrics}": 60,
		// Δ {0.05:80, 0.1:90, 1:100}: rank 99 → 0.1 + 0.9·9/10 s
		"hub_event_loop_interval_p99{source=metrics}": 910,
	})

	// The hub restarted in between (new start time, counters from zero):
	// no CPU utilisation across processes, and the new process's requests
	// are the interval's.
	restartText := scrapeText(1003, 1.5,
		reqLines("jupyterhub.apihandlers.users.UserAPIHandler", 2, 1, 3, 4, 4),
		reqLines(metricsHandler, 0.001, 1, 1, 1, 1),
		loopLines(0.5, 10, 10, 10, 10))
	rs := newMetricsReading(t1, parseMetrics(t, restartText))
	got = byKey(t, metricsSamples(&prev, rs, runTags, false), t1)
	if _, ok := got["hub_cpu_cores{source=metrics}"]; ok {
		t.Error("CPU utilisation computed across a restart")
	}
	// 4 requests / 5 s; p95: rank 3.8 in (0.5, 1] holding 3..4 → 0.9 s
	if !near(got["hub_request_rate{source=metrics}"], 0.8) || !near(got["hub_request_duration_p95{source=metrics}"], 900) {
		t.Errorf("after restart: rate %v p95 %v; want 0.8 and 900", got["hub_request_rate{source=metrics}"], got["hub_request_duration_p95{source=metrics}"])
	}

	// An idle interval: rate 0, and no p95 rather than a made-up one.
	idle := newMetricsReading(t1, parseMetrics(t, prevText))
	got = byKey(t, metricsSamples(&prev, idle, runTags, false), t1)
	if v, ok := got["hub_request_rate{source=metrics}"]; !ok || v != 0 {
		t.Errorf("idle: rate %v, %v; want 0", v, ok)
	}
	if _, ok := got["hub_request_duration_p95{source=metrics}"]; ok {
		t.Error("idle: p95 without requests")
	}
}

// A hub on a platform without process metrics exports no process_* lines:
// the samples leave them out instead of writing NaN (invalid in NDJSON).
func TestMetricsSamplesMissingFamilies(t *testing.T) {
	cur := newMetricsReading(t0, parseMetrics(t, "jupyterhub_running_servers 2\n"))
	got := byKey(t, metricsSamples(nil, cur, runTags, false), t0)
	check(t, got, map[string]float64{"hub_running_servers{source=metrics}": 2})
}

func TestShapeSamples(t *testing.T) {
	// alice: '' row + 3 named, 2 running; bob: '' + 1 running; carol: '' only.
	s := shape.New([]shape.User{
		{Name: "alice", S: 4, R: 2, J: 8}, {Name: "bob", S: 2, R: 1, J: 2}, {Name: "carol", S: 1}})
	got := byKey(t, shapeSamples(t0, s, runTags), t0)
	check(t, got, map[string]float64{
		"hub_users{source=api}":             3,
		"hub_db_spawners{source=api}":       7,
		"hub_db_running{source=api}":        3,
		"hub_db_joined_rows{source=api}":    10,
		"hub_db_linear_rows{source=api}":    9, // R 3 + S of alice and bob 6
		"hub_db_top_user_share{source=api}": 0.8,
	})
	// nothing running: no share (J = 0), zeros for the rest.
	got = byKey(t, shapeSamples(t0, shape.New([]shape.User{{Name: "a", S: 1}}), runTags), t0)
	if _, ok := got["hub_db_top_user_share{source=api}"]; ok || got["hub_db_joined_rows{source=api}"] != 0 {
		t.Errorf("idle shape: %v", got)
	}
}

func TestProcSamples(t *testing.T) {
	prev := procReading{t: t0, pid: 42, start: 777, mem: proc.Mem{RSS: 80 << 20, HWM: 90 << 20}, cpu: 2 * time.Second}
	t1 := t0.Add(2 * time.Second)
	cur := procReading{t: t1, pid: 42, start: 777, mem: proc.Mem{RSS: 100 << 20, HWM: 120 << 20}, cpu: 3500 * time.Millisecond}
	got := byKey(t, procSamples(&prev, cur, runTags), t1)
	check(t, got, map[string]float64{
		"hub_rss_bytes{source=proc}":     100 << 20,
		"hub_rss_hwm_bytes{source=proc}": 120 << 20,
		"hub_cpu_seconds{source=proc}":   3.5,
		"hub_cpu_cores{source=proc}":     0.75, // 1.5 CPU s / 2 s
	})
	// same PID, another start time: a restarted hub reusing the PID.
	cur.start = 999
	if got := byKey(t, procSamples(&prev, cur, runTags), t1); len(got) != 3 {
		t.Errorf("across processes: %v; want no hub_cpu_cores", got)
	}
}
