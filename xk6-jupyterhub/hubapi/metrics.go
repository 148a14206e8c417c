package hubapi

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
)

// HubMetrics is what hubcap reads from /hub/metrics. Values are NaN when the
// hub did not export the metric (e.g. process_* on platforms without /proc).
type HubMetrics struct {
	RSSBytes       float64 // process_resident_memory_bytes
	CPUSeconds     float64 // process_cpu_seconds_total
	RunningServers float64 // jupyterhub_running_servers
	TotalUsers     float64 // jupyterhub_total_users
	// ActiveUsers by period label (24h, 7d, 30d): jupyterhub_active_users.
	ActiveUsers map[string]float64
	// InitSpawnersSeconds is the sum of jupyterhub_init_spawners_duration_seconds
	// (observed once per hub start, so the start-up's init_spawners time).
	InitSpawnersSeconds float64
	// StartupSeconds is the sum of jupyterhub_hub_startup_duration_seconds.
	StartupSeconds float64
	// EventLoopInterval is jupyterhub_event_loop_interval_seconds.
	EventLoopInterval Histogram
	// RequestDuration is jupyterhub_request_duration_seconds over all labels.
	RequestDuration Histogram
	// SpawnDuration is jupyterhub_server_spawn_duration_seconds by status label.
	SpawnDuration map[string]Histogram
	// Families are all parsed families, raw.
	Families []Family
}

// Family returns the named family.
func (m HubMetrics) Family(name string) (Family, bool) {
	for _, f := range m.Families {
		if f.Name == name {
			return f, true
		}
	}
	return Family{}, false
}

// HubMetricsFrom extracts HubMetrics from parsed families.
func HubMetricsFrom(fams []Family) HubMetrics {
	m := HubMetrics{
		RSSBytes: math.NaN(), CPUSeconds: math.NaN(), RunningServers: math.NaN(), TotalUsers: math.NaN(),
		InitSpawnersSeconds: math.NaN(), StartupSeconds: math.NaN(),
		ActiveUsers: map[string]float64{}, SpawnDuration: map[string]Histogram{}, Families: fams,
	}
	for _, f := range fams {
		switch f.Name {
		case "process_resident_memory_bytes":
			m.RSSBytes = firstValue(f)
		case "process_cpu_seconds_total", "process_cpu_seconds":
			m.CPUSeconds = firstValue(f)
		case "jupyterhub_running_servers":
			m.RunningServers = firstValue(f)
		case "jupyterhub_total_users":
			m.TotalUsers = firstValue(f)
		case "jupyterhub_active_users":
			for _, s := range f.Samples {
				m.ActiveUsers[s.Labels["period"]] = s.Value
			}
		case "jupyterhub_init_spawners_duration_seconds":
			if h := HistogramOf(f, nil); h.Count > 0 {
				m.InitSpawnersSeconds = h.Sum
			}
		case "jupyterhub_hub_startup_duration_seconds":
			if h := HistogramOf(f, nil); h.Count > 0 {
				m.StartupSeconds = h.Sum
			}
		case "jupyterhub_event_loop_interval_seconds":
			m.EventLoopInterval = HistogramOf(f, nil)
		case "jupyterhub_request_duration_seconds":
			m.RequestDuration = HistogramOf(f, nil)
		case "jupyterhub_server_spawn_duration_seconds":
			statuses := map[string]bool{}
			for _, s := range f.Samples {
				statuses[s.Labels["status"]] = true
			}
			for st := range statuses {
				m.SpawnDuration[st] = HistogramOf(f, map[string]string{"status": st})
			}
		}
	}
	return m
}

func firstValue(f Family) float64 {
	for _, s := range f.Samples {
		if !strings.HasSuffix(s.Name, "_created") {
			return s.Value
		}
	}
	return math.NaN()
}

// Metrics scrapes GET /hub/metrics (scope read:metrics unless the hub sets
// authenticate_prometheus=False) and parses it.
func (c *Client) Metrics(ctx context.Context) (HubMetrics, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/hub/metrics"
	resp, err := c.call(ctx, &Request{Method: http.MethodGet, URL: u.String(), Endpoint: "/hub/metrics", Phase: "metrics",
		Header: http.Header{"Accept": {"text/plain;version=0.0.4"}}}, nil, nil)
	if err != nil {
		if ae, ok := errorsAsAPI(err); ok && ae.Status == http.StatusForbidden && len(ae.Scopes) == 0 {
			ae.Scopes = []string{"read:metrics"}
			ae.Hint = hintFor(ae.Status, ae.Message, ae.Scopes)
		}
		return HubMetrics{}, err
	}
	fams, err := ParseMetricsText(bytes.NewReader(resp.Body))
	if err != nil {
		return HubMetrics{}, fmt.Errorf("GET /hub/metrics: %w", err)
	}
	return HubMetricsFrom(fams), nil
}
