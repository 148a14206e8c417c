package reports_test

import (
	"fmt"
	"strings"

	"github.com/hubcap-dev/hubcap/reports"
)

// Reading a results stream whose writer was killed mid-line, and the
// per-phase summary the report prints.
func ExampleReadNDJSON() {
	stream := `{"type":"Metric","data":{"name":"jupyterhub_spawn_duration","type":"trend","contains":"time"},"metric":"jupyterhub_spawn_duration"}
{"type":"Point","data":{"time":"2025-03-14T09:00:05Z","value":4000,"tags":{"phase":"spawn"}},"metric":"jupyterhub_spawn_duration"}
{"type":"Point","data":{"time":"2025-03-14T09:00:09Z","value":6000,"tags":{"phase":"spawn"}},"metric":"jupyterhub_spawn_duration"}
{"type":"Point","data":{"time":"2025-03-14T09:00:12Z","val`
	res, err := reports.ReadNDJSON(strings.NewReader(stream))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("cut short: %v (status %q, truncated tail %v)\n", res.CutShort(), res.Status, res.TruncatedTail)
	for _, p := range reports.PhaseLatencies(res) {
		var v []float64
		for _, pt := range p.Points {
			v = append(v, pt.Value)
		}
		s := reports.Summarize(v)
		fmt.Printf("%s: n=%d p50=%.0f ms p95=%.0f ms\n", p.Phase, s.Count, s.P50, s.P95)
	}
	// Output:
	// cut short: true (status "", truncated tail true)
	// spawn: n=2 p50=5000 ms p95=5900 ms
}
