package telemetry

import (
	"math"
	"sort"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// metricsReading is one successful scrape of /hub/metrics, kept for the
// next interval's differences.
type metricsReading struct {
	t time.Time
	m hubapi.HubMetrics
	// start is process_start_time_seconds (NaN when not exported): a new
	// value means the hub restarted between two scrapes.
	start float64
	req   hubapi.Histogram // request durations without /hub/metrics itself
}

func newMetricsReading(t time.Time, m hubapi.HubMetrics) metricsReading {
	return metricsReading{t: t, m: m, start: gaugeValue(m, "process_start_time_seconds"), req: requestHistogram(m)}
}

// restarted reports whether cur is from another hub process than prev.
// Without start times it relies on the counters going down.
func restarted(prev, cur metricsReading) bool {
	if finite(prev.start) && finite(cur.start) && prev.start != cur.start {
		return true
	}
	return finite(prev.m.CPUSeconds) && finite(cur.m.CPUSeconds) && cur.m.CPUSeconds < prev.m.CPUSeconds
}

// builder stamps samples with a time and the collector's tags.
type builder struct {
	t    time.Time
	tags map[string]string
	out  []samples.Sample
}

// add appends a sample unless v is not finite (NDJSON cannot carry NaN or
// ±Inf, and an absent metric is better than a made-up 0). kv are extra tag
// pairs.
func (b *builder) add(metric string, v float64, kv ...string) {
	if !finite(v) {
		return
	}
	tags := make(map[string]string, len(b.tags)+len(kv)/2)
	for k, val := range b.tags {
		tags[k] = val
	}
	for i := 0; i+1 < len(kv); i += 2 {
		tags[kv[i]] = kv[i+1]
	}
	b.out = append(b.out, samples.Sample{Metric: metric, Time: b.t, Value: v, Tags: tags})
}

const msPerSecond = 1000

// metricsSamples turns a scrape into samples, with the interval's rates and
// percentiles when prev (the previous scrape, nil for the first) is given.
// procPrimary says that /proc supplies hub_rss_bytes and hub_cpu_seconds, so
// the scrape's process figures go to the hub_scraped_… names.
func metricsSamples(prev *metricsReading, cur metricsReading, tags map[string]string, procPrimary bool) []samples.Sample {
	b := &builder{t: cur.t, tags: tags}
	src := []string{TagSource, SourceMetrics}
	m := cur.m
	if procPrimary {
		b.add(MetricScrapedRSS, m.RSSBytes, src...)
		b.add(MetricScrapedCPU, m.CPUSeconds, src...)
	} else {
		b.add(MetricRSS, m.RSSBytes, src...)
		b.add(MetricCPU, m.CPUSeconds, src...)
		if prev != nil && !restarted(*prev, cur) {
			if cores, ok := CPUCores(prev.m.CPUSeconds, prev.t, m.CPUSeconds, cur.t); ok {
				b.add(MetricCPUCores, cores, src...)
			}
		}
	}
	b.add(MetricRunning, m.RunningServers, src...)
	b.add(MetricTotalUsers, m.TotalUsers, src...)
	periods := make([]string, 0, len(m.ActiveUsers))
	for p := range m.ActiveUsers {
		periods = append(periods, p)
	}
	sort.Strings(periods)
	for _, p := range periods {
		b.add(MetricActiveUsers, m.ActiveUsers[p], TagSource, SourceMetrics, "period", p)
	}
	b.add(MetricInitSpawners, m.InitSpawnersSeconds*msPerSecond, src...)
	b.add(MetricStartup, m.StartupSeconds*msPerSecond, src...)

	if prev != nil {
		dt := cur.t.Sub(prev.t).Seconds()
		pReq, pLoop := prev.req, prev.m.EventLoopInterval
		if restarted(*prev, cur) {
			// everything the new process observed happened since prev
			pReq, pLoop = hubapi.Histogram{}, hubapi.Histogram{}
		}
		if _, has := m.Family(familyRequests); has && dt > 0 {
			d, _ := DeltaHistogram(pReq, cur.req)
			b.add(MetricRequestRate, d.Count/dt, src...)
		}
		if v, ok := DeltaQuantile(0.95, pReq, cur.req); ok {
			b.add(MetricRequestP95, v*msPerSecond, src...)
		}
		if v, ok := DeltaMean(pLoop, m.EventLoopInterval); ok {
			b.add(MetricEventLoopMean, v*msPerSecond, src...)
		}
		if v, ok := DeltaQuantile(0.99, pLoop, m.EventLoopInterval); ok {
			b.add(MetricEventLoopP99, v*msPerSecond, src...)
		}
	}
	return b.out
}

// shapeSamples turns a DB shape read at t into samples.
func shapeSamples(t time.Time, s shape.Shape, tags map[string]string) []samples.Sample {
	b := &builder{t: t, tags: tags}
	src := []string{TagSource, SourceAPI}
	b.add(MetricUsers, float64(s.U), src...)
	b.add(MetricDBSpawners, float64(s.S), src...)
	b.add(MetricDBRunning, float64(s.R), src...)
	b.add(MetricDBJoinedRows, float64(s.J), src...)
	b.add(MetricDBLinearRows, float64(s.LinearRows), src...)
	if _, share, ok := TopUser(s); ok {
		b.add(MetricDBTopUserShare, share, src...)
	}
	return b.out
}

// procReading is one reading of a local hub process.
type procReading struct {
	t     time.Time
	pid   int
	start uint64 // start time in clock ticks: identifies the process with pid
	mem   proc.Mem
	cpu   time.Duration // user + system
}

func (r procReading) sameProcess(o procReading) bool { return r.pid == o.pid && r.start == o.start }

// procSamples turns a /proc reading into samples; prev (nil for the first)
// gives the CPU utilisation when it is the same process.
func procSamples(prev *procReading, cur procReading, tags map[string]string) []samples.Sample {
	b := &builder{t: cur.t, tags: tags}
	src := []string{TagSource, SourceProc}
	b.add(MetricRSS, float64(cur.mem.RSS), src...)
	b.add(MetricRSSHWM, float64(cur.mem.HWM), src...)
	b.add(MetricCPU, cur.cpu.Seconds(), src...)
	if prev != nil && prev.sameProcess(cur) {
		if cores, ok := CPUCores(prev.cpu.Seconds(), prev.t, cur.cpu.Seconds(), cur.t); ok {
			b.add(MetricCPUCores, cores, src...)
		}
	}
	return b.out
}

// nan is the "no value" of Status fields.
var nan = math.NaN()
