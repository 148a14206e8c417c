package acceptance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/capreport"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/pgtest"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/reports"
)

// The scenarios of scenarios/ run through the hubcap binary, as a user runs
// them, against local hubs whose single-user servers are the fleet; their
// results become capacity reports that must render in a browser.

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// hubcapBin builds cmd/hubcap once per test binary.
func hubcapBin(t *testing.T, root string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "hubcap-acceptance-")
		if binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "hubcap"), "./cmd/hubcap")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/hubcap: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "hubcap")
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// hubcapRun is one `hubcap run` in its own process group.
type hubcapRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	code           int
}

// startHubcap starts `hubcap args...` in root; Cleanup kills what is left.
func startHubcap(t *testing.T, root string, args ...string) *hubcapRun {
	t.Helper()
	r := &hubcapRun{cmd: exec.Command(hubcapBin(t, root), args...), done: make(chan struct{})}
	r.cmd.Dir = root
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	runDir := ""
	for i, a := range args {
		if a == "--run-dir" && i+1 < len(args) {
			runDir = args[i+1]
		}
	}
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
		// hubcap stops the local hub it started; if it was killed, this
		// does (Stop is idempotent).
		if runDir == "" {
			return
		}
		if h, err := hub.Attach(runDir, io.Discard); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := h.Stop(ctx); err != nil {
				t.Errorf("stopping the local hub of %s: %v", runDir, err)
			}
		}
	})
	return r
}

// wait waits for the run to end (at most d) and returns its exit code.
func (r *hubcapRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(d):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
		t.Fatalf("hubcap did not finish within %s\nstderr:\n%s", d, tailString(r.stderr.String(), 4000))
		return -1
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func readResultsFile(t *testing.T, path string) *reports.Results {
	t.Helper()
	res, err := capreport.ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// phaseCounts counts the latency samples of each phase.
func phaseCounts(res *reports.Results) map[string]int {
	out := map[string]int{}
	for _, pl := range reports.PhaseLatencies(res) {
		out[pl.Phase] += len(pl.Points)
	}
	return out
}

func total(res *reports.Results, metric string) float64 {
	sum := 0.0
	for _, s := range res.SeriesOf(metric) {
		for _, p := range s.Points {
			sum += p.Value
		}
	}
	return sum
}

// A hub's configuration checked end to end by one attendee.
func TestScenarioSmoke(t *testing.T) {
	root, _ := hubtest.Require(t, "5.5.1")
	dir := t.TempDir()
	out := filepath.Join(dir, "smoke.ndjson")
	r := startHubcap(t, root, "run", "--hub", "local:5.5.1", "--run-dir", filepath.Join(dir, "run"),
		"--progress", "off", "--out", "json="+out, "scenarios/smoke.js")
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, tailString(r.stdout.String(), 3000), tailString(r.stderr.String(), 3000))
	}
	res := readResultsFile(t, out)
	got := phaseCounts(res)
	for _, ph := range []string{"login", "spawn", "oauth", "lab_load", "list_contents", "save_notebook", "open_notebook",
		"start_kernel", "connect_kernel", "execute", "shutdown_kernel", "stop_server", "logout"} {
		if got[ph] != 1 {
			t.Errorf("phase %s: %d samples, want 1 (phases: %v)", ph, got[ph], got)
		}
	}
	info := capreport.ScenarioInfoOf(res)
	if res.Status != reports.StatusCompleted || info.Script != "smoke.js" || info.HubVersion != "5.5.1" {
		t.Errorf("status %q, scenario %q, hub %q; want completed, smoke.js, 5.5.1", res.Status, info.Script, info.HubVersion)
	}
}

