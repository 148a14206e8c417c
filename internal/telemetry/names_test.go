package telemetry

import (
	"testing"

	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// The report finds hub telemetry by fixed names (package results'): the
// collector must declare each, with the kinds the report aggregates them as
// (gauges; RSS in bytes).
func TestNamesMatchReport(t *testing.T) {
	read := []string{reports.MetricHubRSS, reports.MetricHubCPU, reports.MetricHubRunning, reports.MetricHubUsers,
		reports.MetricDBSpawners, reports.MetricDBRunning, reports.MetricDBJoinedRows}
	kinds := map[string]samples.Metric{}
	for _, m := range Metrics() {
		if _, dup := kinds[m.Name]; dup {
			t.Errorf("%s declared twice", m.Name)
		}
		kinds[m.Name] = m
	}
	for _, name := range read {
		m, ok := kinds[name]
		if !ok {
			t.Errorf("%s is not declared in Metrics()", name)
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
