package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/internal/testenv"

	"github.com/hubcap-dev/hubcap/internal/testkit"
	"github.com/hubcap-dev/hubcap/shape"
)

// placeholderJS stands in for echarts.min.js where the test does not run the
// page, keeping the golden file small and independent of the installed copy.
var placeholderJS = []byte("/* echarts.min.js placeholder */")

const goldenPath = "testdata/report.golden.html"

func readFixture(t testing.TB) *Results {
	t.Helper()
	f, err := os.Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ReadNDJSON(f)
	if err != nil {
		t.Fatalf("ReadNDJSON(%s): %v", fixturePath, err)
	}
	return res
}

// fixtureInput is a complete report input: the fixture run plus a model,
// verdict, DB shape and environment consistent with it. The model is
// peak = 150 MiB + 0.18 MiB·n² with a ±10 % band and a 3 GiB limit, so the
// upper band meets the limit at n ≈ 121 and the plan of 90 has ~42 % headroom.
func fixtureInput(t testing.TB) Input {
	const mib = 1 << 20
	peak := func(n float64) float64 { return (150 + 0.18*n*n) * mib }
	m := &CapacityModel{
		SizeLabel:     "workshop size (attendees)",
		LimitBytes:    3 << 30,
		ThresholdSize: 121,
		Terms:         []string{"J = Σ R_u·S_u", "U"},
		Formula:       "peak = 150 MiB + 0.18 MiB·n²",
	}
	for _, n := range []float64{10, 20, 40, 60, 80} {
		m.Measured = append(m.Measured, ModelPoint{Size: n, Bytes: peak(n) * (1 + 0.03*float64(int(n)%3-1)), Label: "n users × 1 server"})
	}
	for n := 0.0; n <= 140; n += 10 {
		m.Fitted = append(m.Fitted, ModelPoint{Size: n, Bytes: peak(n)})
		m.Band = append(m.Band, BandPoint{Size: n, Lower: 0.9 * peak(n), Upper: 1.1 * peak(n)})
	}
	return Input{
		Title:   "Workshop capacity: data-science-101",
		Results: readFixture(t),
		Verdict: &Verdict{
			Thresholds: []Threshold{
				{Metric: "jupyterhub_spawn_duration{phase:spawn}", Expr: "p(95)<30000", OK: true, Observed: "8.4 s"},
				{Metric: "jupyterhub_errors", Expr: "count<5", OK: true, Observed: "3"},
				{Metric: "checks", Expr: "rate>0.9", OK: true, Observed: "96.4%"},
			},
			PlannedSize:        90,
			PredictedThreshold: 121,
			MemoryLimitBytes:   3 << 30,
			PredictedPeakBytes: 1.1 * peak(90),
		},
		Model: m,
		Wave:  fixtureWave(),
		Check: &Check{
			Shape: shape.Shape{U: 30, S: 46, R: 28, J: 52, Users: []shape.User{
				{Name: "instructor", S: 9, R: 2},
				{Name: "attendee-07", S: 3, R: 1},
				{Name: "attendee-12", S: 2, R: 1},
			}},
			Histogram: []ShapeBucket{{1, 24}, {2, 4}, {3, 1}, {9, 1}},
			Source:    "sqlite:///srv/jupyterhub/jupyterhub.sqlite",
		},
		Env: &Environment{
			Release: "5.3.0",
			Config:  "c.JupyterHub.cleanup_servers = False\nc.JupyterHub.allow_named_servers = True\nc.Spawner.mem_limit = '2G'",
			Params:  map[string]string{"attendees": "30", "ramp": "5m", "hub_url": "http://127.0.0.1:8000", "api_token": "must-not-appear"},
		},
		EChartsJS: placeholderJS,
	}
}

