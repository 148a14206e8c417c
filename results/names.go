package results

// Line types: the "type" of each line.
const (
	TypeMetric = "Metric" // a metric declaration
	TypePoint  = "Point"  // one sample
)

// Metric types and what values contain, as Metric lines spell them.
const (
	KindCounter = "counter"
	KindGauge   = "gauge"
	KindRate    = "rate"
	KindTrend   = "trend"

	ContainsDefault = "default"
	ContainsTime    = "time" // milliseconds
	ContainsData    = "data" // bytes
)

// The run-status marker: the last line of a run's stream is one Point of
// gauge [MetricRunStatus] (value 1) whose tag [TagStatus] says how the run
// ended. A stream without it was cut short (the runner was killed, or the
// file copied mid-run).
const (
	MetricRunStatus = "hubcap_run_status"
	TagStatus       = "status"

	StatusCompleted   = "completed"   // every scenario ran (thresholds may have failed)
	StatusInterrupted = "interrupted" // the user stopped the run
	StatusHubDied     = "hub_died"    // the hub went down and stayed down
	StatusAborted     = "aborted"     // the script or an abortOnFail threshold stopped it
)

// Statuses lists the Status… values.
func Statuses() []string {
	return []string{StatusCompleted, StatusInterrupted, StatusHubDied, StatusAborted}
}

// The scenario's description: a scenario adds one point of gauge
// [MetricScenarioInfo] (value 1) whose upper-case tags are its parameters
// (ATTENDEES, …) and whose lower-case tags [TagScript], [TagFamily] and
// [TagHubVersion] describe the run.
const (
	MetricScenarioInfo = "hubcap_scenario_info"
	TagScript          = "script"      // scenario file name, e.g. "workshop.js"
	TagFamily          = "family"      // size family: attendees or servers
	TagHubVersion      = "hub_version" // the version /hub/api/ answered
)

// Traffic metrics with a fixed meaning. Latency and error metrics of the
// traffic module are recognised by type and tags instead: Trends with a tag
// [TagPhase] are phase latencies, Counters with a tag [TagStatus] errors.
const (
	MetricActive   = "attendees_active"  // attendees in a session (gauge)
	MetricArrivals = "attendee_arrivals" // arrivals (counter, 1 each; or a cumulative gauge)

	TagPhase = "phase"
	TagCheck = "check"
)

// k6's builtin metrics the report reads.
const (
	MetricChecks        = "checks"
	MetricDroppedIters  = "dropped_iterations"
	MetricIterations    = "iterations"
	MetricVUs           = "vus"
	MetricIterationTime = "iteration_duration"
	MetricDataSent      = "data_sent"
	MetricDataReceived  = "data_received"
)

