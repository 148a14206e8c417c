package acceptance

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/localhub"
	"github.com/hubcap-dev/hubcap/internal/localhub/localhubtest"
	"github.com/hubcap-dev/hubcap/reports"
)

// The fault suite: one test per row of docs/reliability.md (fault → what
// hubcap does → test). Each runs the hubcap binary as a user does, injects
// its fault, and checks what hubcap promises; after each, no token is in
// any output or log and no user or server the run created is left.

const faultRelease = "5.5.1"

func faultScript(name string) string {
	return filepath.Join("internal", "acceptance", "testdata", "faults", name)
}

// sumWhere sums the points of metric whose tags include want.
func sumWhere(res *reports.Results, metric string, want map[string]string) float64 {
	sum := 0.0
	for _, s := range res.SeriesOf(metric) {
		ok := true
		for k, v := range want {
			if s.Tags[k] != v {
				ok = false
			}
		}
		if ok {
			for _, p := range s.Points {
				sum += p.Value
			}
		}
	}
	return sum
}

// countWhere counts the points of metric whose tags include want.
func countWhere(res *reports.Results, metric string, want map[string]string) int {
	n := 0
	for _, s := range res.SeriesOf(metric) {
		ok := true
		for k, v := range want {
			if s.Tags[k] != v {
				ok = false
			}
		}
		if ok {
			n += len(s.Points)
		}
	}
	return n
}

// waitForPhase waits until the results file holds n samples of a phase.
func waitForPhase(t *testing.T, r *hubcapRun, path, phase string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			t.Fatalf("hubcap ended (exit %d) before %d %s samples\n%s", r.code, n, phase, tailString(r.stderr.String(), 3000))
		default:
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Count(b, []byte(`"phase":"`+phase+`","result":"ok"`))+
			bytes.Count(b, []byte(`"result":"ok","phase":"`+phase+`"`)) >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %d %s samples within 2 minutes\n%s", n, phase, tailString(r.stderr.String(), 3000))
}

// afterRun is what every fault test checks at its end.
func afterRun(t *testing.T, r *hubcapRun, token, dsn string, dirs ...string) {
	t.Helper()
	noTokenIn(t, token, map[string]string{"stdout": r.stdout.String(), "stderr": r.stderr.String()}, dirs...)
	if dsn != "" {
		nothingLeft(t, dsn, runPrefix)
	}
}

// Fault: the fleet drops every kernel websocket while cells run. The
// execute in flight fails (counted in jupyterhub_errors{phase=execute,
// error=websocket}), each drop is counted in jupyterhub_ws_drops{reason=lost},
// the kernels survive, and an attendee that reconnects runs its next cell;
// the run completes and cleans up.
func TestFaultWebsocketsDropped(t *testing.T) {
	const n = 4
	root, _ := hubtest.Require(t, faultRelease)
	l := localhubtest.Start(t, faultRelease, localhub.Options{})
	dir := t.TempDir()
	out := filepath.Join(dir, "ws.ndjson")
	r := startHubcap(t, root, "run", "--hub", l.Hub.URL(), "--token-file", l.Hub.TokenFile(), "--progress", "off",
		"--out", "json="+out, "-e", "N=4", faultScript("ws_drop.js"))
	waitForPhase(t, r, out, "connect_kernel", n)
	time.Sleep(1500 * time.Millisecond) // the 6 s cells are running
	if dropped := l.Fleet.DropWebsockets(); dropped != n {
		t.Errorf("dropped %d websockets, want %d (one per attendee)", dropped, n)
	}
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, tailString(r.stdout.String(), 3000), tailString(r.stderr.String(), 3000))
	}
	res := readResultsFile(t, out)
	if got := sumWhere(res, "jupyterhub_ws_drops", map[string]string{"reason": "lost"}); got != n {
		t.Errorf("%v websocket drops counted, want %d", got, n)
	}
	if got := sumWhere(res, "jupyterhub_errors", map[string]string{"phase": "execute", "error": "websocket"}); got != n {
		t.Errorf("%v execute errors of kind websocket, want %d", got, n)
	}
	if got := countWhere(res, "jupyterhub_execute_duration", map[string]string{"result": "ok"}); got != n {
		t.Errorf("%d cells ran after reconnecting, want %d", got, n)
	}
	if got := countWhere(res, "jupyterhub_kernel_connect_duration", map[string]string{"result": "ok"}); got != 2*n {
		t.Errorf("%d websocket connections, want %d (one reconnect each)", got, 2*n)
	}
	if res.Status != reports.StatusCompleted {
		t.Errorf("status %q, want completed", res.Status)
	}
	tok, _ := l.Hub.Token()
	afterRun(t, r, tok, sqliteDSN(l.Hub.RunDir()), dir)
}

