package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/fleet"
)

// standinEnv makes the test binary serve the stand-in of BenchmarkSteadyExecute
// (a fleet behind a minimal hub API) for that many attendees.
const standinEnv = "HUBCAP_BENCH_STANDIN"

// BenchmarkSteadyExecute is the generator's cost on the steady phase of
// hubtraf's journey, the whole path a script takes: `hubcap run` (in this
// process, summary export and NDJSON output on) runs testdata/bench/steady.js,
// whose attendees (HUBCAP_BENCH_ATTENDEES, default 200) open their kernel's
// websocket in the legacy framing and execute `5 * 4`, checking the 20, with
// U(0, 1) s sleeps, for HUBCAP_BENCH_STEADY (default 20 s). The kernels are
// the fleet's, in a child process (this test binary as a stand-in: the fleet
// plus the few hub API calls of OAuth, closing idle keep-alive connections
// after 5 s as configurable-http-proxy does), so that this process is only
// the generator.
//
// Reported, over the steady window only (set-up and teardown excluded):
// cpu-ns/execute (user+sys of this process from getrusage, per execute;
// sys-ns/execute the kernel's part),
// allocs/execute and B/execute (runtime.MemStats), executes/s; and
// heap-B/attendee: HeapInuse+StackInuse after GC with every attendee
// connected and idle in sleep(), minus before the run, per attendee (the
// VU's JS runtime included), with stack-B/attendee, the stacks' part,
// live-B/attendee, the live heap objects alone (HeapAlloc), and
// goroutines/attendee. Run it alone, with -benchtime 1x:
//
//	go test -run X -bench SteadyExecute -benchtime 1x ./cmd/hubcap
//
// HUBCAP_BENCH_CELL_EVERY (a Go duration) replaces the U(0, 1) s sleeps by
// one cell per attendee that often (cores: the generator's CPU over the
// window); issue 13's 5,000 attendees with a cell every 30 s:
//
//	HUBCAP_BENCH_ATTENDEES=5000 HUBCAP_BENCH_CELL_EVERY=30s HUBCAP_BENCH_STEADY=60s \
//	  go test -run X -bench SteadyExecute -benchtime 1x -timeout 30m ./cmd/hubcap
//
// -cpuprofile / -memprofile profile the generator only (set-up included);
// HUBCAP_BENCH_CPUPROFILE=FILE profiles the steady window alone, and
// HUBCAP_BENCH_MEMPROFILE=FILE writes allocation profiles at its start and
// end (FILE.start, FILE) and of the idle attendees (FILE.idle, for
// -sample_index=inuse_space).
func BenchmarkSteadyExecute(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("HUBCAP_BENCH_ATTENDEES")); err == nil && v > 0 {
		n = v
	}
	steady := 20 * time.Second
	if d, err := time.ParseDuration(os.Getenv("HUBCAP_BENCH_STEADY")); err == nil && d > 0 {
		steady = d
	}
	var every time.Duration
	if d, err := time.ParseDuration(os.Getenv("HUBCAP_BENCH_CELL_EVERY")); err == nil && d > 0 {
		every = d
	}
	hubURL := startStandin(b, n)
	for range b.N {
		benchSteady(b, hubURL, n, steady, every)
	}
}

func benchSteady(b *testing.B, hubURL string, n int, steady, every time.Duration) {
	dir := b.TempDir()
	ndjson, summary := filepath.Join(dir, "out.ndjson"), filepath.Join(dir, "summary.json")
	// Set-up (compile, VUs, OAuth, kernels, websockets) must end before
	// START_AT; bench_late counts the attendees that were not ready. The
	// idle heap is read 6 s after the last could have connected, once the
	// stand-in has closed their idle HTTP connections, as the proxy would.
	setup := time.Duration(n)*15*time.Millisecond + 9*time.Second
	startAt := time.Now().Add(setup)
	stopAt := startAt.Add(steady)

	runtime.GC()
	baseHeap, baseStack, baseLive, baseG := heapInUse(), stackInUse(), heapLive(), runtime.NumGoroutine()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- run(context.Background(), IO{Stdout: io.Discard, Stderr: &stderr}, []string{"run", "-q",
			"--out", "json=" + ndjson, "--summary-export", summary,
			"-e", "HUB=" + hubURL, "-e", "ATTENDEES=" + strconv.Itoa(n),
			"-e", "START_AT=" + strconv.FormatInt(startAt.UnixMilli(), 10),
			"-e", "STOP_AT=" + strconv.FormatInt(stopAt.UnixMilli(), 10),
			"-e", "CELL_EVERY=" + strconv.FormatFloat(every.Seconds(), 'f', -1, 64),
			filepath.Join("testdata", "bench", "steady.js")})
	}()

	time.Sleep(time.Until(startAt.Add(-500 * time.Millisecond)))
	runtime.GC()
	idleHeap, idleStack, idleLive, idleG := heapInUse(), stackInUse(), heapLive(), runtime.NumGoroutine()
	writeHeapProfile(b, ".idle")
	time.Sleep(time.Until(startAt))
	stopProfile := profileWindow(b)
	writeHeapProfile(b, ".start")
	cpu0, ms0 := cpuTime(), memStats()
	time.Sleep(time.Until(stopAt))
	cpu1, ms1 := cpuTime(), memStats()
	stopProfile()
	writeHeapProfile(b, "")

	var code int
	select {
	case code = <-done:
	case <-time.After(2*time.Minute + setup):
		b.Fatalf("hubcap run did not end\n%s", stderr.String())
	}
	if code != 0 {
		b.Fatalf("hubcap run exited %d\n%s", code, stderr.String())
	}
	var sum struct {
		Metrics map[string]struct {
			Count float64 `json:"count"`
		} `json:"metrics"`
	}
	raw, err := os.ReadFile(summary)
	if err != nil || json.Unmarshal(raw, &sum) != nil {
		b.Fatalf("summary export: %v", err)
	}
	execs := sum.Metrics["peer_executes"].Count
	if late := sum.Metrics["bench_late"].Count; late > 0 {
		b.Fatalf("%v of %d attendees were not connected by the start of the steady phase; raise the set-up time", late, n)
	}
	if errs := sum.Metrics["jupyterhub_errors"].Count; errs > 0 || execs == 0 {
		b.Fatalf("%v errors, %v executes\n%s", errs, execs, stderr.String())
	}
	b.ReportMetric(float64(cpu1.user+cpu1.sys-cpu0.user-cpu0.sys)/execs, "cpu-ns/execute")
	b.ReportMetric(float64(cpu1.sys-cpu0.sys)/execs, "sys-ns/execute")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/execs, "allocs/execute")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/execs, "B/execute")
	b.ReportMetric(execs/steady.Seconds(), "executes/s")
	b.ReportMetric((cpu1.user+cpu1.sys-cpu0.user-cpu0.sys).Seconds()/steady.Seconds(), "cores")
	b.ReportMetric(float64(idleHeap-baseHeap)/float64(n), "heap-B/attendee")
	b.ReportMetric(float64(idleStack-baseStack)/float64(n), "stack-B/attendee")
	b.ReportMetric(float64(idleLive-baseLive)/float64(n), "live-B/attendee")
	b.ReportMetric(float64(idleG-baseG)/float64(n), "goroutines/attendee")
	b.ReportMetric(0, "ns/op")
}