// Hub telemetry (package internal/telemetry writes these; the report reads
// them by name).
//
// The report adds up the series of a gauge that have different tags, as if
// each were a share of the hub. So the hub process's RSS and CPU are written
// under [MetricHubRSS] and [MetricHubCPU] from one source only: /proc when the
// collector has a local PID (it also sees the start-up, when /hub/metrics is
// not served yet), /hub/metrics otherwise. With a local PID, /hub/metrics'
// own figures go to [MetricHubScrapedRSS] and [MetricHubScrapedCPU] instead.
const (
	// MetricHubRSS is the hub process's resident memory in bytes (gauge).
	// Tag source: proc or metrics.
	MetricHubRSS = "hub_rss_bytes"
	// MetricHubCPU is the hub process's cumulative CPU time, user+system, in
	// seconds (gauge; it restarts from 0 with the process). Tag source.
	MetricHubCPU = "hub_cpu_seconds"
	// MetricHubRunning is jupyterhub_running_servers (gauge). Tag source=metrics.
	MetricHubRunning = "hub_running_servers"
	// MetricHubUsers is U, the number of users, from the user listing (gauge).
	// Tag source=api.
	MetricHubUsers = "hub_users"
	// MetricDBSpawners is S, the spawner rows, running or stopped (gauge).
	MetricDBSpawners = "hub_db_spawners"
	// MetricDBRunning is R, the spawner rows with a server (gauge).
	MetricDBRunning = "hub_db_running"
	// MetricDBJoinedRows is J = Σ_u R_u·S_u, the rows JupyterHub 5.0–5.3
	// joins at start-up (gauge).
	MetricDBJoinedRows = "hub_db_joined_rows"
	// MetricDBLinearRows is Σ_u R_u + Σ_{u:R_u>0} S_u, the rows the fixed
	// start-up query (≥ 5.4.3) loads (gauge, source=api).
	MetricDBLinearRows = "hub_db_linear_rows"
	// MetricDBTopUserShare is the largest user's share of J, R_u·S_u / J, in
	// [0, 1] (gauge, source=api; absent while J = 0).
	MetricDBTopUserShare = "hub_db_top_user_share"

	// MetricHubUp is 1 when the hub answered the last /hub/metrics scrape (any
	// answer but a proxy's 502/503/504), 0 when it did not (connection
	// refused, timeout, proxy error): a report can show when the hub died.
	MetricHubUp = "hub_up"
	// MetricHubScrapeErrors counts failed scrapes (counter, 1 per failure).
	// Tags: source (metrics, api, proc) and kind (down, timeout, forbidden,
	// unauthorized, not_found, redirect, http, parse, missing_servers, gone,
	// read).
	MetricHubScrapeErrors = "hub_scrape_errors"
	// MetricHubCPUCores is the hub's CPU use in cores over the last interval
	// (gauge): Δ cpu seconds / Δ wall seconds. Tag source, the same as
	// [MetricHubCPU]'s.
	MetricHubCPUCores = "hub_cpu_cores"
	// MetricHubRSSHWM is VmHWM, the peak RSS of the hub process so far, in
	// bytes (gauge, source=proc only).
	MetricHubRSSHWM = "hub_rss_hwm_bytes"
	// MetricHubScrapedRSS is process_resident_memory_bytes of /hub/metrics
	// when /proc is the source of [MetricHubRSS] (gauge, bytes, source=metrics).
	MetricHubScrapedRSS = "hub_scraped_rss_bytes"
	// MetricHubScrapedCPU is process_cpu_seconds_total of /hub/metrics when
	// /proc is the source of [MetricHubCPU] (gauge, seconds, source=metrics).
	MetricHubScrapedCPU = "hub_scraped_cpu_seconds"
	// MetricHubTotalUsers is jupyterhub_total_users (gauge, source=metrics).
	MetricHubTotalUsers = "hub_total_users"
	// MetricHubActiveUsers is jupyterhub_active_users (gauge). Tag period:
	// 24h, 7d, 30d.
	MetricHubActiveUsers = "hub_active_users"
	// MetricHubRequestRate is the hub's HTTP requests per second over the
	// last interval, from jupyterhub_request_duration_seconds_count, without
	// the collector's own /hub/metrics requests (gauge).
	MetricHubRequestRate = "hub_request_rate"
	// MetricHubRequestP95 is the 95th percentile of the hub's request
	// durations over the last interval, in ms, estimated from the histogram's
	// bucket increments; absent when no request came (gauge).
	MetricHubRequestP95 = "hub_request_duration_p95"
	// MetricHubEventLoopMean is the mean of
	// jupyterhub_event_loop_interval_seconds observations over the last
	// interval, in ms (gauge). The hub observes its event loop every 50 ms;
	// values well above 50 mean the loop was blocked.
	MetricHubEventLoopMean = "hub_event_loop_interval_mean"
	// MetricHubEventLoopP99 is the 99th percentile of the same, in ms (gauge).
	MetricHubEventLoopP99 = "hub_event_loop_interval_p99"
	// MetricHubInitSpawners is jupyterhub_init_spawners_duration_seconds of
	// the running hub's start-up, in ms (gauge): the cost of the restart query.
	MetricHubInitSpawners = "hub_init_spawners_duration"
	// MetricHubStartup is jupyterhub_hub_startup_duration_seconds, in ms (gauge).
	MetricHubStartup = "hub_startup_duration"

	// TagSource names where a telemetry value was read: SourceMetrics,
	// SourceAPI or SourceProc.
	TagSource     = "source"
	SourceMetrics = "metrics" // GET /hub/metrics
	SourceAPI     = "api"     // the REST user listing (DB shape)
	SourceProc    = "proc"    // /proc/PID of a local hub
)

// The run's identity: at its start each instance writes one point of gauge
// [MetricRunInfo] (value 1). Instances of one distributed test (k6's
// execution segments) share the run id and differ in the instance id, so
// that `hubcap report` merges their files and refuses files of other runs.
const (
	MetricRunInfo = "hubcap_run_info"
	TagRunID      = "run_id"      // shared by every instance of one run
	TagInstance   = "instance"    // this instance ("" when the run is not split)
	TagSegment    = "segment"     // its execution segment, e.g. 1/3:2/3 ("" the whole test)
	TagSequence   = "sequence"    // the execution segment sequence, e.g. 0,1/3,2/3,1
	TagNamePrefix = "name_prefix" // the prefix of every user and server it created
	// TagHubTelemetry is "true" on the instance that reads the hub's
	// telemetry and DB shape for the whole run, "false" on the others.
	TagHubTelemetry = "hub_telemetry"
)
