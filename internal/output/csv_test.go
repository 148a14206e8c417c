package output

import (
	"compress/gzip"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/results"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// TestCSVRow: k6's columns, six decimals, system tags in their columns and
// the rest as sorted name=value pairs.
func TestCSVRow(t *testing.T) {
	at := time.Unix(1700000000, 250e6)
	s := samples.Sample{Metric: "http_reqs", Time: at, Value: 1, Tags: map[string]string{
		"method": "GET", "status": "200", "url": "http://x/", "name": "http://x/", "scenario": "default",
		"expected_response": "true", "proto": "HTTP/1.1", "group": "", "zz": "1", "team": "a"}}
	got := strings.Join(CSVRow(s, ""), ",")
	want := "http_reqs,1700000000,1.000000,,,,true,,GET,http://x/,HTTP/1.1,default,,200,,,http://x/,team=a&zz=1,"
	if got != want {
		t.Errorf("row\n got %s\nwant %s", got, want)
	}
	for format, ts := range map[string]string{"unix_milli": "1700000000250", "rfc3339": at.Format(time.RFC3339)} {
		if got := CSVRow(s, format)[1]; got != ts {
			t.Errorf("%s: %s, want %s", format, got, ts)
		}
	}
}

// TestCSVFile: a header row, one row per sample, gzip for .gz.
func TestCSVFile(t *testing.T) {
	for _, name := range []string{"out.csv", "out.csv.gz"} {
		path := filepath.Join(t.TempDir(), name)
		c, err := OpenCSV(path, CSVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			c.AddSample(samples.Sample{Metric: "iterations", Time: time.Now(), Value: 1, Tags: map[string]string{"scenario": "s"}})
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(path)
		var r *csv.Reader
		if strings.HasSuffix(name, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			r = csv.NewReader(gz)
		} else {
			r = csv.NewReader(f)
		}
		rows, err := r.ReadAll()
		f.Close()
		if err != nil || len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(CSVColumns, ",") || rows[3][11] != "s" {
			t.Errorf("%s: %v %q", name, err, rows)
		}
	}
}

func TestParseCSVArg(t *testing.T) {
	f, o, err := ParseCSVArg("file_name=r.csv,time_format=rfc3339,save_interval=2s")
	if err != nil || f != "r.csv" || o.TimeFormat != "rfc3339" || o.SaveInterval != 2*time.Second {
		t.Errorf("%q %+v %v", f, o, err)
	}
	if f, _, err := ParseCSVArg("plain.csv"); err != nil || f != "plain.csv" {
		t.Errorf("%q %v", f, err)
	}
	if _, _, err := ParseCSVArg("file_name=r.csv,time_format=weekday"); err == nil {
		t.Error("a bad time format was accepted")
	}
}

// FuzzParseCSVArg: the --out csv argument never panics the parser, and an
// accepted time format is one CSVRow knows.
func FuzzParseCSVArg(f *testing.F) {
	f.Add("file_name=r.csv,time_format=rfc3339,save_interval=2s")
	f.Add("r.csv")
	f.Add("file_name=,time_format=")
	f.Fuzz(func(t *testing.T, arg string) {
		_, o, err := ParseCSVArg(arg)
		if err == nil && o.validate() != nil {
			t.Fatalf("%q accepted with an invalid time format %q", arg, o.TimeFormat)
		}
	})
}

// TestSummaryLeavesRunInfoOut: the instance's hubcap_run_info point is
// metadata, not a metric a k6 user expects in the summary.
func TestSummaryLeavesRunInfoOut(t *testing.T) {
	reg := metrics.NewRegistry()
	if err := reg.Register(samples.Metric{Name: results.MetricRunInfo, Kind: samples.Gauge}); err != nil {
		t.Fatal(err)
	}
	e, _ := metrics.NewEngine(reg, nil)
	e.AddSample(samples.Sample{Metric: results.MetricRunInfo, Time: time.Now(), Value: 1})
	e.AddSample(samples.Sample{Metric: metrics.Iterations, Time: time.Now(), Value: 1})
	out := TextSummary(e.Snapshot(time.Second, nil), SummaryOptions{})
	if strings.Contains(out, results.MetricRunInfo) || !strings.Contains(out, "iterations") {
		t.Errorf("summary:\n%s", out)
	}
}
