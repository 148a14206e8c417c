package telemetry

import (
	"github.com/hubcap-dev/hubcap/results"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Metric names the collector writes: the results stream's hub telemetry
// names (package results documents each, and why RSS and CPU come from one
// source only).
const (
	MetricRSS          = results.MetricHubRSS       // bytes (gauge); tag source proc or metrics
	MetricCPU          = results.MetricHubCPU       // cumulative seconds (gauge); tag source
	MetricRunning      = results.MetricHubRunning   // jupyterhub_running_servers (gauge)
	MetricUsers        = results.MetricHubUsers     // U (gauge, source=api)
	MetricDBSpawners   = results.MetricDBSpawners   // S (gauge)
	MetricDBRunning    = results.MetricDBRunning    // R (gauge)
	MetricDBJoinedRows = results.MetricDBJoinedRows // J = Σ_u R_u·S_u (gauge)

	MetricUp             = results.MetricHubUp            // 1 while the hub answers /hub/metrics, else 0
	MetricScrapeErrors   = results.MetricHubScrapeErrors  // failed scrapes (counter); tags source, kind
	MetricCPUCores       = results.MetricHubCPUCores      // cores over the last interval, see [CPUCores]
	MetricRSSHWM         = results.MetricHubRSSHWM        // VmHWM in bytes (source=proc)
	MetricScrapedRSS     = results.MetricHubScrapedRSS    // /hub/metrics' RSS when /proc is the source
	MetricScrapedCPU     = results.MetricHubScrapedCPU    // /hub/metrics' CPU when /proc is the source
	MetricTotalUsers     = results.MetricHubTotalUsers    // jupyterhub_total_users
	MetricActiveUsers    = results.MetricHubActiveUsers   // jupyterhub_active_users; tag period
	MetricRequestRate    = results.MetricHubRequestRate   // hub requests per second
	MetricRequestP95     = results.MetricHubRequestP95    // ms, from bucket increments, see [DeltaQuantile]
	MetricEventLoopMean  = results.MetricHubEventLoopMean // ms
	MetricEventLoopP99   = results.MetricHubEventLoopP99  // ms
	MetricInitSpawners   = results.MetricHubInitSpawners  // ms
	MetricStartup        = results.MetricHubStartup       // ms
	MetricDBLinearRows   = results.MetricDBLinearRows     // Σ_u R_u + Σ_{u:R_u>0} S_u (source=api)
	MetricDBTopUserShare = results.MetricDBTopUserShare   // max_u R_u·S_u / J (source=api)
)

// Values of the tag "source".
const (
	SourceMetrics = results.SourceMetrics // GET /hub/metrics
	SourceAPI     = results.SourceAPI     // the REST user listing (DB shape)
	SourceProc    = results.SourceProc    // /proc/PID of a local hub
)

// TagSource is the tag naming where a value was read.
const TagSource = results.TagSource

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