// workshopArgs runs workshop.js scaled down: 20 attendees arriving over 20 s,
// 30 s sessions with a cell every 5 s, 30 % opening a second server.
func workshopArgs(dir, release, out string, extra ...string) []string {
	args := []string{"run", "--hub", "local:" + release, "--run-dir", filepath.Join(dir, "run"), "--progress", "off",
		"--telemetry-interval", "1s", "--shape-interval", "3s", "--out", "json=" + out,
		"-e", "ATTENDEES=20", "-e", "ARRIVAL_WINDOW=20s", "-e", "SESSION_LENGTH=30s", "-e", "THINK_TIME=5s",
		"-e", "SECOND_SERVER_FRACTION=0.3", "-e", "SEED=7"}
	return append(append(args, extra...), "scenarios/workshop.js")
}

// The workshop, scaled down, against 5.3.0: every attendee arrives and goes
// through every phase, the hub's memory and DB shape are followed, and the
// capacity report made from the results draws every chart in Chromium.
func TestScenarioWorkshop(t *testing.T) {
	root, _ := hubtest.Require(t, "5.3.0")
	dir := t.TempDir()
	out := filepath.Join(dir, "workshop.ndjson")
	r := startHubcap(t, root, workshopArgs(dir, "5.3.0", out)...)
	if code := r.wait(t, 4*time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, tailString(r.stdout.String(), 4000), tailString(r.stderr.String(), 3000))
	}
	res := readResultsFile(t, out)
	if n := total(res, reports.MetricArrivals); n != 20 {
		t.Errorf("%v arrivals, want 20", n)
	}
	got := phaseCounts(res)
	for _, ph := range []string{"login", "spawn", "oauth", "lab_load", "save_notebook", "open_notebook", "start_kernel",
		"connect_kernel", "shutdown_kernel", "stop_server"} {
		if got[ph] < 20 {
			t.Errorf("phase %s: %d samples, want one per attendee at least (phases %v)", ph, got[ph], got)
		}
	}
	if got["execute"] < 40 {
		t.Errorf("%d cells executed, want several per attendee", got["execute"])
	}
	if second := total(res, "workshop_second_servers"); second < 1 || got["spawn"] != 20+int(second) {
		t.Errorf("%v second servers, %d spawns: want some, and one spawn per server", second, got["spawn"])
	}
	for _, m := range []string{reports.MetricHubRSS, reports.MetricHubCPU, reports.MetricDBRunning, reports.MetricActive} {
		if !res.Has(m) {
			t.Errorf("the results have no %s", m)
		}
	}

	rep := buildReport(t, root, out, 700)
	if v := rep.Input.Verdict; v.PlannedSize != 700 || v.MemoryLimitBytes != 3<<30 || rep.Input.Model == nil {
		t.Errorf("verdict %+v, model %v: want 700 planned, a 3 GiB limit and a model", v, rep.Input.Model != nil)
	}
	checkInBrowser(t, rep, "workshop")
}

