package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
)

// Hub is a running local JupyterHub: a configurable-http-proxy process and
// a hub process, plus whatever the hub started. Its methods are safe for
// concurrent use.
type Hub struct {
	mu sync.Mutex

	st           State
	install      Install
	serviceToken string
	proxyToken   string
	env          map[string]string
	log          io.Writer
	interval     time.Duration

	proxy *child
	hub   *child

	mc        *proc.MemoryController
	cg        *proc.MemoryCgroup
	serversCg *proc.MemoryCgroup

	first    StartReport
	peakRSS  int64 // largest VmHWM seen of the current hub process
	stopped  bool
	monitor  context.CancelFunc
	monDone  chan struct{}
	tracked  map[proc.Proc]bool
	ownPIDs  map[int]bool // processes whose os/exec Wait reaps them
	stateErr error
}

// child is a process the harness started (cmd set) or found in a state
// file (cmd nil).
type child struct {
	p    proc.Proc
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returned
	ps   *os.ProcessState
}

func startChild(cmd *exec.Cmd) (*child, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	c.p = proc.Proc{PID: cmd.Process.Pid}
	if p, err := proc.Identify(cmd.Process.Pid); err == nil {
		c.p = p
	}
	go func() {
		_ = cmd.Wait()
		c.ps = cmd.ProcessState
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	if c == nil {
		return true
	}
	if c.cmd != nil {
		select {
		case <-c.done:
			return true
		default:
			return false
		}
	}
	return !proc.Alive(c.p)
}

// wait blocks until the process has ended (and, for our own children, is
// reaped) or ctx ends.
func (c *child) wait(ctx context.Context) error {
	if c == nil {
		return nil
	}
	if c.cmd != nil {
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for proc.Alive(c.p) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Start starts configurable-http-proxy and then the hub (in a memory cgroup
// when o.MemoryLimit > 0) and waits until the hub answers /hub/health with
// 200 directly and through the proxy. On failure everything it started is
// stopped again and the error is a *StartError (errors.As) wrapping
// ErrOOMKilled, ErrHubExited, ErrStartTimeout or the context's error, or a
// setup error (ErrNotInstalled, ErrPortBusy, proc.ErrNoCgroup, ...).
func Start(ctx context.Context, o Options) (_ *Hub, err error) {
	o.setDefaults()
	if errs := o.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, errors.Join(errs...))
	}
	if o.Root == "" {
		if o.Root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	if o.Root, err = filepath.Abs(o.Root); err != nil {
		return nil, err
	}
	install, err := FindInstall(o.Root, o.Release)
	if err != nil {
		return nil, err
	}
	proxyArgv, err := ProxyCommand(o.Root)
	if err != nil {
		return nil, err
	}
	if o.RunDir == "" {
		o.RunDir = DefaultRunDir(o.Root, o.Release)
	}
	if o.RunDir, err = filepath.Abs(o.RunDir); err != nil {
		return nil, err
	}
	h := &Hub{
		install:  install,
		env:      maps.Clone(o.Env),
		log:      o.Log,
		interval: o.SampleInterval,
		tracked:  map[proc.Proc]bool{},
		ownPIDs:  map[int]bool{},
	}
	if o.MemoryLimit > 0 {
		mc, err := proc.DetectMemoryController()
		if err != nil {
			return nil, err
		}
		h.mc = &mc
	}
	if st, err := ReadState(o.RunDir); err == nil && !st.Stopped && (proc.Alive(st.Hub) || proc.Alive(st.Proxy)) {
		return nil, fmt.Errorf("%w: %s (hub pid %d, proxy pid %d, %s): stop it with hubcap hub down --run-dir %s, or use another run directory",
			ErrAlreadyRunning, o.RunDir, st.Hub.PID, st.Proxy.PID, st.URL, o.RunDir)
	}
	ports, err := pickPorts(o.Ports)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	h.st = State{
		Release:      o.Release,
		Root:         o.Root,
		RunDir:       o.RunDir,
		Spawner:      o.Spawner,
		Detached:     o.Detached,
		Ports:        ports,
		URL:          fmt.Sprintf("http://127.0.0.1:%d", ports.Proxy),
		MemoryLimit:  o.MemoryLimit,
		StartTimeout: o.StartTimeout,
		StopGrace:    o.StopGrace,
		StartedAt:    time.Now().UTC(),
	}
	for k := range h.env {
		h.st.EnvKeys = append(h.st.EnvKeys, k)
	}
	slices.Sort(h.st.EnvKeys)
	if h.mc != nil {
		h.st.CgroupPrefix = "hubcap-" + randomHex(4)
	}
	if err := h.writeFiles(o); err != nil {
		return nil, err
	}
	if !o.Detached {
		// Orphans of a dying hub (single-user servers in their own
		// sessions) come to us, so Stop can still find and reap them.
		if err := proc.SetChildSubreaper(); err != nil {
			fmt.Fprintf(h.log, "hubcap: warning: %v; orphaned servers will go to init\n", err)
		}
	}
	defer func() {
		if err != nil {
			// Stop what we started; the run directory stays for inspection.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.StopGrace+15*time.Second)
			defer cancel()
			if serr := h.Stop(sctx); serr != nil {
				fmt.Fprintf(h.log, "hubcap: cleanup after failed start: %v\n", serr)
			}
		}
	}()
	if err := h.startProxy(ctx, proxyArgv); err != nil {
		return nil, err
	}
	rep, err := h.startHub(ctx)
	h.first = rep
	if err != nil {
		return nil, err
	}
	return h, nil
}

// writeFiles writes config, tokens, env and spawner files into the run dir.
func (h *Hub) writeFiles(o Options) error {
	dir := h.st.RunDir
	h.serviceToken = randomHex(32)
	h.proxyToken = randomHex(32)
	if err := writeSecret(filepath.Join(dir, ServiceTokenFile), []byte(h.serviceToken+"\n")); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	if err := writeSecret(filepath.Join(dir, proxyTokenFile), []byte(h.proxyToken+"\n")); err != nil {
		return fmt.Errorf("write proxy token file: %w", err)
	}
	env := h.env
	if env == nil {
		env = map[string]string{}
	}
	b, _ := json.Marshal(env)
	if err := writeSecret(filepath.Join(dir, hubEnvFile), b); err != nil {
		return fmt.Errorf("write hub environment file: %w", err)
	}
	for name, content := range o.SpawnerFiles {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return fmt.Errorf("write spawner file: %w", err)
		}
	}
	params := ConfigParams{
		Release:              o.Release,
		RunDir:               dir,
		VenvBin:              filepath.Join(h.install.Dir, "bin"),
		ProxyPort:            h.st.Ports.Proxy,
		ProxyAPIPort:         h.st.Ports.ProxyAPI,
		HubPort:              h.st.Ports.Hub,
		Spawner:              o.Spawner,
		SpawnerConfig:        o.SpawnerConfig,
		ConcurrentSpawnLimit: o.ConcurrentSpawnLimit,
		ExtraConfig:          o.ExtraConfig,
	}
	if h.mc != nil && o.Spawner == SpawnerLocal {
		cg, err := h.mc.Create(h.st.CgroupPrefix+"-servers", 0)
		if err != nil {
			return err
		}
		h.serversCg = cg
		h.st.ServersCgroup = cg.Path
		params.ServersCgroupProcs = filepath.Join(cg.Path, "cgroup.procs")
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(GenerateConfig(params)), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// pickPorts checks explicit ports and chooses free ones for the rest.
func pickPorts(want Ports) (Ports, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	got := want
	for _, p := range []struct {
		name string
		port *int
	}{{"proxy", &got.Proxy}, {"proxy API", &got.ProxyAPI}, {"hub", &got.Hub}} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*p.port)))
		if err != nil {
			return Ports{}, fmt.Errorf("%w: %s port %d on 127.0.0.1 (%v): another hub? see hubcap hub status; pick another port or 0 for a free one",
				ErrPortBusy, p.name, *p.port, err)
		}
		lns = append(lns, l)
		*p.port = l.Addr().(*net.TCPAddr).Port
	}
	return got, nil
}

