package hubapi

import "github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"

// Metric names emitted by this package (and by attendee through Transport).
const (
	// MetricAPIDuration is the duration of one HTTP request to the hub API, in ms.
	// Tags: method, endpoint (path template), status.
	MetricAPIDuration = "jupyterhub_api_duration"
	// MetricErrors counts failed calls. Tags: phase, status ("0" for no answer).
	MetricErrors = "jupyterhub_errors"
	// MetricThrottled counts 429 answers. Tags: phase, endpoint.
	MetricThrottled = "jupyterhub_throttled"
	// MetricRetries counts retries after 5xx answers and connection errors.
	MetricRetries = "jupyterhub_retries"
	// MetricDataSent is k6's bytes sent (request line, headers and body, estimated).
	MetricDataSent = "data_sent"
	// MetricDataReceived is k6's bytes received (status line, headers and body, estimated).
	MetricDataReceived = "data_received"
)

// Metrics describes every metric this package emits, for outputs to register.
var Metrics = []samples.Metric{
	{Name: MetricAPIDuration, Kind: samples.Trend, Contains: samples.Time},
	{Name: MetricErrors, Kind: samples.Counter},
	{Name: MetricThrottled, Kind: samples.Counter},
	{Name: MetricRetries, Kind: samples.Counter},
	{Name: MetricDataSent, Kind: samples.Counter, Contains: samples.Data},
	{Name: MetricDataReceived, Kind: samples.Counter, Contains: samples.Data},
}