// buildReport assembles the capacity report of a results file with the
// shipped 5.3.0 calibration (or, before one is shipped, capreport's
// synthetic fixture) and a 3 GiB limit.
func buildReport(t *testing.T, root, results string, planned float64) *capreport.Report {
	t.Helper()
	cal, path, ok, err := capreport.ShippedCalibration("5.3.0")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		path = filepath.Join(root, "internal", "capreport", "testdata", "calibration-5.3.0.json")
		c, err := models.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cal = &c
		t.Logf("no shipped 5.3.0 calibration: using %s", path)
	}
	rep, err := capreport.Build(capreport.Inputs{ResultsPath: results, Calibration: cal, CalibrationPath: path,
		Planned: planned, LimitBytes: 3 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Reports of runs cut short (Ctrl-C, or a hub that died) still render, and
// say so. These are the fault suite's rows "Ctrl-C twice" and (with
// cmd/hubcap's TestRunLocalHubDies) "hub SIGKILLed mid-run": whole results
// with their status marker, the summary, the exit code (105, 31), no token
// in any output, and after Ctrl-C nothing the run created left on the hub.
func TestScenarioCutShort(t *testing.T) {
	root, _ := hubtest.Require(t, "5.3.0")
	cases := []struct {
		name    string
		session string
		cut     func(t *testing.T, r *hubcapRun, runDir string)
		status  string
		code    int // hubcap run's exit code
	}{
		// Ctrl-C twice: the first gives running attendees their
		// gracefulStop (whole sessions), the second stops at once.
		{"ctrl-c", "10m", func(t *testing.T, r *hubcapRun, _ string) {
			for i := 0; i < 2; i++ {
				if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Second)
			}
		}, reports.StatusInterrupted, 105},
		// The hub process is killed; the proxy and the fleet live on, so
		// attendees in session go on until their sessions end, while new
		// ones are turned away.
		{"hub died", "40s", func(t *testing.T, r *hubcapRun, runDir string) {
			st, err := hub.ReadState(runDir)
			if err != nil || st.Hub.PID <= 0 {
				t.Fatalf("hub state in %s: %+v, %v", runDir, st.Hub, err)
			}
			if err := syscall.Kill(st.Hub.PID, syscall.SIGKILL); err != nil {
				t.Fatalf("kill the hub (pid %d): %v", st.Hub.PID, err)
			}
		}, reports.StatusHubDied, ExitHubDiedCode},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "cut.ndjson")
			r := startHubcap(t, root, workshopArgs(dir, "5.3.0", out, "-e", "SESSION_LENGTH="+c.session)...)
			waitForLogins(t, r, out, 5)
			c.cut(t, r, filepath.Join(dir, "run"))
			code := r.wait(t, 3*time.Minute)
			if code != c.code {
				t.Errorf("exit %d after the run was cut short, want %d", code, c.code)
			}
			// The results are whole (no damaged or half-written line) and end
			// with the status marker; the summary was printed.
			if res := readResultsFile(t, out); res.TruncatedTail || res.MalformedCount > 0 {
				t.Errorf("results truncated %v, %d malformed lines", res.TruncatedTail, res.MalformedCount)
			}
			if !strings.Contains(r.stdout.String(), "TOTAL RESULTS") {
				t.Errorf("no summary printed:\n%s", tailString(r.stdout.String(), 2000))
			}
			runDir := filepath.Join(dir, "run")
			dsn := ""
			if c.status == reports.StatusInterrupted {
				dsn = sqliteDSN(runDir) // the cleanup ran after the second Ctrl-C
			}
			afterRun(t, r, runToken(t, runDir), dsn, dir)
			rep := buildReport(t, root, out, 20)
			if got := rep.Input.Results.Status; got != c.status {
				t.Errorf("status %q, want %q\n%s", got, c.status, tailString(r.stderr.String(), 3000))
			}
			page := filepath.Join(artifactDir(t), "report.html")
			if err := rep.WriteFile(page); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Assessment.CutShort || !strings.Contains(string(b), "cut short") {
				t.Errorf("the report of a run cut short does not say so (assessment %+v)", rep.Assessment)
			}
		})
	}
}