// cleanEnv is the caller's environment without variables that would confuse
// or leak into the hub and proxy.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == ProxyTokenEnv || k == ServiceTokenEnv || strings.HasPrefix(k, "JUPYTERHUB_") || strings.HasPrefix(k, "HUBCAP_FLEET_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (h *Hub) sysProcAttr() *syscall.SysProcAttr {
	if h.st.Detached {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func (h *Hub) startProxy(ctx context.Context, argv []string) error {
	p := h.st.Ports
	argv = append(slices.Clone(argv),
		"--ip", "127.0.0.1", "--port", strconv.Itoa(p.Proxy),
		"--api-ip", "127.0.0.1", "--api-port", strconv.Itoa(p.ProxyAPI),
		"--default-target", fmt.Sprintf("http://127.0.0.1:%d", p.Hub),
		"--error-target", fmt.Sprintf("http://127.0.0.1:%d/hub/error", p.Hub),
	)
	logf, err := os.OpenFile(filepath.Join(h.st.RunDir, ProxyLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = h.st.RunDir
	cmd.Env = append(cleanEnv(), ProxyTokenEnv+"="+h.proxyToken)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = h.sysProcAttr()
	c, err := startChild(cmd)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProxy, err)
	}
	h.mu.Lock()
	h.proxy = c
	h.ownPIDs[c.p.PID] = true
	h.st.Proxy = c.p
	h.mu.Unlock()
	fmt.Fprintf(h.log, "hubcap: configurable-http-proxy pid %d on %s (API port %d)\n", c.p.PID, h.st.URL, p.ProxyAPI)

	// Ready when its API answers with our token.
	deadline := time.Now().Add(30 * time.Second)
	client := httpClient()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/api/routes", p.ProxyAPI), nil)
		req.Header.Set("Authorization", "token "+h.proxyToken)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h.saveState()
			}
		}
		if c.exited() {
			return fmt.Errorf("%w: it exited (%v); see %s:\n%s", ErrProxy, c.ps,
				filepath.Join(h.st.RunDir, ProxyLogFile), h.redact(tailFile(filepath.Join(h.st.RunDir, ProxyLogFile), 0, 20)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: API on port %d not ready after 30s; see %s", ErrProxy, p.ProxyAPI, filepath.Join(h.st.RunDir, ProxyLogFile))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func httpClient() *http.Client {
	return &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func (h *Hub) hubEnv() []string {
	env := cleanEnv()
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + filepath.Join(h.install.Dir, "bin") + string(os.PathListSeparator) + v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(h.env)) {
		env = append(env, k+"="+h.env[k])
	}
	return append(env, ServiceTokenEnv+"="+h.serviceToken, ProxyTokenEnv+"="+h.proxyToken)
}

// startHub starts one hub process and waits for it to become healthy. It
// is called with h.mu not held.
func (h *Hub) startHub(ctx context.Context) (StartReport, error) {
	h.mu.Lock()
	h.st.Starts++
	n := h.st.Starts
	timeout := h.st.StartTimeout
	limit, mc, prefix := h.st.MemoryLimit, h.mc, h.st.CgroupPrefix
	h.mu.Unlock()
	rep := StartReport{Release: h.st.Release, Limit: limit}

	argv := []string{h.install.Bin("jupyterhub"), "-f", filepath.Join(h.st.RunDir, ConfigFile)}
	var cg *proc.MemoryCgroup
	if mc != nil {
		var err error
		if cg, err = mc.Create(fmt.Sprintf("%s-%d", prefix, n), limit); err != nil {
			return rep, err
		}
		argv = cg.WrapCommand(argv)
	}
	logPath := filepath.Join(h.st.RunDir, LogFile)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return rep, err
	}
	var offset int64
	if st, err := logf.Stat(); err == nil {
		offset = st.Size()
	}
	fmt.Fprintf(logf, "\n=== hubcap: start %d of jupyterhub %s at %s ===\n", n, h.st.Release, time.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = h.st.RunDir
	cmd.Env = h.hubEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = h.sysProcAttr()
	t0 := time.Now()
	c, err := startChild(cmd)
	logf.Close()
	if err != nil {
		if cg != nil {
			_ = cg.Remove()
		}
		return rep, fmt.Errorf("start jupyterhub: %w", err)
	}
	rep.PID = c.p.PID
	h.mu.Lock()
	h.hub, h.cg = c, cg
	h.ownPIDs[c.p.PID] = true
	h.peakRSS = 0
	h.st.Hub = c.p
	if cg != nil {
		h.st.Cgroup = cg.Path
	}
	h.st.Stopped = false
	h.mu.Unlock()
	if err := h.saveState(); err != nil {
		fmt.Fprintf(h.log, "hubcap: warning: %v\n", err)
	}
	fmt.Fprintf(h.log, "hubcap: jupyterhub %s pid %d starting (log %s)\n", h.st.Release, c.p.PID, logPath)

	sampler := proc.StartSampler(c.p.PID, h.interval)
	client := httpClient()
	hubHealth := fmt.Sprintf("http://127.0.0.1:%d/hub/health", h.st.Ports.Hub)
	proxyHealth := h.st.URL + "/hub/health"
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var failure error
wait:
	for {
		select {
		case <-c.done:
			failure = ErrHubExited
			break wait
		case <-ctx.Done():
			failure = ctx.Err()
			rep.Outcome = Outcome{Kind: OutcomeCanceled}
			break wait
		case <-deadline.C:
			failure = ErrStartTimeout
			rep.Outcome = Outcome{Kind: OutcomeTimeout}
			break wait
		case <-tick.C:
			if healthy(ctx, client, hubHealth) && healthy(ctx, client, proxyHealth) {
				break wait
			}
		}
	}
	rep.SecondsToHealthy = time.Since(t0).Seconds()
	sampler.Sample()
	rep.Samples = sampler.Stop()
	rep.PeakRSS = proc.Summarize(rep.Samples).Peak
	h.notePeak(rep.PeakRSS)
	if failure == nil {
		rep.Outcome = Outcome{Kind: OutcomeHealthy}
		if cg != nil {
			if st, err := cg.Stats(); err == nil {
				rep.CgroupPeak = st.Peak
			}
		}
		fmt.Fprintf(h.log, "hubcap: %s\n", rep.Summary())
		h.mu.Lock()
		h.st.LastStart = reportForState(rep)
		h.mu.Unlock()
		h.startMonitor()
		return rep, h.saveState()
	}

	// Failed: make sure the hub is gone, then find out how it ended.
	if !c.exited() {
		tree, _ := proc.Tree(c.p)
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.st.StopGrace+10*time.Second)
		_ = proc.KillTree(kctx, tree, h.st.StopGrace)
		_ = c.wait(kctx)
		cancel()
	}
	if cg != nil {
		if st, err := cg.Stats(); err == nil {
			rep.CgroupPeak = st.Peak
			if failure == ErrHubExited && c.ps != nil {
				ws, _ := c.ps.Sys().(syscall.WaitStatus)
				if proc.OOMKilled(ws.Signaled() && ws.Signal() == syscall.SIGKILL, st) {
					failure = ErrOOMKilled
					rep.Outcome = Outcome{Kind: OutcomeOOMKilled, ExitCode: -1, Signal: "SIGKILL"}
				}
			}
		}
	}
	if failure == ErrHubExited {
		rep.Outcome = exitOutcome(c.ps)
	}
	rep.LogTail = h.redact(tailFile(logPath, offset, 30))
	h.mu.Lock()
	h.st.LastStart = reportForState(rep)
	h.mu.Unlock()
	_ = h.saveState()
	switch failure {
	case ErrStartTimeout:
		failure = fmt.Errorf("jupyterhub %s (pid %d, log %s): %w (%s; raise it with hubcap hub up --timeout or Options.StartTimeout)",
			h.st.Release, c.p.PID, logPath, failure, timeout)
	case ErrOOMKilled:
		failure = fmt.Errorf("jupyterhub %s (pid %d, log %s): %w (limit %s; raise --memory-limit)",
			h.st.Release, c.p.PID, logPath, failure, proc.FormatBytes(limit))
	case ErrHubExited:
		failure = fmt.Errorf("jupyterhub %s (pid %d, log %s): %w", h.st.Release, c.p.PID, logPath, failure)
	}
	return rep, &StartError{Report: rep, Err: failure}
}

func exitOutcome(ps *os.ProcessState) Outcome {
	if ps == nil {
		return Outcome{Kind: OutcomeExited, ExitCode: -1}
	}
	o := Outcome{Kind: OutcomeExited, ExitCode: ps.ExitCode()}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.Signal = unixSignalName(ws.Signal())
	}
	return o
}

func unixSignalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	}
	return "signal " + strconv.Itoa(int(s))
}

func reportForState(r StartReport) *StartReport {
	r.Samples = nil
	return &r
}

func healthy(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (h *Hub) notePeak(v int64) {
	h.mu.Lock()
	h.peakRSS = max(h.peakRSS, v)
	h.mu.Unlock()
}

// startMonitor runs, while the hub is up, a 1 s loop that records the hub's
// descendants (so Stop can end them after they are orphaned), keeps the
// hub's peak RSS, and reaps orphans reparented to us.
func (h *Hub) startMonitor() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.monitor != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.monitor = cancel
	done := make(chan struct{})
	h.monDone = done
	hubProc := h.hub.p
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if m, err := proc.ReadMem(hubProc.PID); err == nil {
				h.notePeak(m.HWM)
			}
			h.track(hubProc)
			h.reapOrphans()
		}
	}()
}

func (h *Hub) stopMonitor() {
	h.mu.Lock()
	cancel, done := h.monitor, h.monDone
	h.monitor, h.monDone = nil, nil
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// track adds the current descendants of p to the tracked set.
func (h *Hub) track(p proc.Proc) {
	if !proc.Alive(p) {
		return
	}
	d, err := proc.Descendants(p.PID)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := false
	for _, q := range d {
		if !h.tracked[q] {
			h.tracked[q] = true
			changed = true
		}
	}
	// Forget the dead.
	for q := range h.tracked {
		if !proc.Alive(q) && !isZombieChild(q) {
			delete(h.tracked, q)
			changed = true
		}
	}
	if changed {
		h.st.Tracked = slices.SortedFunc(maps.Keys(h.tracked), func(a, b proc.Proc) int { return a.PID - b.PID })
		h.stateErr = h.saveStateLocked()
	}
}

func isZombieChild(p proc.Proc) bool {
	s, err := proc.ReadStat(p.PID)
	return err == nil && s.StartTime == p.StartTime && s.State == 'Z' && s.PPID == os.Getpid()
}

// reapOrphans waits for tracked zombies that were reparented to us.
func (h *Hub) reapOrphans() {
	h.mu.Lock()
	var ps []proc.Proc
	for q := range h.tracked {
		if !h.ownPIDs[q.PID] {
			ps = append(ps, q)
		}
	}
	h.mu.Unlock()
	proc.Reap(ps)
}

// Restart stops the hub process only (SIGTERM, grace, SIGKILL; the proxy,
// the database and any single-user servers stay), starts it again with
// the same config and measures the start. A failed restart returns a
// *StartError; the Hub can then be restarted again or stopped.
func (h *Hub) Restart(ctx context.Context) (StartReport, error) {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return StartReport{}, ErrStopped
	}
	old, oldCg := h.hub, h.cg
	h.mu.Unlock()
	h.stopMonitor()
	if old != nil && !old.exited() {
		h.track(old.p)
		if m, err := proc.ReadMem(old.p.PID); err == nil {
			h.notePeak(m.HWM)
		}
		fmt.Fprintf(h.log, "hubcap: stopping jupyterhub pid %d for restart\n", old.p.PID)
		kctx, cancel := context.WithTimeout(ctx, h.st.StopGrace+10*time.Second)
		err := proc.KillTree(kctx, []proc.Proc{old.p}, h.st.StopGrace)
		if err == nil {
			err = old.wait(kctx)
		}
		cancel()
		if err != nil {
			return StartReport{}, fmt.Errorf("stop hub for restart: %w", err)
		}
	}
	if oldCg != nil {
		if err := h.removeCgroup(ctx, oldCg); err != nil {
			fmt.Fprintf(h.log, "hubcap: warning: %v\n", err)
		}
		h.mu.Lock()
		h.cg = nil
		h.mu.Unlock()
	}
	return h.startHub(ctx)
}

