package telemetry

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// Whatever two scrapes a hub (or something posing as one) answers, the
// samples built from them are finite (NDJSON cannot carry NaN or ±Inf),
// declared, and building them does not panic.
func FuzzMetricsSamples(f *testing.F) {
	fixture, err := os.ReadFile("testdata/metrics-5.5.1.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(fixture), string(fixture))
	f.Add("process_cpu_seconds_total 5\n", "process_cpu_seconds_total 3\n")
	f.Add(loopLines(5, 100, 100, 100, 100), loopLines(1e308, 100, 1e308, 1e308, 1e308))
	f.Add("# TYPE jupyterhub_request_duration_seconds histogram\n"+reqLines("h", 1, 1, 2, 3, 4),
		"# TYPE jupyterhub_request_duration_seconds histogram\n"+reqLines("h", -1, 5, 2, 3, 4))
	f.Add("jupyterhub_running_servers NaN\nprocess_resident_memory_bytes +Inf\n", "jupyterhub_active_users{period=\"24h\"} -Inf\n")
	declared := map[string]bool{}
	for _, m := range Metrics() {
		declared[m.Name] = true
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		parse := func(s string) (hubapi.HubMetrics, bool) {
			fams, err := hubapi.ParseMetricsText(strings.NewReader(s))
			return hubapi.HubMetricsFrom(fams), err == nil
		}
		ma, okA := parse(a)
		mb, okB := parse(b)
		if !okA || !okB {
			return
		}
		prev := newMetricsReading(t0, ma)
		cur := newMetricsReading(t0.Add(5*time.Second), mb)
		for _, procPrimary := range []bool{false, true} {
			for _, s := range append(metricsSamples(nil, prev, nil, procPrimary), metricsSamples(&prev, cur, nil, procPrimary)...) {
				if !finite(s.Value) || !declared[s.Metric] {
					t.Fatalf("sample %+v: not finite or not declared", s)
				}
			}
		}
	})
}