// Fault: the hub's front answers 503 for 10 s (an overloaded ingress, a hub
// pod restarting behind it). Logins in the window fail with status 503 and
// are counted; the telemetry sees the hub down and up again; the run goes
// on, the attendees after the window log in, the run's status is completed
// (the hub came back: not exit 31), and the cleanup removes everything.
func TestFaultHub503(t *testing.T) {
	root, _ := hubtest.Require(t, faultRelease)
	l := localhubtest.Start(t, faultRelease, localhub.Options{})
	target, err := url.Parse(l.Hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	var failing atomic.Bool
	var answered503 atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	front := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if failing.Load() {
			answered503.Add(1)
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, req)
	})
	frontURL := serveLoopback(t, front)

	dir := t.TempDir()
	out := filepath.Join(dir, "503.ndjson")
	r := startHubcap(t, root, "run", "--hub", frontURL, "--token-file", l.Hub.TokenFile(), "--progress", "off",
		"--telemetry-interval", "1s", "--out", "json="+out, "-e", "DURATION=25s", faultScript("steady.js"))
	waitForPhase(t, r, out, "login", 4)
	failing.Store(true)
	time.Sleep(10 * time.Second)
	failing.Store(false)
	code := r.wait(t, 3*time.Minute)
	if code == ExitHubDiedCode {
		t.Fatalf("exit %d: a hub that came back is not a dead hub\n%s", code, tailString(r.stderr.String(), 3000))
	}
	res := readResultsFile(t, out)
	if res.Status != reports.StatusCompleted {
		t.Errorf("status %q, want completed\n%s", res.Status, tailString(r.stderr.String(), 3000))
	}
	if got := sumWhere(res, "jupyterhub_errors", map[string]string{"phase": "login", "status": "503"}); got < 5 {
		t.Errorf("%v logins failed with 503, want the window's (~20); the front answered 503 %d times", got, answered503.Load())
	}
	okAfter := 0
	for _, s := range res.SeriesOf("jupyterhub_login_duration") {
		if s.Tags["result"] == "ok" {
			okAfter += len(s.Points)
		}
	}
	if okAfter < 15 {
		t.Errorf("%d logins ok, want those before and after the window (≥ 15)", okAfter)
	}
	var sawDown, sawUpAfter bool
	for _, s := range res.SeriesOf("hub_up") {
		for _, p := range s.Points {
			if p.Value == 0 {
				sawDown = true
			} else if sawDown {
				sawUpAfter = true
			}
		}
	}
	if !sawDown || !sawUpAfter {
		t.Errorf("hub_up: down seen %v, up again %v; want both", sawDown, sawUpAfter)
	}
	t.Logf("exit %d; the front answered 503 %d times", code, answered503.Load())
	tok, _ := l.Hub.Token()
	afterRun(t, r, tok, sqliteDSN(l.Hub.RunDir()), dir)
}

