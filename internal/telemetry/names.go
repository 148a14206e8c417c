package telemetry

import "github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"

// Metric names. The first group are the fixed names the HTML report reads
// (package reports, constants Metric…); a test keeps them equal.
//
// The report adds up the series of a gauge that have different tags, as if
// each were a share of the hub. So the hub process's RSS and CPU are written
// under [MetricRSS] and [MetricCPU] from one source only: /proc when the
// collector has a local PID (it also sees the start-up, when /hub/metrics is
// not served yet), /hub/metrics otherwise. With a local PID, /hub/metrics'
// own figures go to [MetricScrapedRSS] and [MetricScrapedCPU] instead.
const (
	// MetricRSS is the hub process's resident memory in bytes (gauge).
	// Tag source: proc or metrics.
	MetricRSS = "hub_rss_bytes"
	// MetricCPU is the hub process's cumulative CPU time, user+system, in
	// seconds (gauge; it restarts from 0 with the process). Tag source.
	MetricCPU = "hub_cpu_seconds"
	// MetricRunning is jupyterhub_running_servers (gauge). Tag source=metrics.
	MetricRunning = "hub_running_servers"
	// MetricUsers is U, the number of users, from the user listing (gauge).
	// Tag source=api.
	MetricUsers = "hub_users"
	// MetricDBSpawners is S, the spawner rows, running or stopped (gauge).
	MetricDBSpawners = "hub_db_spawners"
	// MetricDBRunning is R, the spawner rows with a server (gauge).
	MetricDBRunning = "hub_db_running"
	// MetricDBJoinedRows is J = Σ_u R_u·S_u, the rows JupyterHub 5.0–5.3
	// joins at start-up (gauge).
	MetricDBJoinedRows = "hub_db_joined_rows"
)

// Metric names of the collector beyond the report's fixed ones.
const (
	// MetricUp is 1 when the hub answered the last /hub/metrics scrape (any
	// answer but a proxy's 502/503/504), 0 when it did not (connection
	// refused, timeout, proxy error): a report can show when the hub died.
	MetricUp = "hub_up"
	// MetricScrapeErrors counts failed scrapes (counter, 1 per failure).
	// Tags: source (metrics, api, proc) and kind (down, timeout, forbidden,
	// unauthorized, not_found, redirect, http, parse, missing_servers, gone,
	// read).
	MetricScrapeErrors = "hub_scrape_errors"
	// MetricCPUCores is the hub's CPU use in cores over the last interval
	// (gauge): Δ cpu seconds / Δ wall seconds, see [CPUCores]. Tag source,
	// the same as [MetricCPU]'s.
	MetricCPUCores = "hub_cpu_cores"
	// MetricRSSHWM is VmHWM, the peak RSS of the hub process so far, in bytes
	// (gauge, source=proc only).
	MetricRSSHWM = "hub_rss_hwm_bytes"
	// MetricScrapedRSS is process_resident_memory_bytes of /hub/metrics when
	// /proc is the source of [MetricRSS] (gauge, bytes, source=metrics).
	MetricScrapedRSS = "hub_scraped_rss_bytes"
	// MetricScrapedCPU is process_cpu_seconds_total of /hub/metrics when
	// /proc is the source of [MetricCPU] (gauge, seconds, source=metrics).
	MetricScrapedCPU = "hub_scraped_cpu_seconds"
	// MetricTotalUsers is jupyterhub_total_users (gauge, source=metrics).
	MetricTotalUsers = "hub_total_users"
	// MetricActiveUsers is jupyterhub_active_users (gauge). Tag period:
	// 24h, 7d, 30d.
	MetricActiveUsers = "hub_active_users"
	// MetricRequestRate is the hub's HTTP requests per second over the last
	// interval, from jupyterhub_request_duration_seconds_count, without the
	// collector's own /hub/metrics requests (gauge).
	MetricRequestRate = "hub_request_rate"
	// MetricRequestP95 is the 95th percentile of the hub's request durations
	// over the last interval, in ms, estimated from the histogram's bucket
	// increments (see [DeltaQuantile]); absent when no request came (gauge).
	MetricRequestP95 = "hub_request_duration_p95"
	// MetricEventLoopMean is the mean of jupyterhub_event_loop_interval_seconds
	// observations over the last interval, in ms (gauge). The hub observes its
	// event loop every 50 ms; values well above 50 mean the loop was blocked.
	MetricEventLoopMean = "hub_event_loop_interval_mean"
	// MetricEventLoopP99 is the 99th percentile of the same, in ms (gauge).
	MetricEventLoopP99 = "hub_event_loop_interval_p99"
	// MetricInitSpawners is jupyterhub_init_spawners_duration_seconds of the
	// running hub's start-up, in ms (gauge): the cost of the restart query.
	MetricInitSpawners = "hub_init_spawners_duration"
	// MetricStartup is jupyterhub_hub_startup_duration_seconds, in ms (gauge).
	MetricStartup = "hub_startup_duration"
	// MetricDBLinearRows is Σ_u R_u + Σ_{u:R_u>0} S_u, the rows the fixed
	// start-up query (≥ 5.4.3) loads (gauge, source=api).
	MetricDBLinearRows = "hub_db_linear_rows"
	// MetricDBTopUserShare is the largest user's share of J, R_u·S_u / J, in
	// [0, 1] (gauge, source=api; absent while J = 0).
	MetricDBTopUserShare = "hub_db_top_user_share"
)

