package reports

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/results"
)

const (
	metricLine = `{"type":"Metric","data":{"name":"jupyterhub_spawn_duration","type":"trend","contains":"time","thresholds":["p(95)<30000"],"submetrics":null},"metric":"jupyterhub_spawn_duration"}`
	pointA     = `{"type":"Point","data":{"time":"2025-03-14T09:00:01.5+01:00","value":4200.5,"tags":{"phase":"spawn","scenario":"w"}},"metric":"jupyterhub_spawn_duration"}`
	pointB     = `{"type":"Point","data":{"time":"2025-03-14T08:00:00Z","value":3100,"tags":{"phase":"spawn","scenario":"w"}},"metric":"jupyterhub_spawn_duration"}`
	statusLine = `{"type":"Point","data":{"time":"2025-03-14T08:10:00Z","value":1,"tags":{"status":"completed"}},"metric":"hubcap_run_status"}`
)

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestReadNDJSON(t *testing.T) {
	res, err := ReadNDJSON(strings.NewReader(lines(metricLine, pointA, pointB, statusLine)))
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Metrics["jupyterhub_spawn_duration"]; m.Type != "trend" || m.Contains != "time" {
		t.Errorf("metric = %+v", m)
	}
	ss := res.SeriesOf("jupyterhub_spawn_duration")
	if len(ss) != 1 || len(ss[0].Points) != 2 {
		t.Fatalf("series = %+v", ss)
	}
	// Points are sorted by time whatever the zone they were written in:
	// 09:00:01.5+01:00 is 08:00:01.5Z, after 08:00:00Z.
	if p := ss[0].Points; p[0].Value != 3100 || p[1].Value != 4200.5 {
		t.Errorf("points not in time order: %+v", p)
	}
	if res.Status != StatusCompleted || res.TruncatedTail || res.CutShort() {
		t.Errorf("Status=%q TruncatedTail=%v CutShort=%v", res.Status, res.TruncatedTail, res.CutShort())
	}
	if want := 10 * time.Minute; res.Duration() != want {
		t.Errorf("Duration = %v, want %v", res.Duration(), want)
	}
	if res.Lines != 4 || res.PointCount != 3 {
		t.Errorf("Lines=%d PointCount=%d", res.Lines, res.PointCount)
	}
}

func TestReadNDJSONCutShortAndDamage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        string
		wantErr   error
		truncated bool
		status    string
	}{
		// killed mid-write: the last line is a prefix of a line
		{name: "partial last line", in: lines(metricLine, pointA) + pointB[:40], truncated: true},
		// a run cut before its marker, every line whole: cut short, not damaged
		{name: "no status marker", in: lines(metricLine, pointA)},
		// the last line has its newline but is garbage: treated as the tail
		{name: "bad last line with newline", in: lines(metricLine, pointA, `{"type":"Poi`), truncated: true},
		// no trailing newline on a whole line: accepted as is
		{name: "no final newline", in: lines(metricLine, pointA) + statusLine, status: StatusCompleted},
		// a damaged line followed by more data is not a cut: refuse
		{name: "bad middle line", in: lines(metricLine, `{"type":"Point","data":{`, pointA), wantErr: ErrMalformedLine},
		{name: "point without time", in: lines(metricLine, `{"type":"Point","data":{"value":1},"metric":"x"}`, pointA), wantErr: ErrMalformedLine},
		{name: "point without value", in: lines(`{"type":"Point","data":{"time":"2025-03-14T08:00:00Z"},"metric":"x"}`, pointA), wantErr: ErrMalformedLine},
		{name: "empty", in: "", wantErr: ErrNotNDJSON},
		{name: "blank lines only", in: "\n\n  \n", wantErr: ErrNotNDJSON},
		// the k6 end-of-test summary is JSON but not the NDJSON stream
		{name: "summary json", in: `{"metrics":{"vus":{"type":"gauge"}}}`, wantErr: ErrNotNDJSON},
		{name: "text", in: "hello\n", wantErr: ErrNotNDJSON},
		// unknown line types are skipped
		{name: "unknown type", in: lines(`{"type":"Annotation","data":{}}`, pointA, statusLine), status: StatusCompleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ReadNDJSON(strings.NewReader(tc.in))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.TruncatedTail != tc.truncated || res.Status != tc.status {
				t.Errorf("TruncatedTail=%v Status=%q, want %v %q", res.TruncatedTail, res.Status, tc.truncated, tc.status)
			}
			if tc.status == "" && !res.CutShort() {
				t.Error("a run without a status marker must count as cut short")
			}
		})
	}
}

