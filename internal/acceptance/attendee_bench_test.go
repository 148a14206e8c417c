package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/fleet"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/attendee"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Steady-state load of BenchmarkAttendees1000.
const (
	benchCellEvery   = 5 * time.Second
	benchSteady      = 60 * time.Second
	benchSetupWorker = 48 // attendees logging in and spawning at once (below the hub's concurrent_spawn_limit of 100)
	benchCell        = "print(6*7)"
)

// BenchmarkAttendees1000 is issue 3's load benchmark: 1,000 attendee
// sessions (HUBCAP_BENCH_ATTENDEES overrides the count) against a local
// JupyterHub 5.5.1 whose single-user servers are a fleet running as a child
// process (`hubcap fleet serve`), so that this process is only the load
// generator. Each attendee logs in through the hub's form, starts its named
// server through the REST API with its own token (429s honoured),
// follows OAuth into it, starts a kernel and opens its websocket; then every
// attendee executes print(6*7) every 5 s for 60 s and checks the 42.
//
// Reported: errors (every failed phase, websocket drop and wrong output,
// target 0), 429 throttles, the generator's CPU (user+sys of this process
// over the 60 s, from getrusage) as seconds and as cores, heap per session
// with its websocket open (HeapInuse after GC with every session connected,
// minus before any session, divided by the sessions; target < 100 KiB), the
// goroutine stacks per session beside it, the execute round trip, and the
// fleet's, hub's and proxy's CPU over the same 60 s.
//
//	go test -run X -bench Attendees1000 -benchtime 1x -timeout 30m ./internal/acceptance
//
// HUBCAP_BENCH_CELL_EVERY and HUBCAP_BENCH_STEADY (Go durations) change the
// cell interval and the steady phase; issue 13's 5,000-attendee figure:
//
//	HUBCAP_BENCH_ATTENDEES=5000 HUBCAP_BENCH_CELL_EVERY=30s HUBCAP_BENCH_STEADY=90s \
//	  go test -run X -bench Attendees1000 -benchtime 1x -timeout 60m ./internal/acceptance
func BenchmarkAttendees1000(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("HUBCAP_BENCH_ATTENDEES")); err == nil && v > 0 {
		n = v
	}
	every, steady := benchCellEvery, benchSteady
	if d, err := time.ParseDuration(os.Getenv("HUBCAP_BENCH_CELL_EVERY")); err == nil && d > 0 {
		every = d
	}
	if d, err := time.ParseDuration(os.Getenv("HUBCAP_BENCH_STEADY")); err == nil && d > 0 {
		steady = d
	}
	for range b.N {
		benchAttendees(b, n, every, steady)
	}
}

