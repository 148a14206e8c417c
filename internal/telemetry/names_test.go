package telemetry

import (
	"testing"

	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// The report finds hub telemetry by fixed names: the collector must write
// exactly those, with the kinds the report aggregates them as (gauges; RSS
// in bytes).
func TestNamesMatchReport(t *testing.T) {
	pairs := []struct{ ours, report string }{
		{MetricRSS, reports.MetricHubRSS},
		{MetricCPU, reports.MetricHubCPU},
		{MetricRunning, reports.MetricHubRunning},
		{MetricUsers, reports.MetricHubUsers},
		{MetricDBSpawners, reports.MetricDBSpawners},
		{MetricDBRunning, reports.MetricDBRunning},
		{MetricDBJoinedRows, reports.MetricDBJoinedRows},
	}
	kinds := map[string]samples.Metric{}
	for _, m := range Metrics() {
		if _, dup := kinds[m.Name]; dup {
			t.Errorf("%s declared twice", m.Name)
		}
		kinds[m.Name] = m
	}
	for _, p := range pairs {
		if p.ours != p.report {
			t.Errorf("telemetry writes %q where the report reads %q", p.ours, p.report)
		}
		m, ok := kinds[p.ours]
		if !ok {
			t.Errorf("%s is not declared in Metrics()", p.ours)
			continue
		}
		// the report differences hub_cpu_seconds as a cumulative gauge; a
		// Counter would be read as increments and summed.
		if m.Kind != samples.Gauge {
			t.Errorf("%s is a %s, the report reads a gauge", m.Name, m.Kind)
		}
	}
	if kinds[MetricRSS].Contains != samples.Data || kinds[MetricRSSHWM].Contains != samples.Data {
		t.Error("RSS metrics must be declared as data (bytes)")
	}
	if kinds[MetricScrapeErrors].Kind != samples.Counter {
		t.Error("hub_scrape_errors must be a counter")
	}
}