// The last status marker wins; statuses other than completed are cut short.
func TestReadNDJSONStatus(t *testing.T) {
	mk := func(ts, st string) string {
		return `{"type":"Point","data":{"time":"` + ts + `","value":1,"tags":{"status":"` + st + `"}},"metric":"hubcap_run_status"}`
	}
	for _, tc := range []struct {
		in       string
		status   string
		cutShort bool
	}{
		{lines(pointA, mk("2025-03-14T08:10:00Z", "hub_died")), StatusHubDied, true},
		{lines(pointA, mk("2025-03-14T08:10:00Z", "interrupted")), StatusInterrupted, true},
		{lines(pointA, mk("2025-03-14T08:10:00Z", "aborted")), StatusAborted, true},
		{lines(pointA, mk("2025-03-14T08:11:00Z", "completed"), mk("2025-03-14T08:10:00Z", "interrupted")), StatusCompleted, false},
	} {
		res, err := ReadNDJSON(strings.NewReader(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != tc.status || res.CutShort() != tc.cutShort {
			t.Errorf("Status=%q CutShort=%v, want %q %v", res.Status, res.CutShort(), tc.status, tc.cutShort)
		}
	}
}

// Tags keep their values whatever their JSON type; null tags are dropped.
func TestReadNDJSONTagTypes(t *testing.T) {
	in := `{"type":"Point","data":{"time":"2025-03-14T08:00:00Z","value":1,"tags":{"phase":"spawn","n":3,"ok":true,"nil":null}},"metric":"m"}` + "\n"
	res, err := ReadNDJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	tags := res.Series[0].Tags
	if tags["phase"] != "spawn" || tags["n"] != "3" || tags["ok"] != "true" {
		t.Errorf("tags = %v", tags)
	}
	if _, ok := tags["nil"]; ok {
		t.Error("null tag kept")
	}
	if res.MetricType("m") != "" {
		t.Error("undeclared metric has a type")
	}
}

// k6 writes `--out json=file.gz` compressed; a compressed stream cut short
// is a truncated tail too.
func TestReadNDJSONGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(lines(metricLine, pointA, pointB, statusLine)))
	_ = zw.Close()
	res, err := ReadNDJSON(bytes.NewReader(buf.Bytes()))
	if err != nil || res.Status != StatusCompleted || res.PointCount != 3 {
		t.Fatalf("gzip: res=%+v err=%v", res, err)
	}
	var big bytes.Buffer
	zw = gzip.NewWriter(&big)
	full, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = zw.Write(full)
	_ = zw.Close()
	cut := big.Bytes()[:big.Len()/2]
	res, err = ReadNDJSON(bytes.NewReader(cut))
	if err != nil {
		t.Fatalf("cut gzip: %v", err)
	}
	if res.Status != "" || res.PointCount == 0 {
		t.Errorf("cut gzip: Status=%q PointCount=%d", res.Status, res.PointCount)
	}
}

// A line longer than results.MaxLineBytes is damage in the middle, a tail at the end.
func TestReadNDJSONLongLine(t *testing.T) {
	long := `{"type":"Point","data":{"time":"2025-03-14T08:00:00Z","value":1,"tags":{"x":"` + strings.Repeat("a", results.MaxLineBytes) + `"}},"metric":"m"}`
	if _, err := ReadNDJSON(strings.NewReader(lines(pointA, long, pointB))); !errors.Is(err, ErrMalformedLine) {
		t.Errorf("long middle line: err = %v, want ErrMalformedLine", err)
	}
	res, err := ReadNDJSON(strings.NewReader(lines(pointA, long)))
	if err != nil || !res.TruncatedTail {
		t.Errorf("long last line: err=%v TruncatedTail=%v", err, res != nil && res.TruncatedTail)
	}
	// Long but within the limit: kept.
	ok := `{"type":"Point","data":{"time":"2025-03-14T08:00:00Z","value":1,"tags":{"x":"` + strings.Repeat("a", 200_000) + `"}},"metric":"m"}`
	res, err = ReadNDJSON(strings.NewReader(lines(pointA, ok, pointB)))
	if err != nil || res.PointCount != 3 {
		t.Errorf("200 kB line: err=%v", err)
	}
}

// FuzzReadNDJSON: any input either fails with a sentinel or yields results
// that are internally consistent and render without error.
func FuzzReadNDJSON(f *testing.F) {
	full, err := os.ReadFile(fixturePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(lines(metricLine, pointA, pointB, statusLine)))
	f.Add([]byte(lines(metricLine, pointA) + pointB[:30]))
	f.Add(full[:4000])
	f.Add([]byte(`{"type":"Point","data":{"time":"2025-03-14T08:00:00Z","value":1e308,"tags":{"phase":"spawn"}},"metric":"m"}` + "\n" +
		`{"type":"Point","data":{"time":"2025-03-14T08:00:01Z","value":1e308,"tags":{"phase":"spawn","status":"500"}},"metric":"e"}` + "\n" +
		`{"type":"Point","data":{"time":"2025-03-14T08:00:02Z","value":-1e308,"tags":{}},"metric":"hub_cpu_seconds"}`))
	f.Add([]byte(`{"type":"Point","data":{"time":"0001-01-01T00:00:00Z","value":1,"tags":{}},"metric":"hub_rss_bytes"}` + "\n" +
		`{"type":"Point","data":{"time":"9999-12-31T23:59:59Z","value":2,"tags":{}},"metric":"hub_rss_bytes"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ReadNDJSON(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrNotNDJSON) && !errors.Is(err, ErrMalformedLine) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		n := 0
		for _, s := range res.Series {
			for i, p := range s.Points {
				if p.Time.Before(res.Start) || p.Time.After(res.End) {
					t.Fatalf("point %v outside [%v, %v]", p.Time, res.Start, res.End)
				}
				if i > 0 && p.Time.Before(s.Points[i-1].Time) {
					t.Fatal("series not in time order")
				}
			}
			n += len(s.Points)
		}
		if n != res.PointCount {
			t.Fatalf("PointCount %d, series hold %d", res.PointCount, n)
		}
		if err := Render(&bytes.Buffer{}, Input{Results: res, EChartsJS: placeholderJS}); err != nil {
			t.Fatalf("Render: %v", err)
		}
	})
}

// BenchmarkReadNDJSON reads the fixture (~1000 lines); b.SetBytes gives MB/s.
func BenchmarkReadNDJSON(b *testing.B) {
	full, err := os.ReadFile(fixturePath)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		if _, err := ReadNDJSON(bytes.NewReader(full)); err != nil {
			b.Fatal(err)
		}
	}
}
