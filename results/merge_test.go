package results

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// instanceFile writes what one instance of a split run writes: its run
// info, n iterations (a counter), a login trend with the given values, an
// active-attendees gauge, hub telemetry when it reads the hub, and its
// status marker.
func instanceFile(t *testing.T, runID, id, seg string, telemetry bool, logins []float64, status string) *Results {
	t.Helper()
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Metric(Metric{Name: MetricRunInfo, Type: KindGauge}))
	if runID != "" {
		must(e.Point(MetricRunInfo, t0, 1, map[string]string{TagRunID: runID, TagInstance: id, TagSegment: seg,
			TagHubTelemetry: map[bool]string{true: "true", false: "false"}[telemetry]}))
	}
	must(e.Metric(Metric{Name: MetricIterations, Type: KindCounter}))
	must(e.Metric(Metric{Name: "login", Type: KindTrend, Contains: ContainsTime, Thresholds: []string{"p(95)<500"}}))
	must(e.Metric(Metric{Name: MetricActive, Type: KindGauge}))
	for i, v := range logins {
		at := t0.Add(time.Duration(i+1) * time.Second)
		must(e.Point("login", at, v, map[string]string{TagPhase: "login", "scenario": "w"}))
		must(e.Point(MetricIterations, at, 1, map[string]string{"scenario": "w"}))
		must(e.Point(MetricActive, at, float64(i+1), map[string]string{"scenario": "w"}))
	}
	if telemetry {
		must(e.Metric(Metric{Name: MetricHubRSS, Type: KindGauge, Contains: ContainsData}))
		must(e.Point(MetricHubRSS, t0.Add(time.Second), 1e8, map[string]string{TagSource: SourceProc}))
	}
	if status != "" {
		must(e.Point(MetricRunStatus, t0.Add(time.Minute), 1, map[string]string{TagStatus: status}))
	}
	r, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func total(r *Results, metric string) (sum float64, n int) {
	for _, s := range r.SeriesOf(metric) {
		for _, p := range s.Points {
			sum += p.Value
			n++
		}
	}
	return sum, n
}

// Three instances make one run: counters add up, the trend holds every raw
// point, gauges stay per instance, telemetry comes once, the status is the
// worst.
func TestMerge(t *testing.T) {
	parts := []Part{
		{"a.ndjson", instanceFile(t, "wk", "s0", "0:1/3", true, []float64{100, 200}, StatusCompleted)},
		{"b.ndjson", instanceFile(t, "wk", "s1-3", "1/3:2/3", false, []float64{300, 400, 450}, StatusCompleted)},
		// A second reader of the hub, by mistake: its telemetry is dropped.
		{"c.ndjson", instanceFile(t, "wk", "s2-3", "2/3:1", true, []float64{600}, StatusInterrupted)},
	}
	// hasTelemetry: c says hub_telemetry=true too; a comes first.
	m, insts, notes, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := total(m, MetricIterations); n != 6 {
		t.Errorf("iterations %v, want 6", n)
	}
	if _, n := total(m, "login"); n != 6 {
		t.Errorf("login points %d, want 6", n)
	}
	if ss := m.SeriesOf(MetricActive); len(ss) != 3 {
		t.Errorf("active attendees in %d series, want one per instance", len(ss))
	}
	if rss := m.SeriesOf(MetricHubRSS); len(rss) != 1 || rss[0].Tags[TagInstance] != "s0" {
		t.Errorf("hub RSS series %+v, want instance s0's only", rss)
	}
	if m.Status != StatusInterrupted || !m.CutShort() {
		t.Errorf("status %q, want interrupted", m.Status)
	}
	if m.Metrics["login"].Thresholds[0] != "p(95)<500" {
		t.Errorf("declarations lost: %+v", m.Metrics["login"])
	}
	if len(insts) != 3 || !insts[0].Telemetry || insts[2].Telemetry || insts[1].ID != "s1-3" {
		t.Errorf("instances %+v", insts)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "s2-3") {
		t.Errorf("notes %q, want one saying s2-3's telemetry was left out", notes)
	}
	// The parts are not modified.
	if _, n := total(parts[2].Results, MetricHubRSS); n != 1 || parts[0].Results.SeriesOf("login")[0].Tags[TagInstance] != "" {
		t.Error("Merge modified its input")
	}
}