func benchAttendees(b *testing.B, n int, benchCellEvery, benchSteady time.Duration) {
	const release = "5.5.1"
	hubtest.Require(b, release)
	fl := startFleetProcess(b)
	h := hubtest.Start(b, hub.Options{
		Release:       release,
		Spawner:       hub.SpawnerFleet,
		SpawnerConfig: fleet.SpawnerConfig(fleet.SpawnerOptions{}),
		SpawnerFiles:  map[string][]byte{fleet.SpawnerModule + ".py": []byte(fleet.SpawnerPython)},
		Env:           map[string]string{fleet.EnvFleetURL: fl.url, fleet.EnvFleetSecret: fl.secret},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	sink := &benchSink{}

	baseHeap, baseStack := heapAfterGC()
	sessions := make([]*attendee.Session, n)
	for i := range sessions {
		s, err := attendee.New(attendee.Config{
			HubURL:   h.URL(),
			Username: fmt.Sprintf("bench-att-%04d", i),
			Password: "bench",
			Server:   "bench",
			Spawn:    attendee.SpawnAPI,
			Sink:     sink,
			Rand:     mrand.NewPCG(uint64(i), 11),
		})
		if err != nil {
			b.Fatal(err)
		}
		sessions[i] = s
	}
	b.Cleanup(func() {
		for _, s := range sessions {
			s.Close()
		}
	})

	// Set-up: log in, start the server, OAuth, kernel, websocket.
	setupStart := time.Now()
	var setupErrs atomic.Int64
	var firstErr sync.Once
	work := make(chan *attendee.Session)
	var wg sync.WaitGroup
	for range benchSetupWorker {
		wg.Go(func() {
			for s := range work {
				if err := setUp(ctx, s); err != nil {
					setupErrs.Add(1)
					firstErr.Do(func() { b.Errorf("set-up: %v", err) })
				}
			}
		})
	}
	for _, s := range sessions {
		work <- s
	}
	close(work)
	wg.Wait()
	setup := time.Since(setupStart)
	connected := n - int(setupErrs.Load())
	heap, stack := heapAfterGC()
	b.Logf("%d/%d attendees connected in %.1fs (%.1f/s); heap %+.1f MiB, stacks %+.1f MiB since before the sessions",
		connected, n, setup.Seconds(), float64(connected)/setup.Seconds(),
		float64(heap-baseHeap)/(1<<20), float64(stack-baseStack)/(1<<20))
	if connected == 0 {
		b.Fatal("no attendee connected")
	}

	// Steady state: a cell every benchCellEvery per attendee, spread evenly.
	var execErrs atomic.Int64
	var execs atomic.Int64
	sink.steady.Store(true)
	cpu0 := rusageCPU()
	others0 := cpuOf(fl.pid, h.PID(), h.ProxyPID())
	steadyStart := time.Now()
	end := steadyStart.Add(benchSteady)
	for i, s := range sessions {
		if s.KernelID() == "" {
			continue
		}
		offset := time.Duration(i) * benchCellEvery / time.Duration(n)
		wg.Go(func() {
			for next := steadyStart.Add(offset); next.Before(end); next = next.Add(benchCellEvery) {
				time.Sleep(time.Until(next))
				execs.Add(1)
				if _, err := s.ExecuteExpect(ctx, benchCell, "42"); err != nil {
					if execErrs.Add(1) == 1 {
						b.Errorf("execute: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	steady := time.Since(steadyStart)
	cpu := rusageCPU() - cpu0
	others := cpuOf(fl.pid, h.PID(), h.ProxyPID())
	for i := range others {
		others[i] -= others0[i]
	}
	sink.steady.Store(false)
	endHeap, _ := heapAfterGC()

	errs, throttled, drops := sink.counts()
	total := errs + drops
	lat := sink.execLatencies()
	fleetMem, _ := proc.ReadMem(fl.pid)
	hubMem, _ := proc.ReadMem(h.PID())
	perSession := float64(heap-baseHeap) / float64(connected) / 1024
	b.ReportMetric(float64(total), "errors")
	b.ReportMetric(float64(throttled), "throttled")
	b.ReportMetric(cpu.Seconds(), "generator-cpu-s")
	b.ReportMetric(cpu.Seconds()/steady.Seconds(), "generator-cores")
	b.ReportMetric(perSession, "heap-KiB/session")
	b.ReportMetric(float64(stack-baseStack)/float64(connected)/1024, "stack-KiB/session")
	b.ReportMetric(float64(endHeap-baseHeap)/float64(connected)/1024, "heap-KiB/session-end")
	b.ReportMetric(quantile(lat, 0.5), "exec-p50-ms")
	b.ReportMetric(quantile(lat, 0.95), "exec-p95-ms")
	b.ReportMetric(setup.Seconds(), "setup-s")
	b.ReportMetric(float64(execs.Load()), "executions")
	b.ReportMetric(others[0].Seconds(), "fleet-cpu-s")
	b.ReportMetric(others[1].Seconds(), "hub-cpu-s")
	b.ReportMetric(others[2].Seconds(), "proxy-cpu-s")
	b.Logf("%d attendees, %d executions over %.1fs: %d errors (%d failed phases, %d websocket drops; %d set-up, %d execute), %d throttled",
		connected, execs.Load(), steady.Seconds(), total, errs, drops, setupErrs.Load(), execErrs.Load(), throttled)
	b.Logf("generator CPU %.2fs (%.3f cores); heap %.1f KiB/session with the websocket open (%.1f at the end), stacks %.1f KiB/session",
		cpu.Seconds(), cpu.Seconds()/steady.Seconds(), perSession, float64(endHeap-baseHeap)/float64(connected)/1024,
		float64(stack-baseStack)/float64(connected)/1024)
	b.Logf("execute round trip p50 %.1f ms, p95 %.1f ms, max %.1f ms; fleet CPU %.2fs (RSS %s), hub CPU %.2fs (RSS %s), proxy CPU %.2fs",
		quantile(lat, 0.5), quantile(lat, 0.95), quantile(lat, 1), others[0].Seconds(), bytesize.Format(fleetMem.RSS),
		others[1].Seconds(), bytesize.Format(hubMem.RSS), others[2].Seconds())
	if perSession >= 100 {
		b.Errorf("heap per session %.1f KiB, target < 100 KiB", perSession)
	}
	if total > 0 {
		b.Errorf("%d errors, target 0: %v", total, sink.byPhase())
	}
}

// setUp brings one attendee to "kernel websocket open".
func setUp(ctx context.Context, s *attendee.Session) error {
	if err := s.Login(ctx); err != nil {
		return err
	}
	if err := s.Spawn(ctx); err != nil {
		return err
	}
	if err := s.OAuth(ctx); err != nil {
		return err
	}
	if _, err := s.StartKernel(ctx); err != nil {
		return err
	}
	return s.ConnectKernel(ctx)
}

// heapAfterGC returns HeapInuse and StackInuse after two collections.
func heapAfterGC() (heap, stack int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse), int64(m.StackInuse)
}

// rusageCPU is this process's user+sys CPU time.
func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf reads the CPU time of each pid (0 when unreadable).
func cpuOf(pids ...int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		if st, err := proc.ReadStat(pid); err == nil {
			out[i] = st.CPU()
		}
	}
	return out
}

// quantile of sorted values, nearest rank (0 when empty).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// benchSink counts what the benchmark reports and drops every other sample.
type benchSink struct {
	steady    atomic.Bool
	mu        sync.Mutex
	errs      map[string]int // "phase status error" → count
	drops     int
	throttled int
	exec      []float64 // execute durations (ms) during the steady state
}

// AddSample implements samples.Sink.
func (k *benchSink) AddSample(s samples.Sample) {
	switch s.Metric {
	case attendee.MetricErrors:
		k.mu.Lock()
		if k.errs == nil {
			k.errs = map[string]int{}
		}
		k.errs[s.Tags["phase"]+" "+s.Tags["status"]+" "+s.Tags["error"]]++
		k.mu.Unlock()
	case attendee.MetricWSDrops:
		k.mu.Lock()
		k.drops++
		k.mu.Unlock()
	case attendee.MetricThrottled:
		k.mu.Lock()
		k.throttled += int(s.Value)
		k.mu.Unlock()
	case attendee.MetricExecute:
		if k.steady.Load() && s.Tags["result"] == "ok" {
			k.mu.Lock()
			k.exec = append(k.exec, s.Value)
			k.mu.Unlock()
		}
	}
}

func (k *benchSink) counts() (errs, throttled, drops int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.errs {
		errs += c
	}
	return errs, k.throttled, k.drops
}

func (k *benchSink) byPhase() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int, len(k.errs))
	for key, c := range k.errs {
		out[key] = c
	}
	return out
}

func (k *benchSink) execLatencies() []float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := slices.Clone(k.exec)
	sort.Float64s(out)
	return out
}

// fleetProcess is a `hubcap fleet serve` child process.
type fleetProcess struct {
	url, secret string
	pid         int
}

// startFleetProcess builds cmd/hubcap and runs `hubcap fleet serve` on a
// free loopback port (secret through the environment, never argv). The
// child is killed with this process (Pdeathsig) and in b.Cleanup.
func startFleetProcess(b *testing.B) fleetProcess {
	b.Helper()
	dir := b.TempDir()
	exe := filepath.Join(dir, "hubcap")
	build := exec.Command("go", "build", "-o", exe, "github.com/hubcap-dev/hubcap/cmd/hubcap")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build hubcap for the fleet: %v\n%s", err, out)
	}
	sec := make([]byte, 32)
	if _, err := rand.Read(sec); err != nil {
		b.Fatal(err)
	}
	secret := hex.EncodeToString(sec)
	ready := filepath.Join(dir, "fleet.json")
	logf, err := os.Create(filepath.Join(dir, "fleet.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "fleet", "serve", "--addr", "127.0.0.1:0", "--ready-file", ready, "--exec-time", "10ms")
	cmd.Env = append(os.Environ(), fleet.EnvFleetSecret+"="+secret)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the fleet: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct {
			URL string `json:"url"`
		}
		if raw, err := os.ReadFile(ready); err == nil && json.Unmarshal(raw, &r) == nil && r.URL != "" {
			return fleetProcess{url: r.URL, secret: secret, pid: cmd.Process.Pid}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "fleet.log"))
			b.Fatalf("the fleet exited: %v\n%s", errors.New(cmd.ProcessState.String()), log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatal("the fleet did not listen within 30 s")
		}
	}
}
