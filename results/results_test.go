package results

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What the encoder writes, the reader reads back: declarations with their
// thresholds, points with their tags, in k6's line layout.
func TestEncoderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	t0 := time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)
	if err := enc.Metric(Metric{Name: "spawn", Type: KindTrend, Contains: ContainsTime, Thresholds: []string{"p(95)<30000"}}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Point("spawn", t0, 4200.5, map[string]string{TagPhase: "spawn", "url": "/hub/api?a=<b>&c"}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Point("undeclared", t0.Add(time.Second), 1, nil); err != nil {
		t.Fatal(err)
	}
	wantFirst := `{"type":"Metric","data":{"name":"spawn","type":"trend","contains":"time","thresholds":["p(95)<30000"],"submetrics":null},"metric":"spawn"}`
	if first, _, _ := bytes.Cut(buf.Bytes(), []byte("\n")); string(first) != wantFirst {
		t.Errorf("Metric line\n got %s\nwant %s", first, wantFirst)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"url":"/hub/api?a=<b>&c"`)) || !bytes.Contains(buf.Bytes(), []byte(`"tags":{}`)) {
		t.Errorf("tags not written as is, or nil tags not {}:\n%s", buf.Bytes())
	}
	res, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Metrics["spawn"]
	if m.Type != KindTrend || m.Contains != ContainsTime || len(m.Thresholds) != 1 || m.Thresholds[0] != "p(95)<30000" {
		t.Errorf("declaration read back as %+v", m)
	}
	ss := res.SeriesOf("spawn")
	if len(ss) != 1 || ss[0].Tags[TagPhase] != "spawn" || ss[0].Points[0].Value != 4200.5 || !ss[0].Points[0].Time.Equal(t0) {
		t.Errorf("series read back as %+v", ss)
	}
	if res.PointCount != 2 || res.Status != "" || !res.CutShort() {
		t.Errorf("PointCount %d, status %q, CutShort %v", res.PointCount, res.Status, res.CutShort())
	}
}

// The marker appended to a finished file, plain or gzip-compressed, is the
// run's status when read back.
func TestAppendStatus(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)
	for _, name := range []string{"r.ndjson", "r.ndjson.gz"} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := AppendStatus(path, StatusHubDied, t0); err != nil {
			t.Fatal(err)
		}
		if err := AppendStatus(path, StatusCompleted, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		res, err := ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Status != StatusCompleted || !res.StatusTime.Equal(t0.Add(time.Minute)) || res.Metrics[MetricRunStatus].Type != KindGauge {
			t.Errorf("%s: status %q at %v, metric %+v", name, res.Status, res.StatusTime, res.Metrics[MetricRunStatus])
		}
	}
	if err := AppendStatus(filepath.Join(t.TempDir(), "missing"), StatusCompleted, t0); err == nil {
		t.Error("appending to a missing file succeeded")
	}
}

// The results lines of a pod's log survive the runner's messages between
// them; what remains reads as the stream.
func TestFromLogs(t *testing.T) {
	var stream bytes.Buffer
	e := NewEncoder(&stream)
	t0 := time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)
	_ = e.Metric(Metric{Name: "m", Type: KindCounter})
	_ = e.Point("m", t0, 1, nil)
	_ = WriteStatus(&stream, StatusCompleted, t0.Add(time.Second))
	lines := strings.SplitAfter(stream.String(), "\n")
	log := "      instance: s0 of run x\n" + lines[0] + "hubcap run: warning: {not json}\n" + lines[1] + "\n" + strings.Join(lines[2:], "") +
		"     checks.........: 100.00% ✓ 3\n"
	var out bytes.Buffer
	kept, skipped, err := FromLogs(strings.NewReader(log), &out)
	if err != nil || kept != 4 || skipped != 3 {
		t.Fatalf("kept %d skipped %d err %v", kept, skipped, err)
	}
	res, err := Read(&out)
	if err != nil || res.Status != StatusCompleted || res.PointCount != 2 {
		t.Errorf("read back: %v, status %q, %d points", err, res.Status, res.PointCount)
	}
}

// FromLogs reads any log: it keeps exactly the lines that start with {"
// (after blanks), unchanged, and counts the others.
func FuzzFromLogs(f *testing.F) {
	f.Add([]byte("x\n{\"type\":\"Point\"}\n  {\"a\":1}\r\nnot\n{\"unterminated"))
	f.Add([]byte(strings.Repeat("a", MaxLineBytes+10) + "\n{\"k\":1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		kept, _, err := FromLogs(bytes.NewReader(b), &out)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.SplitAfter(out.String(), "\n") {
			if l == "" {
				continue
			}
			n++
			if !strings.HasPrefix(strings.TrimSpace(l), `{"`) || !bytes.Contains(b, []byte(l)) {
				t.Fatalf("kept %q", l)
			}
		}
		if n != kept {
			t.Fatalf("kept %d, wrote %d lines", kept, n)
		}
	})
}

// pointViaJSON is Point's line as encoding/json writes it.
func pointViaJSON(t testing.TB, metric string, at time.Time, value float64, tags map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var l pointLine
	l.Metric, l.Type = metric, TypePoint
	l.Data.Time, l.Data.Value, l.Data.Tags = at, value, tags
	if l.Data.Tags == nil {
		l.Data.Tags = map[string]string{}
	}
	if err := enc.Encode(&l); err != nil {
		return "error"
	}
	return buf.String()
}

func pointViaEncoder(metric string, at time.Time, value float64, tags map[string]string) string {
	var buf bytes.Buffer
	if err := NewEncoder(&buf).Point(metric, at, value, tags); err != nil {
		return "error"
	}
	return buf.String()
}

// TestPointMatchesEncodingJSON: Point's direct encoding writes the lines
// encoding/json writes (readers and golden files rely on the bytes).
func TestPointMatchesEncodingJSON(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	cases := []struct {
		name   string
		metric string
		at     time.Time
		value  float64
		tags   map[string]string
	}{
		{"typical", "jupyterhub_execute_duration", t0, 12.345678, map[string]string{"scenario": "peer", "group": "", "result": "ok", "phase": "execute"}},
		{"no tags", "vus", t0, 3, nil},
		{"zone and whole seconds", "x", time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("", 3600)), 0, map[string]string{}},
		{"tiny value", "x", t0, 1.5e-9, nil},
		{"huge value", "x", t0, -2e21, nil},
		{"negative zero", "x", t0, math.Copysign(0, -1), nil},
		{"html characters", "x", t0, 1, map[string]string{"url": "/hub/api?a=<b>&c"}},
		{"escapes", "x\"y", t0, 1, map[string]string{"k": "a\\b\n\u2028é\x7f"}},
		{"year 10000", "x", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), 1, nil},
		{"NaN", "x", t0, math.NaN(), nil},
	}
	for _, c := range cases {
		if got, want := pointViaEncoder(c.metric, c.at, c.value, c.tags), pointViaJSON(t, c.metric, c.at, c.value, c.tags); got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, want)
		}
	}
}

func FuzzPointMatchesEncodingJSON(f *testing.F) {
	f.Add("m", int64(1772359200123456789), 1.5, "k", "v", "k2", "v2")
	f.Add("a\"b", int64(0), 1e-7, "<", "&", "\x00", "é")
	f.Fuzz(func(t *testing.T, metric string, ns int64, value float64, k1, v1, k2, v2 string) {
		at := time.Unix(0, ns).UTC()
		tags := map[string]string{k1: v1, k2: v2}
		if got, want := pointViaEncoder(metric, at, value, tags), pointViaJSON(t, metric, at, value, tags); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}
