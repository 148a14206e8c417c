package hubapi

import (
	"fmt"
	"strings"
	"testing"
)

// syntheticMetrics is a /hub/metrics page of a busy hub: 100 request
// duration series with prometheus_client's 15 default buckets.
func syntheticMetrics() string {
	var b strings.Builder
	b.WriteString("# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 2.5e+08\n")
	b.WriteString("# TYPE jupyterhub_request_duration_seconds histogram\n")
	les := []string{"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf"}
	for i := 0; i < 100; i++ {
		for j, le := range les {
			fmt.Fprintf(&b, "jupyterhub_request_duration_seconds_bucket{code=\"200\",handler=\"h%d\",le=\"%s\",method=\"GET\"} %d.0\n", i, le, j*10)
		}
		fmt.Fprintf(&b, "jupyterhub_request_duration_seconds_count{code=\"200\",handler=\"h%d\",method=\"GET\"} 140.0\n", i)
		fmt.Fprintf(&b, "jupyterhub_request_duration_seconds_sum{code=\"200\",handler=\"h%d\",method=\"GET\"} 12.5\n", i)
	}
	return b.String()
}

func BenchmarkParseMetricsText(b *testing.B) {
	text := syntheticMetrics()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		fams, err := ParseMetricsText(strings.NewReader(text))
		if err != nil {
			b.Fatal(err)
		}
		_ = HubMetricsFrom(fams)
	}
}

func BenchmarkSSEReader(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, "data: {\"progress\": %d, \"message\": \"Spawning server step %d\"}\n\n\n\n", i, i)
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := FollowProgress(strings.NewReader(text)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkShapeFromUsers(b *testing.B) {
	users := make([]User, 1000)
	f, tr := false, true
	for i := range users {
		users[i] = User{Name: fmt.Sprint("u", i), Servers: map[string]Server{}}
		for j := 0; j < 5; j++ {
			st := &tr
			if j < 2 {
				st = &f
			}
			users[i].Servers[fmt.Sprint("s", j)] = Server{Stopped: st}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ShapeFromUsers(users)
	}
}
