package jsjupyterhub

import (
	"testing"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/attendee"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// TestHubRequestsCountAsHTTP: every hub request of the traffic module also
// counts in http_reqs, http_req_duration and http_req_failed, so that k6
// thresholds on them work on hub scenarios; other samples pass unchanged.
func TestHubRequestsCountAsHTTP(t *testing.T) {
	var got []samples.Sample
	var f forwardSink
	f.set(samples.SinkFunc(func(s samples.Sample) { got = append(got, s) }))
	f.AddSample(samples.Sample{Metric: hubapi.MetricAPIDuration, Value: 7, Tags: map[string]string{"status": "200", "endpoint": "/hub/api/users"}})
	f.AddSample(samples.Sample{Metric: attendee.MetricHTTPDuration, Value: 9, Tags: map[string]string{"status": "502", "endpoint": "/user/{name}/lab"}})
	f.AddSample(samples.Sample{Metric: attendee.MetricLogin, Value: 100})
	count := map[string]int{}
	failed := 0.0
	for _, s := range got {
		count[s.Metric]++
		if s.Metric == "http_req_failed" {
			failed += s.Value
		}
	}
	if count["http_reqs"] != 2 || count["http_req_duration"] != 2 || count["http_req_failed"] != 2 {
		t.Errorf("HTTP samples %v, want two of each", count)
	}
	if failed != 1 {
		t.Errorf("http_req_failed counted %v failures, want 1 (the 502)", failed)
	}
	if count[attendee.MetricLogin] != 1 || count[hubapi.MetricAPIDuration] != 1 {
		t.Errorf("original samples not forwarded: %v", count)
	}
}