func (h *Hub) removeCgroup(ctx context.Context, cg *proc.MemoryCgroup) error {
	if err := cg.Kill(ctx, h.st.StopGrace); err != nil {
		return err
	}
	return cg.Remove()
}

// Stop ends everything: the hub (SIGTERM, StopGrace, SIGKILL), every
// process seen in its tree (single-user servers, kernels, including those
// orphaned by earlier restarts), companions, and the proxy; it removes
// the cgroups and marks the state file stopped. The run directory stays.
// Stop is idempotent.
func (h *Hub) Stop(ctx context.Context) error {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return nil
	}
	h.stopped = true
	h.mu.Unlock()
	h.stopMonitor()

	var errs []error
	grace := h.st.StopGrace
	h.mu.Lock()
	hubc, proxyc, cg, scg := h.hub, h.proxy, h.cg, h.serversCg
	companions := slices.Clone(h.st.Companions)
	h.mu.Unlock()
	if hubc != nil {
		h.track(hubc.p)
		if m, err := proc.ReadMem(hubc.p.PID); err == nil {
			h.notePeak(m.HWM)
		}
		if err := proc.KillTree(ctx, []proc.Proc{hubc.p}, grace); err != nil {
			errs = append(errs, fmt.Errorf("stop hub: %w", err))
		}
		if err := hubc.wait(ctx); err != nil {
			errs = append(errs, fmt.Errorf("wait for hub: %w", err))
		}
	}
	h.mu.Lock()
	rest := slices.Collect(maps.Keys(h.tracked))
	h.mu.Unlock()
	for _, c := range companions {
		rest = append(rest, c.Proc)
	}
	for _, g := range []*proc.MemoryCgroup{cg, scg} {
		if g == nil {
			continue
		}
		if pids, err := g.Procs(); err == nil {
			for _, pid := range pids {
				if p, err := proc.Identify(pid); err == nil {
					rest = append(rest, p)
				}
			}
		}
	}
	if err := proc.KillTree(ctx, rest, grace); err != nil {
		errs = append(errs, fmt.Errorf("stop servers: %w", err))
	}
	if proxyc != nil {
		if err := proc.KillTree(ctx, []proc.Proc{proxyc.p}, grace); err != nil {
			errs = append(errs, fmt.Errorf("stop proxy: %w", err))
		}
		if err := proxyc.wait(ctx); err != nil {
			errs = append(errs, fmt.Errorf("wait for proxy: %w", err))
		}
	}
	h.mu.Lock()
	var orphans []proc.Proc
	for q := range h.tracked {
		if !h.ownPIDs[q.PID] {
			orphans = append(orphans, q)
		}
	}
	h.mu.Unlock()
	proc.Reap(orphans)
	for _, g := range []*proc.MemoryCgroup{cg, scg} {
		if g != nil {
			if err := h.removeCgroup(ctx, g); err != nil {
				errs = append(errs, err)
			}
		}
	}
	h.mu.Lock()
	h.cg, h.serversCg = nil, nil
	h.st.Cgroup, h.st.ServersCgroup = "", ""
	h.st.Stopped = true
	h.st.Tracked = nil
	h.tracked = map[proc.Proc]bool{}
	h.mu.Unlock()
	if err := h.saveState(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		fmt.Fprintf(h.log, "hubcap: stopped jupyterhub %s (run dir %s)\n", h.st.Release, h.st.RunDir)
	}
	return errors.Join(errs...)
}

