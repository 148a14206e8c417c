package telemetry_test

import (
	"fmt"
	"math"
	"time"

	"github.com/hubcap-dev/hubcap/internal/telemetry"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// Two scrapes of process_cpu_seconds_total 5 s apart.
func ExampleCPUCores() {
	t0 := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	cores, ok := telemetry.CPUCores(41.0, t0, 44.5, t0.Add(5*time.Second))
	fmt.Printf("%.2f cores (%v)\n", cores, ok)
	// Output: 0.70 cores (true)
}

// The p95 of the requests a hub served between two scrapes of
// jupyterhub_request_duration_seconds, not since it started.
func ExampleDeltaQuantile() {
	prev := hubapi.Histogram{Count: 100, Sum: 5, Buckets: []hubapi.Bucket{
		{UpperBound: 0.1, Count: 100}, {UpperBound: 1, Count: 100}, {UpperBound: math.Inf(1), Count: 100}}}
	// 20 more requests, 10 of them slower than 100 ms
	cur := hubapi.Histogram{Count: 120, Sum: 9, Buckets: []hubapi.Bucket{
		{UpperBound: 0.1, Count: 110}, {UpperBound: 1, Count: 120}, {UpperBound: math.Inf(1), Count: 120}}}
	p95, _ := telemetry.DeltaQuantile(0.95, prev, cur)
	all := cur.Quantile(0.95)
	fmt.Printf("interval p95 %.0f ms, since start %.0f ms\n", p95*1000, all*1000)
	// Output: interval p95 910 ms, since start 460 ms
}