func renderString(t testing.TB, in Input, ro renderOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := render(&buf, in, ro); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

// The whole report for fixed inputs, compared with a reviewed golden file.
func TestRenderGolden(t *testing.T) {
	got := renderString(t, fixtureInput(t), renderOptions{})
	testkit.Golden(t, goldenPath, got)
}

// What a partner reads first: the banner, the sections and the numbers.
func TestRenderContent(t *testing.T) {
	html := renderString(t, fixtureInput(t), renderOptions{})
	for _, want := range []string{
		`<span class="level">PASS</span>`,
		`id="thresholds"`, `<td class="mark ok">✓</td>`,
		"planned workshop size", "90 attendees", "predicted OOM threshold", "121 attendees", "hub memory limit", "3.00 GiB",
		`id="chart-timeline"`, `id="chart-latency"`, `id="chart-errors"`, `id="chart-model"`, `id="chart-dbshape"`,
		`<td>spawn</td><td>500</td><td class="num">2</td>`,
		`<td>execute</td><td>timeout</td><td class="num">1</td>`,
		"429 throttled (retried)",
		"J = Σ R_u·S_u", "instructor", "5.3.0", "c.JupyterHub.cleanup_servers = False",
		"Run of 12m01s from 2025-03-14 09:00:00 UTC, status: completed",
		"The hub memory limit, 3.00 GiB, is more than twice the peak RSS and is not drawn.",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The fixture's phases (a journey without contents calls or logout).
	for _, phase := range []string{"login", "spawn", "oauth", "lab_load", "start_kernel",
		"connect_kernel", "execute", "shutdown_kernel", "stop_server"} {
		if !strings.Contains(html, "<tr><td>"+phase+"</td><td><code>jupyterhub_"+phase+"_duration</code>") {
			t.Errorf("latency table lacks phase %s", phase)
		}
	}
	if strings.Contains(html, "must-not-appear") {
		t.Error("a parameter named like a token was printed")
	}
	if strings.Contains(html, "cut-short") {
		t.Error("a completed run is reported as cut short")
	}
}

// A run killed mid-write: the last line is partial and there is no status
// marker. The report still renders, warns, and says the run was cut short.
func TestRenderTruncatedRunSaysCutShort(t *testing.T) {
	full, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	// Cut 60 % through the file, in the middle of a line.
	cut := len(full) * 6 / 10
	for full[cut-1] == '\n' {
		cut++
	}
	res, err := ReadNDJSON(bytes.NewReader(full[:cut]))
	if err != nil {
		t.Fatalf("ReadNDJSON(truncated): %v", err)
	}
	if !res.TruncatedTail || res.Status != "" {
		t.Fatalf("TruncatedTail=%v Status=%q, want true and empty", res.TruncatedTail, res.Status)
	}
	in := fixtureInput(t)
	in.Results = res
	html := renderString(t, in, renderOptions{})
	for _, want := range []string{`<span class="level">WARN</span>`, `id="cut-short"`, "Run cut short.",
		"no final hubcap_run_status marker", "last line of the results was incomplete", "status: no status marker",
		"(there is no final hubcap_run_status marker; the last line was incomplete)"} {
		if !strings.Contains(html, want) {
			t.Errorf("truncated report lacks %q", want)
		}
	}
}

// The report must work offline: no element loads anything by URL (only
// in-page "#anchors" are linked) and the CSP forbids network access. Text may
// mention URLs (the hub's address in the parameters); references may not.
func TestRenderHasNoExternalReferences(t *testing.T) {
	scriptBody := regexp.MustCompile(`(?s)(<script\b[^>]*>).*?</script>`)
	tag := regexp.MustCompile(`<[a-zA-Z][^>]*>`)
	ref := regexp.MustCompile(`(?i)\s(src|href|action|data|poster|srcset|background|formaction)\s*=\s*["']?([^"'\s>]*)`)
	check := func(name, html string) {
		t.Helper()
		for _, m := range scriptBody.FindAllStringSubmatch(html, -1) {
			if m[1] != "<script>" {
				t.Errorf("%s: script element with attributes: %q", name, m[1])
			}
		}
		for _, el := range tag.FindAllString(scriptBody.ReplaceAllString(html, "$1</script>"), -1) {
			for _, m := range ref.FindAllStringSubmatch(el, -1) {
				if !strings.HasPrefix(m[2], "#") {
					t.Errorf("%s: element %q references %q", name, el, m[2])
				}
			}
		}
		if !strings.Contains(html, `content="default-src 'none';`) {
			t.Errorf("%s: no Content-Security-Policy forbidding network access", name)
		}
	}
	check("placeholder", renderString(t, fixtureInput(t), renderOptions{}))

	path, err := LocateECharts()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("the real echarts (%v); the placeholder was checked", err), testenv.SetupHint)
	}
	js, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in := fixtureInput(t)
	in.EChartsJS = nil // found by LocateECharts
	html := renderString(t, in, renderOptions{})
	lib := string(scriptSafe(js))
	if !strings.Contains(html, "<script>"+lib+"</script>") {
		t.Fatal("the installed ECharts library is not inlined verbatim")
	}
	// Script bodies (the library mentions tags and URLs in strings) are not
	// markup; the browser test checks that nothing is fetched at run time.
	check("installed echarts", html)
}