// Fault: the proxy (configurable-http-proxy) is SIGKILLed mid-run. From the
// outside the hub stopped answering: the results say hub_died, the report
// is written with a FAIL verdict, the run exits 31 whatever the thresholds,
// and the message says that the proxy is gone while the hub process lives.
func TestFaultProxyKilled(t *testing.T) {
	root, _ := hubtest.Require(t, faultRelease)
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	out := filepath.Join(dir, "proxy.ndjson")
	report := filepath.Join(dir, "proxy.html")
	r := startHubcap(t, root, "run", "--hub", "local:"+faultRelease, "--run-dir", runDir, "--progress", "off",
		"--telemetry-interval", "500ms", "--out", "json="+out, "--report", report, "-e", "DURATION=20s", faultScript("steady.js"))
	waitForPhase(t, r, out, "login", 4)
	st, err := hub.ReadState(runDir)
	if err != nil || st.Proxy.PID <= 0 {
		t.Fatalf("state of %s: %+v %v", runDir, st.Proxy, err)
	}
	if err := syscall.Kill(st.Proxy.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	code := r.wait(t, 3*time.Minute)
	if code != ExitHubDiedCode {
		t.Errorf("exit %d, want %d (the hub stopped answering)\n%s", code, ExitHubDiedCode, tailString(r.stderr.String(), 3000))
	}
	if !strings.Contains(r.stderr.String(), "proxy") {
		t.Errorf("stderr does not say the proxy is gone:\n%s", tailString(r.stderr.String(), 2000))
	}
	res := readResultsFile(t, out)
	if res.Status != reports.StatusHubDied {
		t.Errorf("status %q, want hub_died", res.Status)
	}
	if b, err := os.ReadFile(report); err != nil || !strings.Contains(string(b), "the hub died during the run") {
		t.Errorf("report: %v; want one that says the hub died", err)
	}
	afterRun(t, r, runToken(t, runDir), "", dir)
}

// serveLoopback serves h on a free 127.0.0.1 port until the test ends.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// hubLogErrors gives the first n error lines ([E …]) of a hub log that are
// not its 429s (it logs each as "Error starting server …: HTTP 429"), to say
// why a spawn failed.
func hubLogErrors(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "[E ") && !strings.Contains(line, "HTTP 429") && len(out) < n {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// hubCPUAndPeakRSS gives the hub's CPU seconds over the run (the growth of
// the cumulative hub_cpu_seconds readings) and its peak hub_rss_bytes; zero
// when telemetry recorded none.
func hubCPUAndPeakRSS(res *reports.Results) (cpu, rss float64) {
	for _, s := range res.SeriesOf("hub_cpu_seconds") {
		if len(s.Points) > 1 {
			lo, hi := s.Points[0].Value, s.Points[0].Value
			for _, p := range s.Points {
				lo, hi = min(lo, p.Value), max(hi, p.Value)
			}
			cpu = max(cpu, hi-lo)
		}
	}
	for _, s := range res.SeriesOf("hub_rss_bytes") {
		for _, p := range s.Points {
			rss = max(rss, p.Value)
		}
	}
	return cpu, rss
}

// ExitHubDiedCode is hubcap run's exit code for a hub that died during the
// run (cmd/hubcap ExitHubDied).
const ExitHubDiedCode = 31

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// stormAttendees is the 429 storm's size: 700 in the issue; scaled down so
// the test stays near a minute and a half on a 2-core machine (measured:
// 20 attendees 1 min 24 s, 60 2 min 29 s, 150 3 min 29 s; spawns wait
// 8–60 s behind the limit). HUBCAP_STORM_ATTENDEES=700 runs the full storm
// (make storm; see docs/reliability.md for its figures).
func stormAttendees() int {
	if n, err := strconv.Atoi(os.Getenv("HUBCAP_STORM_ATTENDEES")); err == nil && n > 0 {
		return n
	}
	return 25
}

// stormDuration is how long storm.js's scenario may last for n attendees
// (the script's rules, SPAWN_S unset): a login timeout of 0.3 s per attendee
// (at least 30 s), a spawn timeout of 3 s per attendee (at least 5 min), and
// 5 minutes more.
func stormDuration(n int) time.Duration {
	login := max(30*time.Second, time.Duration(n)*300*time.Millisecond)
	spawn := max(5*time.Minute, time.Duration(n)*3*time.Second)
	return login + spawn + 5*time.Minute
}

// Fault: a 429 storm. All attendees arrive at once on a hub with
// concurrent_spawn_limit 5: the hub answers 429 with Retry-After to most
// spawns; hubcap honours every one for as long as the spawn timeout allows
// (no count bound: at 700 attendees one is throttled hundreds of times),
// counts every throttle in jupyterhub_throttled, and every attendee is
// eventually served with zero errors.
func TestFault429Storm(t *testing.T) {
	n := stormAttendees()
	root, _ := hubtest.Require(t, faultRelease)
	// The hub sends its default Retry-After, 30–60 s (spawn_throttle_retry_range;
	// not configurable as c.JupyterHub.… in 5.5.1, and a line here that set it so
	// never took effect): what real hubs send, and it keeps the hub's load from
	// retries realistic at 700 attendees.
	l := localhubtest.Start(t, faultRelease, localhub.Options{Hub: hub.Options{ConcurrentSpawnLimit: 5}})
	dir := t.TempDir()
	out := filepath.Join(dir, "storm.ndjson")
	start := time.Now()
	r := startHubcap(t, root, "run", "--hub", l.Hub.URL(), "--token-file", l.Hub.TokenFile(), "--progress", "off",
		"--telemetry-interval", "2s", "--out", "json="+out, "-e", fmt.Sprintf("N=%d", n), faultScript("storm.js"))
	if code := r.wait(t, stormDuration(n)+2*time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, tailString(r.stdout.String(), 3000), tailString(r.stderr.String(), 3000))
	}
	wall := time.Since(start).Round(time.Second)
	res := readResultsFile(t, out)
	served := countWhere(res, "jupyterhub_spawn_duration", map[string]string{"result": "ok"})
	throttled := sumWhere(res, "jupyterhub_throttled", nil)
	errs := sumWhere(res, "jupyterhub_errors", nil)
	perAttendee := map[string]float64{}
	for _, s := range res.SeriesOf("jupyterhub_throttled") {
		for _, p := range s.Points {
			perAttendee[s.Tags["attendee"]] += p.Value
		}
	}
	most, overSix := 0.0, 0
	for _, v := range perAttendee {
		most = max(most, v)
		if v > 6 {
			overSix++ // the old client gave up after 6 waited-out 429s
		}
	}
	cpu, rss := hubCPUAndPeakRSS(res)
	slowest := func(metric string) time.Duration {
		ms := 0.0
		for _, s := range res.SeriesOf(metric) {
			for _, p := range s.Points {
				ms = max(ms, p.Value)
			}
		}
		return time.Duration(ms * float64(time.Millisecond)).Round(time.Second)
	}
	t.Logf("%d attendees, concurrent_spawn_limit 5: %d served, %.0f throttles (429) over %d attendees (at most %.0f for one, %d throttled more than 6 times), %.0f errors, %s; slowest login %s, slowest spawn %s; hub CPU %.0f s, peak RSS %.0f MiB",
		n, served, throttled, len(perAttendee), most, overSix, errs, wall, slowest("jupyterhub_login_duration"), slowest("jupyterhub_spawn_duration"), cpu, rss/(1<<20))
	if served != n {
		t.Errorf("%d of %d attendees served", served, n)
	}
	if throttled < 1 {
		t.Error("no 429 counted: the storm did not reach the limit")
	}
	if errs != 0 {
		byKind := map[string]float64{}
		for _, s := range res.SeriesOf("jupyterhub_errors") {
			k := fmt.Sprintf("phase=%s status=%s error=%s", s.Tags["phase"], s.Tags["status"], s.Tags["error"])
			for _, p := range s.Points {
				byKind[k] += p.Value
			}
		}
		t.Errorf("%.0f errors, want none (429s are throttles, not errors): %v\nhubcap's stderr ends:\n%s\nthe hub's errors:\n%s",
			errs, byKind, tailString(r.stderr.String(), 4000), hubLogErrors(filepath.Join(l.Hub.RunDir(), hub.LogFile), 30))
	}
	tok, _ := l.Hub.Token()
	afterRun(t, r, tok, sqliteDSN(l.Hub.RunDir()), dir)
}
