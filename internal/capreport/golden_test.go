package capreport

import (
	"bytes"
	"encoding/json"
	"html"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/reports"
)

// placeholderJS stands in for ECharts so that golden output does not depend
// on the installed library.
var placeholderJS = []byte("/* echarts placeholder */")

const (
	inputGolden   = "testdata/input.golden.json"
	outlineGolden = "testdata/report.outline.golden"
)

// fixtureInputs are the fixed inputs of the golden tests: the synthetic
// 40-attendee run, the synthetic 5.3.0 calibration, a check of a small
// hub, a plan of 700 attendees and a 3 GiB limit.
func fixtureInputs(t testing.TB) Inputs {
	t.Helper()
	b, err := os.ReadFile("testdata/check.json")
	if err != nil {
		t.Fatal(err)
	}
	var c check.Report
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return Inputs{
		Title:           "Workshop capacity: data-science-101",
		ResultsPath:     runFixture,
		Calibration:     loadCalFixture(t),
		CalibrationPath: calFixture,
		Check:           &c,
		Planned:         700,
		LimitBytes:      3 << 30,
		Config:          "c.JupyterHub.spawner_class = 'fleet'\nc.JupyterHub.allow_named_servers = True",
		EChartsJS:       placeholderJS,
	}
}

// assembled is the part of reports.Input capreport decides (the results
// are the file's, unchanged).
type assembled struct {
	Status  string
	Verdict *reports.Verdict
	Model   *reports.CapacityModel
	Check   *reports.Check
	Env     *reports.Environment
	Level   string
	Reasons []string
	Notes   []string
}

// jsonSafe replaces infinities, which JSON cannot hold.
func jsonSafe(v float64) float64 {
	if math.IsInf(v, 0) {
		return -1
	}
	return v
}

// The assembled input for fixed inputs, compared with a reviewed golden
// file: verdict (thresholds evaluated on the results, the check's sign-off,
// the run's peak RSS against the limit, the 700 planned against the
// predicted threshold), model (measured restarts, curve, band, limit,
// threshold), check view and environment.
func TestAssembleGolden(t *testing.T) {
	r, err := Build(fixtureInputs(t))
	if err != nil {
		t.Fatal(err)
	}
	in := r.Input
	a := assembled{Status: in.Results.Status, Verdict: in.Verdict, Model: in.Model, Check: in.Check, Env: in.Env,
		Level: r.Assessment.Level.String(), Reasons: r.Assessment.Reasons, Notes: r.Notes}
	v := *a.Verdict
	v.PredictedThreshold = jsonSafe(v.PredictedThreshold)
	a.Verdict = &v
	got, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, inputGolden, append(got, '\n'))

	// What a partner relies on, independently of the golden file.
	if in.Verdict.PlannedSize != 700 || in.Verdict.SizeUnit != "attendees" {
		t.Errorf("planned = %v %s, want 700 attendees", in.Verdict.PlannedSize, in.Verdict.SizeUnit)
	}
	if th := in.Verdict.PredictedThreshold; !(th > 700) || math.IsInf(th, 0) {
		t.Errorf("predicted threshold %v: want finite and above the plan for a 3 GiB limit", th)
	}
	if in.Model == nil || len(in.Model.Measured) != len(loadCalFixture(t).Samples) || len(in.Model.Fitted) < 50 {
		t.Fatalf("model view incomplete: %+v", in.Model)
	}
	if in.Model.ThresholdSize != in.Verdict.PredictedThreshold || in.Model.LimitBytes != 3<<30 {
		t.Errorf("model threshold %v / limit %v disagree with the verdict", in.Model.ThresholdSize, in.Model.LimitBytes)
	}
}

// The rendered page's structure for the same inputs: headings, tables,
// notices and each chart's series, compared with a reviewed golden outline
// (the page's CSS and scripts are reports' and are left out).
func TestReportOutlineGolden(t *testing.T) {
	r, err := Build(fixtureInputs(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Render(&buf); err != nil {
		t.Fatal(err)
	}
	out := outline(t, buf.String())
	testkit.Golden(t, outlineGolden, []byte(out))
	for _, want := range []string{"chart chart-timeline", "chart chart-model", "planned workshop size | 700 attendees",
		"predicted OOM threshold", "hub memory limit | 3.00 GiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("outline lacks %q", want)
		}
	}
}

var (
	scriptOrStyle = regexp.MustCompile(`(?is)<(script|style)\b[^>]*>.*?</(script|style)>`)
	chartCall     = regexp.MustCompile(`(?s)<script>hubcapChart\("([^"]+)", (.*?)\);</script>`)
	blockTag      = regexp.MustCompile(`(?i)</?(h[1-6]|p|li|ul|ol|tr|table|section|header|footer|div|details|summary|pre|nav|caption|thead|tbody)\b[^>]*>`)
	cellTag       = regexp.MustCompile(`(?i)</t[dh]>\s*<t[dh]\b[^>]*>`)
	anyTag        = regexp.MustCompile(`<[^>]*>`)
	spaces        = regexp.MustCompile(`[ \t]+`)
)

// outline reduces a report to its structure: one line per block of text
// (table cells joined by " | "), then one line per chart with its series
// (type, name, number of data points).
func outline(t *testing.T, page string) string {
	t.Helper()
	var charts []string
	for _, m := range chartCall.FindAllStringSubmatch(page, -1) {
		var opt struct {
			Series []struct {
				Type, Name string
				Data       []json.RawMessage
			}
		}
		if err := json.Unmarshal([]byte(m[2]), &opt); err != nil {
			t.Fatalf("chart %s: option is not JSON: %v", m[1], err)
		}
		line := "chart " + m[1] + ":"
		for _, s := range opt.Series {
			line += " [" + s.Type + " " + s.Name + " " + itoa(len(s.Data)) + "]"
		}
		charts = append(charts, line)
	}
	body := scriptOrStyle.ReplaceAllString(page, "")
	body = cellTag.ReplaceAllString(body, " | ")
	body = blockTag.ReplaceAllString(body, "\n")
	body = anyTag.ReplaceAllString(body, "")
	body = html.UnescapeString(body)
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(spaces.ReplaceAllString(l, " "))
		if l != "" {
			lines = append(lines, l)
		}
	}
	sort.Strings(charts)
	return strings.Join(append(lines, charts...), "\n") + "\n"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
