package capreport

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/results"
)

// MetricHubUp is the telemetry gauge that is 1 while the hub answers its
// /hub/metrics scrapes and 0 when it does not.
const MetricHubUp = results.MetricHubUp

// ScenarioInfo is what a scenario recorded about itself in the results.
type ScenarioInfo struct {
	Script, Family, HubVersion string
	// Params are the scenario's parameters (upper-case tags).
	Params map[string]string
}

// ScenarioInfoOf reads the [MetricScenarioInfo] points of res (later points
// win) and, when they name no hub version, the tag hub_version of any other
// series. It is a pure function.
func ScenarioInfoOf(res *reports.Results) ScenarioInfo {
	info := ScenarioInfo{Params: map[string]string{}}
	if res == nil {
		return info
	}
	type tagged struct {
		t    time.Time
		tags map[string]string
	}
	var pts []tagged
	for _, s := range res.SeriesOf(MetricScenarioInfo) {
		for _, p := range s.Points {
			pts = append(pts, tagged{p.Time, s.Tags})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].t.Before(pts[j].t) })
	for _, p := range pts {
		for k, v := range p.tags {
			switch {
			case isParamName(k):
				info.Params[k] = v
			case k == TagScript:
				info.Script = v
			case k == TagFamily:
				info.Family = v
			case k == TagHubVersion:
				info.HubVersion = v
			}
		}
	}
	if info.HubVersion == "" {
		for _, s := range res.Series {
			if v := s.Tags[TagHubVersion]; v != "" {
				info.HubVersion = v
				break
			}
		}
	}
	return info
}

// isParamName reports whether a tag names a scenario parameter: upper-case
// letters, digits and underscores, starting with a letter.
func isParamName(k string) bool {
	if k == "" || k[0] < 'A' || k[0] > 'Z' {
		return false
	}
	for _, c := range k {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// withStatus returns res with the run status the report should show, and a
// sentence saying where it came from ("" when the stream's own marker
// stands). The runner's given status fills in a missing marker; a hub that
// the telemetry last saw down, while attendees were still at work, makes
// the status hub_died whatever the marker says (but aborted).
func withStatus(res *reports.Results, given string) (*reports.Results, string) {
	status, why := res.Status, ""
	if status == "" && given != "" {
		status, why = given, given+" (as the runner reported; the results have no status marker)"
	}
	if down, ok := hubDownSince(res); ok && status != reports.StatusAborted {
		status = reports.StatusHubDied
		why = fmt.Sprintf("hub died: the telemetry saw it down from t+%s while attendees were still at work",
			down.Sub(res.Start).Round(time.Second))
	}
	if status == res.Status {
		return res, why
	}
	cp := *res
	cp.Status = status
	return &cp, why
}

// hubDownSince returns when the hub went down for good: the start of the
// final run of hub_up = 0, if other samples (attendees' traffic) came after
// it. A hub stopped after the run (a local hub's shutdown) is not a death.
func hubDownSince(res *reports.Results) (time.Time, bool) {
	var up []reports.Point
	for _, s := range res.SeriesOf(MetricHubUp) {
		up = append(up, s.Points...)
	}
	if len(up) == 0 {
		return time.Time{}, false
	}
	sort.SliceStable(up, func(i, j int) bool { return up[i].Time.Before(up[j].Time) })
	if up[len(up)-1].Value != 0 {
		return time.Time{}, false
	}
	i := len(up) - 1
	for i > 0 && up[i-1].Value == 0 {
		i--
	}
	down := up[i].Time
	for _, s := range res.Series {
		if !isTraffic(s.Metric) {
			continue
		}
		for _, p := range s.Points {
			if p.Time.After(down) {
				return down, true
			}
		}
	}
	return time.Time{}, false
}

// isTraffic reports whether a metric is the attendees' (not the hub
// telemetry's, the runner's VU gauges or a marker).
func isTraffic(metric string) bool {
	switch {
	case strings.HasPrefix(metric, "hub_"), strings.HasPrefix(metric, "hubcap_"):
		return false
	case metric == reports.MetricVUs, metric == "vus_max":
		return false
	}
	return true
}
