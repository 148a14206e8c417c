// Package results owns hubcap's results stream: the file `hubcap run --out
// json=FILE` writes and `hubcap report` reads. It is k6's JSON output
// (NDJSON), so k6 tooling reads it and hubcap reads k6's:
//
//	{"type":"Metric","data":{"name":"m","type":"trend","contains":"time","thresholds":[…],"submetrics":…},"metric":"m"}
//	{"type":"Point","data":{"time":"2026-…Z","value":4200.5,"tags":{"phase":"spawn"}},"metric":"m"}
//
// A Metric line declares a metric the first time one of its points is
// written; each Point line is one sample (time values in milliseconds, data
// values in bytes). hubcap adds metrics with fixed names (this package's
// Metric… constants): the hub telemetry gauges, the scenario's description
// ([MetricScenarioInfo]) and, as the last line, the run-status marker
// ([MetricRunStatus], its tag status one of the Status… values).
//
// [Encoder] writes lines, [AppendStatus] appends the marker to a finished
// file, [Read] reads a stream (plain or gzip-compressed) into [Results].
// The package depends on the standard library only.
package results