// Tag values come from outside: one that closes the script element must not
// escape its JSON string.
func TestRenderEscapesHostileTags(t *testing.T) {
	const evil = `</script><script>alert(1)</script>`
	stream := `{"type":"Metric","data":{"name":"jupyterhub_x","type":"trend","contains":"time"},"metric":"jupyterhub_x"}
{"type":"Point","data":{"time":"2025-01-01T00:00:00Z","value":12,"tags":{"phase":"` + strings.ReplaceAll(evil, `"`, `\"`) + `"}},"metric":"jupyterhub_x"}
{"type":"Point","data":{"time":"2025-01-01T00:00:09Z","value":1,"tags":{"phase":"x","status":"` + strings.ReplaceAll(evil, `"`, `\"`) + `"}},"metric":"jupyterhub_errors"}
`
	res, err := ReadNDJSON(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	html := renderString(t, Input{Results: res, EChartsJS: placeholderJS}, renderOptions{})
	if strings.Contains(html, "<script>alert(1)") {
		t.Fatal("a tag value injected a script element")
	}
	if strings.Count(html, "<script") != strings.Count(html, "</script>") {
		t.Fatal("unbalanced script elements")
	}
}

// Same input, same bytes: chart ids are fixed and maps are emitted sorted.
func TestRenderIsReproducible(t *testing.T) {
	in := fixtureInput(t)
	a := renderString(t, in, renderOptions{})
	b := renderString(t, in, renderOptions{})
	if a != b {
		t.Fatal("two renders of the same input differ")
	}
}

// Every part is optional: an empty input renders a WARN page saying what is missing.
func TestRenderEmptyInput(t *testing.T) {
	html := renderString(t, Input{EChartsJS: placeholderJS}, renderOptions{})
	for _, want := range []string{`<span class="level">WARN</span>`, "no run results were given", "No capacity model was given.", "No verdict was given."} {
		if !strings.Contains(html, want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
	if strings.Contains(html, `class="chart"`) {
		t.Error("empty report draws a chart")
	}
}

// Without the library the error says what to run.
func TestRenderWithoutEChartsSaysRunMakeSetup(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("HUBCAP_HOME", tmp)
	t.Chdir(tmp)
	err := Render(&bytes.Buffer{}, Input{})
	if !errors.Is(err, ErrEChartsMissing) {
		t.Fatalf("err = %v, want ErrEChartsMissing", err)
	}
	if !strings.Contains(err.Error(), "make setup") || !strings.Contains(err.Error(), tmp) {
		t.Errorf("error %q should name where it looked and `make setup`", err)
	}
}

// HUBCAP_HOME may name the install root or the .hubcap directory itself.
func TestLocateEChartsFromHubcapHome(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, EChartsRelPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("var echarts;"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	for _, home := range []string{root, filepath.Join(root, ".hubcap")} {
		t.Setenv("HUBCAP_HOME", home)
		got, err := LocateECharts()
		if err != nil || got != p {
			t.Errorf("HUBCAP_HOME=%s: LocateECharts() = %q, %v; want %q", home, got, err, p)
		}
	}
	// Walking up from the working directory.
	t.Setenv("HUBCAP_HOME", "")
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if got, err := LocateECharts(); err != nil || got != p {
		t.Errorf("from %s: LocateECharts() = %q, %v; want %q", sub, got, err, p)
	}
}

// Inlined JavaScript cannot end its script element early.
func TestScriptSafe(t *testing.T) {
	got := string(scriptSafe([]byte(`a="</script>";b="</SCRIPT";c="<!--"`)))
	want := `a="<\/script>";b="<\/SCRIPT";c="<\!--"`
	if got != want {
		t.Errorf("scriptSafe = %s, want %s", got, want)
	}
}

// The report package must not depend on the JS engine (style rule 2).
func TestNoSobekImport(t *testing.T) {
	// go test puts its own go command first on PATH.
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if strings.Contains(string(out), "github.com/grafana/sobek") {
		t.Error("package reports depends on github.com/grafana/sobek")
	}
}

// BenchmarkRender renders the fixture report (placeholder library).
func BenchmarkRender(b *testing.B) {
	in := fixtureInput(b)
	for b.Loop() {
		if err := Render(io.Discard, in); err != nil {
			b.Fatal(err)
		}
	}
}