// waitForLogins waits until the results file holds n logins.
func waitForLogins(t *testing.T, r *hubcapRun, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			t.Fatalf("hubcap ended (exit %d) before %d logins\n%s", r.code, n, tailString(r.stderr.String(), 3000))
		default:
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Count(b, []byte(`"phase":"login"`)) >= n {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no %d logins within 2 minutes\n%s", n, tailString(r.stderr.String(), 3000))
}

// artifactDir is $HUBCAP_ARTIFACTS/<test name> when set (kept for people and
// CI), else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("HUBCAP_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

const chromium = "/usr/bin/chromium"

// browserProbe is injected into the page under test: the head part records
// errors (script, resource, CSP, console.error/warn); the tail part, after
// load, counts each chart canvas's painted pixels and its ECharts series,
// and writes the findings as JSON into <pre id="capreport-probe">, read from
// Chromium's --dump-dom. (The reports package's own browser test uses the
// same approach on its fixture; this is the small part a test outside the
// package needs.)
const probeHead = `<script>(function(){var e=window.__probeErrors=[];function r(k,m){e.push(k+": "+m)}
addEventListener("error",function(x){r("error",x.message||(x.target&&(x.target.src||x.target.href))||"resource")},true);
addEventListener("unhandledrejection",function(x){r("rejection",x.reason)});
document.addEventListener("securitypolicyviolation",function(x){r("csp",x.violatedDirective+" "+x.blockedURI)});
["error","warn"].forEach(function(l){var o=console[l];console[l]=function(){r("console."+l,[].join.call(arguments," "));return o.apply(console,arguments)}})})();</script>`

const probeTail = `<script>addEventListener("load",function(){setTimeout(function(){
var out={errors:window.__probeErrors,charts:[]};document.querySelectorAll(".chart").forEach(function(el){
var c={id:el.id,painted:0,pixels:0,series:0,points:0},cv=el.querySelector("canvas");
if(cv){var d=cv.getContext("2d").getImageData(0,0,cv.width,cv.height).data;c.pixels=cv.width*cv.height;for(var i=3;i<d.length;i+=4){if(d[i])c.painted++}}
var inst=window.echarts&&echarts.getInstanceByDom(el),o=inst&&inst.getOption();((o&&o.series)||[]).forEach(function(s){c.series++;c.points+=(s.data||[]).length});
out.charts.push(c)});var p=document.createElement("pre");p.id="capreport-probe";p.style.display="none";p.textContent=JSON.stringify(out);document.body.appendChild(p)},300)});</script>`

var probeOut = regexp.MustCompile(`(?s)<pre id="capreport-probe"[^>]*>(.*?)</pre>`)

// checkInBrowser renders the report with the installed ECharts, opens it
// from a file in headless Chromium with no network, and requires no error
// and every chart drawn; the page and a screenshot are kept in the artifact
// directory.
func checkInBrowser(t *testing.T, rep *capreport.Report, name string) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		testenv.MissingBrowser(t, chromium, "HUBCAP_SETUP_BROWSER=1 make setup (Debian: apt-get install chromium)")
	}
	dir := artifactDir(t)
	var buf bytes.Buffer
	if err := rep.Render(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".html"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The page's own <head> comes first; its </body> last (the inlined
	// ECharts holds such strings too).
	page := strings.Replace(buf.String(), "<head>", "<head>"+probeHead, 1)
	end := strings.LastIndex(page, "</body>")
	if end < 0 {
		t.Fatal("the report has no </body>")
	}
	page = page[:end] + probeTail + page[end:]
	probe := filepath.Join(dir, name+"-probe.html")
	if err := os.WriteFile(probe, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, name+".png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--window-size=1400,3200",
		"--screenshot="+shot, "--dump-dom", "file://"+probe)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	err := cmd.Wait()
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // renderers left behind, if any
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, tailString(stderr.String(), 2000))
	}
	m := probeOut.FindSubmatch(stdout.Bytes())
	if m == nil {
		t.Fatalf("the probe did not run; DOM tail: %s", tailString(stdout.String(), 1500))
	}
	var v struct {
		Errors []string
		Charts []struct {
			ID                              string
			Painted, Pixels, Series, Points int
		}
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &v); err != nil {
		t.Fatalf("probe output %s: %v", m[1], err)
	}
	for _, e := range v.Errors {
		t.Errorf("page error: %s", e)
	}
	want := map[string]bool{"chart-timeline": true, "chart-latency": true, "chart-model": true}
	for _, c := range v.Charts {
		delete(want, c.ID)
		t.Logf("chart %-15s painted %7d of %7d px, %d series, %d points", c.ID, c.Painted, c.Pixels, c.Series, c.Points)
		if c.Pixels == 0 || c.Painted < c.Pixels/100 || c.Series == 0 || c.Points == 0 {
			t.Errorf("chart %s looks blank: %+v", c.ID, c)
		}
	}
	for id := range want {
		t.Errorf("chart %s is not on the page (the timeline, latencies and model must be)", id)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 20_000 {
		t.Errorf("screenshot %s missing or tiny: %v", shot, err)
	} else {
		t.Logf("screenshot: %s", shot)
	}
}