func (h *Hub) saveState() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.saveStateLocked()
}

func (h *Hub) saveStateLocked() error {
	h.st.UpdatedAt = time.Now().UTC()
	return WriteState(h.st.RunDir, h.st)
}

// Detach lets the processes run on without this Hub: it stops the
// background monitoring and makes Stop and Restart refuse, so a detached
// hub is managed only through Attach (hubcap hub up calls it before it
// exits). The state file stays as it is.
func (h *Hub) Detach() {
	h.stopMonitor()
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
}

// AddCompanion records a process (by pid) to be stopped with the hub, such
// as a fleet server started for it; it is written to the state file.
func (h *Hub) AddCompanion(name string, pid int) error {
	p, err := proc.Identify(pid)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return ErrStopped
	}
	h.st.Companions = append(h.st.Companions, Companion{Name: name, Proc: p})
	return h.saveStateLocked()
}

// URL is the public URL (the proxy), e.g. http://127.0.0.1:41234.
func (h *Hub) URL() string { return h.st.URL }

// HubAPIURL is the REST API base through the proxy, ending in /hub/api.
func (h *Hub) HubAPIURL() string { return h.st.URL + "/hub/api" }

// TokenFile is the 0600 file holding the hubcap service's API token.
func (h *Hub) TokenFile() string { return filepath.Join(h.st.RunDir, ServiceTokenFile) }