// Files of different runs, one instance twice, and a file without a run id
// beside files with one are refused; a gap in the segments is a note.
func TestMergeRefuses(t *testing.T) {
	a := instanceFile(t, "wk1", "s0", "0:1/2", true, []float64{1}, StatusCompleted)
	b := instanceFile(t, "wk2", "s1-2", "1/2:1", false, []float64{1}, StatusCompleted)
	b1 := instanceFile(t, "wk1", "s1-2", "1/2:1", false, []float64{1}, StatusCompleted)
	bare := instanceFile(t, "", "", "", false, []float64{1}, StatusCompleted)
	for _, c := range []struct {
		name  string
		parts []Part
		want  string
	}{
		{"different runs", []Part{{"a", a}, {"b", b}}, "run wk1: a; run wk2: b"},
		{"twice", []Part{{"a", a}, {"a-copy", a}}, "instance s0 is in both a and a-copy"},
		{"no run id", []Part{{"a", a}, {"k6.json", bare}}, "k6.json record no run id"},
	} {
		_, _, _, err := Merge(c.parts)
		if !errors.Is(err, ErrDifferentRuns) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrDifferentRuns saying %q", c.name, err, c.want)
		}
	}
	_, _, notes, err := Merge([]Part{{"b1", b1}})
	if err != nil || len(notes) != 0 {
		t.Errorf("one part: %v %q", err, notes)
	}
	c := instanceFile(t, "wk1", "s3-4", "3/4:1", false, []float64{1}, StatusCompleted)
	_, _, notes, err = Merge([]Part{{"a", a}, {"c", c}})
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "1/2:3/4") {
		t.Errorf("gap: %v %q", err, notes)
	}
	_, _, notes, _ = Merge([]Part{{"a", a}, {"b1", b1}, {"c", c}})
	if len(notes) != 1 || !strings.Contains(notes[0], "overlaps") {
		t.Errorf("overlap: %q", notes)
	}
}

// Merge takes what files say about themselves: any run info, segments
// included, gives results or ErrDifferentRuns, never a panic or a hang.
func FuzzMerge(f *testing.F) {
	f.Add("wk", "s0", "0:1/2", "wk", "s1", "1/2:1")
	f.Add("wk", "a", "1e999999999:1", "wk", "b", "0:1/0")
	f.Add("", "", "", "x", "x", "x")
	f.Fuzz(func(t *testing.T, run1, id1, seg1, run2, id2, seg2 string) {
		a := instanceFile(t, "r", "a", "", false, []float64{1}, StatusCompleted)
		b := instanceFile(t, "r", "b", "", false, []float64{2}, StatusCompleted)
		// Replace the run info with the fuzzed one.
		for _, c := range []struct {
			r            *Results
			run, id, seg string
		}{{a, run1, id1, seg1}, {b, run2, id2, seg2}} {
			for _, s := range c.r.SeriesOf(MetricRunInfo) {
				s.Tags = map[string]string{TagRunID: c.run, TagInstance: c.id, TagSegment: c.seg}
			}
		}
		m, insts, _, err := Merge([]Part{{"a", a}, {"b", b}})
		if err != nil {
			if !errors.Is(err, ErrDifferentRuns) {
				t.Fatalf("error without ErrDifferentRuns: %v", err)
			}
			return
		}
		if len(insts) != 2 || m.PointCount < 2 {
			t.Fatalf("%d instances, %d points", len(insts), m.PointCount)
		}
	})
}
