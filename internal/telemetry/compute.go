package telemetry

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/shape"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// CPUCores is the CPU utilisation, in cores, between two readings of a
// process's cumulative CPU time (user + system, in seconds):
//
//	cores = (cpu1 − cpu0) / (t1 − t0)    (t in seconds)
//
// 1 means one core fully busy. ok is false when it cannot be known: a
// reading is not finite, t1 ≤ t0, or cpu1 < cpu0 (the process restarted
// between the readings, so the difference means nothing).
func CPUCores(cpu0 float64, t0 time.Time, cpu1 float64, t1 time.Time) (cores float64, ok bool) {
	dt := t1.Sub(t0).Seconds()
	if !finite(cpu0) || !finite(cpu1) || dt <= 0 || cpu1 < cpu0 {
		return 0, false
	}
	return (cpu1 - cpu0) / dt, true
}

// DeltaHistogram is what a cumulative histogram observed between two
// scrapes: cur − prev, bucket by bucket (buckets are cumulative, so each
// difference is again a cumulative count), and the same for Count and Sum.
//
// reset is true when cur does not continue prev: its Count or a bucket
// decreased, i.e. the process restarted in between. d is then cur itself,
// everything observed since the restart (as Prometheus' increase() treats
// a counter reset). An empty prev (no buckets, no count) gives cur. When
// the bucket bounds differ (series with other
// bounds appeared), d has the Count and Sum differences but no buckets, so
// quantiles are unknown for that interval.
func DeltaHistogram(prev, cur hubapi.Histogram) (d hubapi.Histogram, reset bool) {
	if cur.Count < prev.Count {
		return cur, true
	}
	if prev.Count == 0 && len(prev.Buckets) == 0 {
		return cur, false // nothing before: everything is new
	}
	prevAt := make(map[float64]float64, len(prev.Buckets))
	for _, b := range prev.Buckets {
		prevAt[b.UpperBound] = b.Count
	}
	same := len(prev.Buckets) == len(cur.Buckets)
	for _, b := range cur.Buckets {
		p, ok := prevAt[b.UpperBound]
		if !ok {
			same = false
			continue
		}
		if b.Count < p {
			return cur, true
		}
	}
	d = hubapi.Histogram{Count: cur.Count - prev.Count, Sum: cur.Sum - prev.Sum}
	if !same {
		return d, false
	}
	d.Buckets = make([]hubapi.Bucket, len(cur.Buckets))
	for i, b := range cur.Buckets {
		d.Buckets[i] = hubapi.Bucket{UpperBound: b.UpperBound, Count: b.Count - prevAt[b.UpperBound]}
	}
	return d, false
}

// DeltaQuantile estimates the q-quantile (0 ≤ q ≤ 1) of the observations a
// cumulative histogram received between two scrapes: [DeltaHistogram], then
// linear interpolation inside the bucket holding rank q·n, as Prometheus'
// histogram_quantile (a rank in the +Inf bucket gives the highest finite
// bound). ok is false when there was no observation in between or the
// bounds changed. The result is in the histogram's unit (seconds for
// JupyterHub's).
func DeltaQuantile(q float64, prev, cur hubapi.Histogram) (v float64, ok bool) {
	d, _ := DeltaHistogram(prev, cur)
	if d.Count <= 0 || len(d.Buckets) == 0 {
		return 0, false
	}
	v = d.Quantile(q)
	return v, finite(v)
}

// DeltaMean is the mean of the observations between two scrapes, ΔSum/ΔCount
// (see [DeltaHistogram] for restarts); ok is false without observations.
func DeltaMean(prev, cur hubapi.Histogram) (v float64, ok bool) {
	d, _ := DeltaHistogram(prev, cur)
	if d.Count <= 0 {
		return 0, false
	}
	v = d.Sum / d.Count
	return v, finite(v)
}

// TopUser is the user with the largest R_u·S_u, the biggest share of J.
// share is R_u·S_u / J in [0, 1]; ok is false while J = 0 (nothing running).
// Ties go to the first in s.Users' order (shape.New sorts by J, then S, then name).
func TopUser(s shape.Shape) (name string, share float64, ok bool) {
	if s.J <= 0 {
		return "", 0, false
	}
	var best int64 = -1
	for _, u := range s.Users {
		if j := u.R * u.S; j > best {
			best, name = j, u.Name
		}
	}
	if best < 0 {
		return "", 0, false
	}
	return name, float64(best) / float64(s.J), true
}

// familyRequests is JupyterHub's request duration histogram.
const familyRequests = "jupyterhub_request_duration_seconds"

// metricsHandlerSuffix names JupyterHub's /hub/metrics handler in the
// handler label of jupyterhub_request_duration_seconds
// (jupyterhub.handlers.metrics.MetricsHandler).
const metricsHandlerSuffix = ".MetricsHandler"

// requestHistogram merges jupyterhub_request_duration_seconds over every
// label set except the /hub/metrics handler, so the collector's own scrapes
// do not make up the hub's traffic. Without the family it is empty.
func requestHistogram(m hubapi.HubMetrics) hubapi.Histogram {
	f, ok := m.Family(familyRequests)
	if !ok {
		return hubapi.Histogram{}
	}
	handlers := map[string]bool{}
	for _, s := range f.Samples {
		if h := s.Labels["handler"]; !strings.HasSuffix(h, metricsHandlerSuffix) {
			handlers[h] = true
		}
	}
	names := make([]string, 0, len(handlers))
	for h := range handlers {
		names = append(names, h)
	}
	sort.Strings(names)
	var out hubapi.Histogram
	for i, h := range names {
		hh := hubapi.HistogramOf(f, map[string]string{"handler": h})
		if i == 0 {
			out = hh
			continue
		}
		out = mergeHistograms(out, hh)
	}
	return out
}

// mergeHistograms adds b to a: counts and sums, and buckets where the
// bounds coincide (bounds only one side has are dropped).
func mergeHistograms(a, b hubapi.Histogram) hubapi.Histogram {
	out := hubapi.Histogram{Count: a.Count + b.Count, Sum: a.Sum + b.Sum}
	bAt := make(map[float64]float64, len(b.Buckets))
	for _, bk := range b.Buckets {
		bAt[bk.UpperBound] = bk.Count
	}
	for _, bk := range a.Buckets {
		if c, ok := bAt[bk.UpperBound]; ok {
			out.Buckets = append(out.Buckets, hubapi.Bucket{UpperBound: bk.UpperBound, Count: bk.Count + c})
		}
	}
	return out
}

// gaugeValue is the first sample of a family (NaN when absent).
func gaugeValue(m hubapi.HubMetrics, name string) float64 {
	f, ok := m.Family(name)
	if !ok || len(f.Samples) == 0 {
		return math.NaN()
	}
	return f.Samples[0].Value
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