// Token reads the hubcap service's API token from TokenFile.
func (h *Hub) Token() (string, error) { return ReadToken(h.TokenFile()) }

// ReadToken reads a token file, trimming whitespace.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("read token: %s is empty", path)
	}
	return t, nil
}

// PID is the current hub process.
func (h *Hub) PID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st.Hub.PID
}

// ProxyPID is the configurable-http-proxy process.
func (h *Hub) ProxyPID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st.Proxy.PID
}

// RunDir is the run directory.
func (h *Hub) RunDir() string { return h.st.RunDir }

// Release is the JupyterHub release.
func (h *Hub) Release() string { return h.st.Release }

// Ports are the loopback ports in use.
func (h *Hub) Ports() Ports { return h.st.Ports }

// LogFile is the hub's log (stdout and stderr of every start, appended).
func (h *Hub) LogFile() string { return filepath.Join(h.st.RunDir, LogFile) }

// StartReport is the report of the first start (zero for an attached Hub).
func (h *Hub) StartReport() StartReport { return h.first }

// PeakRSS is the largest VmHWM seen of the current hub process so far
// (sampled during start-up, then every second, and before it is stopped).
func (h *Hub) PeakRSS() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peakRSS
}

// State returns a copy of what the state file records.
func (h *Hub) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.st
	s.Tracked = slices.Clone(s.Tracked)
	s.Companions = slices.Clone(s.Companions)
	return s
}

// TrackedTree returns every process the harness knows belongs to this hub:
// proxy, hub, and the hub's tracked descendants, as of now.
func (h *Hub) TrackedTree() []proc.Proc {
	h.mu.Lock()
	hubp := h.st.Hub
	h.mu.Unlock()
	h.track(hubp)
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []proc.Proc{h.st.Proxy, h.st.Hub}
	out = append(out, slices.Collect(maps.Keys(h.tracked))...)
	for _, c := range h.st.Companions {
		out = append(out, c.Proc)
	}
	return out
}

// redact replaces secrets in s (for log tails shown to users).
func (h *Hub) redact(s string) string {
	secrets := []string{h.serviceToken, h.proxyToken}
	for _, v := range h.env {
		if len(v) >= 8 {
			secrets = append(secrets, v)
		}
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// tailFile returns the last n lines of path after byte offset (at most 64 KiB).
func tailFile(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	const maxTail = 64 << 10
	from := max(offset, st.Size()-maxTail)
	buf := make([]byte, st.Size()-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return lastLines(string(buf), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
