package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/testenv"
)

// api calls the hub REST API with the service token.
func api(t *testing.T, h *hub.Hub, method, path string, body any) (int, []byte) {
	t.Helper()
	tok, err := h.Token()
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.HubAPIURL()+path, rd)
	req.Header.Set("Authorization", "token "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func checkReport(t *testing.T, what string, r hub.StartReport, h *hub.Hub) {
	t.Helper()
	if r.Outcome.Kind != hub.OutcomeHealthy {
		t.Fatalf("%s: outcome %v", what, r.Outcome)
	}
	// A hub imports for over a second and cannot be ready instantly; two
	// minutes is the default timeout.
	if r.SecondsToHealthy <= 0.2 || r.SecondsToHealthy >= hub.DefaultStartTimeout.Seconds() {
		t.Errorf("%s: seconds to healthy %.2f", what, r.SecondsToHealthy)
	}
	// A Python hub with SQLAlchemy and tornado loaded is tens of MiB.
	if r.PeakRSS < 30<<20 || r.PeakRSS > 2<<30 {
		t.Errorf("%s: peak RSS %d", what, r.PeakRSS)
	}
	if len(r.Samples) < 3 {
		t.Errorf("%s: %d samples", what, len(r.Samples))
	}
	for i := 1; i < len(r.Samples); i++ {
		if r.Samples[i].T < r.Samples[i-1].T || r.Samples[i].HWM < r.Samples[i-1].HWM {
			t.Errorf("%s: sample %d goes back in time or peak: %+v then %+v", what, i, r.Samples[i-1], r.Samples[i])
		}
	}
	if last := r.Samples[len(r.Samples)-1]; last.HWM != r.PeakRSS {
		t.Errorf("%s: peak %d differs from the last sample's VmHWM %d", what, r.PeakRSS, last.HWM)
	}
	if lim := h.State().MemoryLimit; r.Limit != lim || (lim > 0 && (r.CgroupPeak < r.PeakRSS/2 || r.CgroupPeak > lim)) {
		t.Errorf("%s: limit %d, cgroup peak %d, peak RSS %d", what, r.Limit, r.CgroupPeak, r.PeakRSS)
	}
	if r.PID != h.PID() || r.Release != h.Release() || r.LogTail != "" {
		t.Errorf("%s: report %+v vs pid %d", what, r, h.PID())
	}
}

func TestStartRestartStop(t *testing.T) {
	o := hub.Options{Release: "5.5.1"}
	mc, cgErr := proc.DetectMemoryController()
	if cgErr == nil {
		// Exercise the cgroup path too: a limit far above what the hub needs.
		o.MemoryLimit = 1 << 30
	} else {
		t.Logf("running without a memory limit: %v", cgErr)
	}
	h := hubtest.Start(t, o)
	tok, err := h.Token()
	if err != nil {
		t.Fatal(err)
	}
	first := h.StartReport()
	checkReport(t, "first start", first, h)

	// The token file is private.
	st, err := os.Stat(h.TokenFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v mode %v", h.TokenFile(), err, st.Mode())
	}

	// The token works and has read:hub.
	code, body := api(t, h, "GET", "/info", nil)
	var info struct{ Version string }
	if code != 200 || json.Unmarshal(body, &info) != nil || info.Version != "5.5.1" {
		t.Fatalf("GET /hub/api/info: %d %s", code, body)
	}
	// And admin:users (a load driver creates users).
	if code, body := api(t, h, "POST", "/users", map[string]any{"usernames": []string{"alice"}}); code != 201 {
		t.Fatalf("create user: %d %s", code, body)
	}
	// Start a real single-user server: it runs in its own session and must
	// survive the hub's restart, then die with Stop.
	if code, body := api(t, h, "POST", "/users/alice/servers/s1", map[string]any{}); code != 201 && code != 202 {
		t.Fatalf("spawn: %d %s", code, body)
	}
	var serverURL string
	for deadline := time.Now().Add(60 * time.Second); ; {
		_, body := api(t, h, "GET", "/users/alice", nil)
		var u struct {
			Servers map[string]struct {
				Ready bool
				URL   string
			}
		}
		_ = json.Unmarshal(body, &u)
		if s := u.Servers["s1"]; s.Ready {
			serverURL = s.URL
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 60s: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Through the proxy, with the token, the server answers its API.
	req, _ := http.NewRequest("GET", h.URL()+serverURL+"api/status", nil)
	req.Header.Set("Authorization", "token "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("single-user /api/status via proxy: %d", resp.StatusCode)
	}
	before := h.TrackedTree()
	if len(before) < 3 {
		t.Fatalf("tracked tree %v lacks the single-user server", before)
	}
	if cgErr == nil {
		// The server is charged to its own cgroup, not to the hub's limit.
		server := before[2]
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", server.PID))
		if want := filepath.Base(h.State().ServersCgroup); want == "" || !strings.Contains(string(b), want) {
			t.Errorf("server pid %d is in cgroups %q, want %q", server.PID, b, want)
		}
	}

	// Secrets appear in no log, config, state or command line.
	proxyPID, hubPID := h.ProxyPID(), h.PID()
	for _, f := range []string{hub.LogFile, hub.ProxyLogFile, hub.ConfigFile, hub.StateFile} {
		b, err := os.ReadFile(filepath.Join(h.RunDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(tok)) {
			t.Errorf("%s contains the service token", f)
		}
	}
	for _, p := range before {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
		if bytes.Contains(b, []byte(tok)) {
			t.Errorf("pid %d's command line contains the service token", p.PID)
		}
	}

	// Restart: the proxy stays, the hub is new and healthy, the server lives on.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := h.Restart(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, "restart", rep, h)
	if h.ProxyPID() != proxyPID || !proc.Alive(h.State().Proxy) {
		t.Fatalf("proxy pid %d -> %d: the proxy did not survive the restart", proxyPID, h.ProxyPID())
	}
	if h.PID() == hubPID {
		t.Fatal("restart kept the hub pid")
	}
	if code, _ := api(t, h, "GET", "/users/alice", nil); code != 200 {
		t.Fatalf("user gone after restart (database not kept?): %d", code)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("single-user server after hub restart: %d", resp.StatusCode)
	}

	// Stop leaves nothing of the recorded tree, including the server the
	// old hub orphaned.
	all := append(before, h.TrackedTree()...)
	if err := h.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if proc.Alive(p) {
			t.Errorf("pid %d still alive after Stop", p.PID)
		}
		if s, err := proc.ReadStat(p.PID); err == nil && s.StartTime == p.StartTime {
			t.Errorf("pid %d left as %c (unreaped?)", p.PID, s.State)
		}
	}
	if err := h.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if cgErr == nil {
		if left, _ := filepath.Glob(filepath.Join(mc.Root, h.State().CgroupPrefix+"*")); len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
		}
	}
	if _, err := h.Restart(ctx); !errors.Is(err, hub.ErrStopped) {
		t.Fatalf("Restart after Stop: %v", err)
	}
	s, err := hub.StatusOf(ctx, h.RunDir())
	if err != nil || s.Running() || s.Healthy || !s.State.Stopped {
		t.Fatalf("status after stop: %+v %v", s, err)
	}
}

func TestMemoryLimitOOMKills(t *testing.T) {
	root, _ := hubtest.Require(t, "5.5.1")
	if _, err := proc.DetectMemoryController(); err != nil {
		testenv.Missing(t, fmt.Sprintf("a usable memory cgroup (%v)", err), testenv.CgroupHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	h, err := hub.Start(ctx, hub.Options{Release: "5.5.1", Root: root, RunDir: dir, MemoryLimit: 60 << 20, Log: io.Discard})
	if err == nil {
		h.Stop(ctx)
		t.Fatal("a 5.5.1 hub started within 60Mi")
	}
	var se *hub.StartError
	if !errors.As(err, &se) || !errors.Is(err, hub.ErrOOMKilled) {
		t.Fatalf("err = %v, want a StartError wrapping ErrOOMKilled", err)
	}
	r := se.Report
	if r.Outcome.Kind != hub.OutcomeOOMKilled || r.Limit != 60<<20 || r.CgroupPeak < 50<<20 || r.LogTail == "" {
		t.Fatalf("report %+v", r)
	}
	// Everything is gone, cgroups included.
	st, err := hub.ReadState(dir)
	if err != nil || !st.Stopped {
		t.Fatalf("state after failed start: %+v %v", st, err)
	}
	for _, p := range []proc.Proc{st.Hub, st.Proxy} {
		if proc.Alive(p) {
			t.Errorf("pid %d alive after failed start", p.PID)
		}
	}
	if st.CgroupPrefix == "" {
		t.Fatal("no cgroup prefix recorded")
	}
	mc, _ := proc.DetectMemoryController()
	if left, _ := filepath.Glob(filepath.Join(mc.Root, st.CgroupPrefix+"*")); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
}

// cancelOn cancels when a harness log line contains s.
type cancelOn struct {
	s      string
	cancel context.CancelFunc
}

func (c cancelOn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(c.s)) {
		c.cancel()
	}
	return len(p), nil
}

// TestStartCanceledAndTimeout: Ctrl-C (a canceled context) during the wait
// and a start timeout both stop what was started and say why.
func TestStartCanceledAndTimeout(t *testing.T) {
	root, _ := hubtest.Require(t, "5.5.1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	_, err := hub.Start(ctx, hub.Options{Release: "5.5.1", Root: root, RunDir: dir, Log: cancelOn{"starting", cancel}})
	var se *hub.StartError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Report.Outcome.Kind != hub.OutcomeCanceled {
		t.Fatalf("canceled start: %v", err)
	}
	checkGone(t, dir)

	dir = t.TempDir()
	_, err = hub.Start(context.Background(), hub.Options{Release: "5.5.1", Root: root, RunDir: dir, StartTimeout: 300 * time.Millisecond, Log: io.Discard})
	if !errors.Is(err, hub.ErrStartTimeout) || !errors.As(err, &se) || se.Report.Outcome.Kind != hub.OutcomeTimeout ||
		!strings.Contains(err.Error(), "last lines of the hub log") || !strings.Contains(se.Report.LogTail, "hubcap: start 1") {
		t.Fatalf("timed-out start: %v", err)
	}
	checkGone(t, dir)
}

func checkGone(t *testing.T, dir string) {
	t.Helper()
	st, err := hub.ReadState(dir)
	if err != nil || !st.Stopped {
		t.Fatalf("state %+v %v", st, err)
	}
	for _, p := range []proc.Proc{st.Hub, st.Proxy} {
		if p.PID != 0 && proc.Alive(p) {
			t.Errorf("pid %d alive", p.PID)
		}
	}
}

// BenchmarkRestart measures restarting an empty 5.5.1 hub: time to
// healthy and peak RSS per restart (go test -bench Restart -benchtime 3x).
func BenchmarkRestart(b *testing.B) {
	h := hubtest.Start(b, hub.Options{Release: "5.5.1", Log: io.Discard})
	var secs, peak float64
	n := 0
	for b.Loop() {
		rep, err := h.Restart(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		secs += rep.SecondsToHealthy
		peak += float64(rep.PeakRSS)
		n++
	}
	b.ReportMetric(secs/float64(n), "s-to-healthy/op")
	b.ReportMetric(peak/float64(n)/(1<<20), "peak-MiB/op")
}