// profileWindow writes a CPU profile of the steady window to
// $HUBCAP_BENCH_CPUPROFILE when it is set (-cpuprofile covers the set-up too).
func profileWindow(b *testing.B) (stop func()) {
	path := os.Getenv("HUBCAP_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// writeHeapProfile writes the allocation profile to
// $HUBCAP_BENCH_MEMPROFILE+suffix when it is set: the steady window's
// allocations are `go tool pprof -base FILE.start FILE`.
func writeHeapProfile(b *testing.B, suffix string) {
	path := os.Getenv("HUBCAP_BENCH_MEMPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// heapLive is the bytes of live heap objects (HeapAlloc; after a GC).
func heapLive() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func stackInUse() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.StackInuse)
}

func memStats() runtime.MemStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// cpuTimes is this process's user and sys CPU time.
type cpuTimes struct{ user, sys time.Duration }

func cpuTime() cpuTimes {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuTimes{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// startStandin runs this test binary as the stand-in (serveStandin) and
// returns its URL.
func startStandin(b *testing.B, n int) string {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), standinEnv+"="+strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the stand-in exits when its stdin closes
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("stand-in: %v", err)
	}
	return strings.TrimSpace(line)
}

// serveStandin serves a fleet with n registered default servers (users
// peer-1 … peer-n) and, under /hub/, the hub API calls of their OAuth
// login (authorize answers at once with a code, token exchange, the token
// check, activity). It prints its URL and serves until stdin closes.
func serveStandin(n int) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	base := "http://" + ln.Addr().String()
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	f := fleet.New(fleet.Config{Secret: hex.EncodeToString(secret), ActivityInterval: -1})
	for i := 1; i <= n; i++ {
		u := "peer-" + strconv.Itoa(i)
		if err := f.Register(fleet.Registration{User: u, BaseURL: "/user/" + u + "/",
			APIToken: "server-" + u, OAuthClientID: "jupyterhub-user-" + u,
			HubAPIURL: base + "/hub/api", HubPrefix: "/hub/", HubVersion: "5.5.1"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	var mu sync.Mutex
	codes := map[string]string{} // code → user
	hub := http.NewServeMux()
	hub.HandleFunc("GET /hub/api/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		user, ok := strings.CutPrefix(q.Get("client_id"), "jupyterhub-user-")
		if !ok {
			http.Error(w, "unknown client", http.StatusBadRequest)
			return
		}
		c := make([]byte, 16)
		_, _ = rand.Read(c)
		code := hex.EncodeToString(c)
		mu.Lock()
		codes[code] = user
		mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+q.Get("state"), http.StatusFound)
	})
	hub.HandleFunc("POST /hub/api/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		user, ok := codes[r.PostForm.Get("code")]
		delete(codes, r.PostForm.Get("code"))
		mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "token-" + user, "token_type": "Bearer"})
	})
	hub.HandleFunc("GET /hub/api/user", func(w http.ResponseWriter, r *http.Request) {
		user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "token token-")
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": user, "kind": "user",
			"scopes": []string{"access:servers!user=" + user}})
	})
	hub.HandleFunc("POST /hub/api/users/{user}/activity", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux := http.NewServeMux()
	mux.Handle("/hub/", hub)
	mux.Handle("/", f.Handler())
	// Idle keep-alive connections close after 5 s, as configurable-http-proxy
	// (node's http.Server keepAliveTimeout) closes them in front of a hub.
	srv := &http.Server{Handler: mux, IdleTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(base)
	_, _ = io.Copy(io.Discard, os.Stdin)
	f.Close()
	return 0
}
