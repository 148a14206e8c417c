package reports

import (
	"io"
	"math"

	"github.com/hubcap-dev/hubcap/results"
)

// The results stream is package results'; the report reads it through these
// names.

// Sentinel errors of the NDJSON reader (results.ErrNotNDJSON,
// results.ErrMalformedLine).
var (
	ErrNotNDJSON     = results.ErrNotNDJSON
	ErrMalformedLine = results.ErrMalformedLine
)

// Run statuses: the tag status of the final hubcap_run_status point.
const (
	StatusCompleted   = results.StatusCompleted
	StatusInterrupted = results.StatusInterrupted
	StatusHubDied     = results.StatusHubDied
	StatusAborted     = results.StatusAborted
)

// Metric names with a fixed meaning (see package results). Latency and error
// metrics of the traffic module are recognised by type and tags instead
// (see the package doc).
const (
	MetricRunStatus     = results.MetricRunStatus
	MetricHubRSS        = results.MetricHubRSS
	MetricHubCPU        = results.MetricHubCPU
	MetricHubRunning    = results.MetricHubRunning
	MetricHubUsers      = results.MetricHubUsers
	MetricDBSpawners    = results.MetricDBSpawners
	MetricDBRunning     = results.MetricDBRunning
	MetricDBJoinedRows  = results.MetricDBJoinedRows
	MetricActive        = results.MetricActive
	MetricArrivals      = results.MetricArrivals
	MetricChecks        = results.MetricChecks
	MetricDroppedIters  = results.MetricDroppedIters
	MetricIterations    = results.MetricIterations
	MetricVUs           = results.MetricVUs
	MetricIterationTime = results.MetricIterationTime
	MetricDataSent      = results.MetricDataSent
	MetricDataReceived  = results.MetricDataReceived
	tagPhase, tagStatus = results.TagPhase, results.TagStatus
	tagCheck            = results.TagCheck
	metricTypeTrend     = results.KindTrend
	metricTypeCounter   = results.KindCounter
	metricTypeGauge     = results.KindGauge
)

// Results is a results stream read into memory (results.Results).
type Results = results.Results

// Metric is a metric declaration (results.Metric).
type Metric = results.Metric

// Point is one sample value at a time (results.Point).
type Point = results.Point

// Series is every point of one metric with one tag set (results.Series).
type Series = results.Series

// ReadNDJSON reads a k6 NDJSON results stream, plain or gzip-compressed
// (see results.Read).
func ReadNDJSON(r io.Reader) (*Results, error) { return results.Read(r) }

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