// Values of the tag "source".
const (
	SourceMetrics = "metrics" // GET /hub/metrics
	SourceAPI     = "api"     // the REST user listing (DB shape)
	SourceProc    = "proc"    // /proc/PID of a local hub
)

// TagSource is the tag naming where a value was read.
const TagSource = "source"

var descriptors = []samples.Metric{
	{Name: MetricUp, Kind: samples.Gauge},
	{Name: MetricScrapeErrors, Kind: samples.Counter},
	{Name: MetricRSS, Kind: samples.Gauge, Contains: samples.Data},
	{Name: MetricRSSHWM, Kind: samples.Gauge, Contains: samples.Data},
	{Name: MetricCPU, Kind: samples.Gauge},
	{Name: MetricCPUCores, Kind: samples.Gauge},
	{Name: MetricScrapedRSS, Kind: samples.Gauge, Contains: samples.Data},
	{Name: MetricScrapedCPU, Kind: samples.Gauge},
	{Name: MetricRunning, Kind: samples.Gauge},
	{Name: MetricTotalUsers, Kind: samples.Gauge},
	{Name: MetricActiveUsers, Kind: samples.Gauge},
	{Name: MetricRequestRate, Kind: samples.Gauge},
	{Name: MetricRequestP95, Kind: samples.Gauge, Contains: samples.Time},
	{Name: MetricEventLoopMean, Kind: samples.Gauge, Contains: samples.Time},
	{Name: MetricEventLoopP99, Kind: samples.Gauge, Contains: samples.Time},
	{Name: MetricInitSpawners, Kind: samples.Gauge, Contains: samples.Time},
	{Name: MetricStartup, Kind: samples.Gauge, Contains: samples.Time},
	{Name: MetricUsers, Kind: samples.Gauge},
	{Name: MetricDBSpawners, Kind: samples.Gauge},
	{Name: MetricDBRunning, Kind: samples.Gauge},
	{Name: MetricDBJoinedRows, Kind: samples.Gauge},
	{Name: MetricDBLinearRows, Kind: samples.Gauge},
	{Name: MetricDBTopUserShare, Kind: samples.Gauge},
}

// Metrics describes every metric the collector emits, for an output's Metric
// lines. The slice is a copy.
func Metrics() []samples.Metric { return append([]samples.Metric(nil), descriptors...) }
