package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/proc"
)

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
	install, err := startInstall(o)
	if err != nil {
		return nil, err
	}
	if o.JupyterHub != "" {
		o.JupyterHub = install.Dir // absolute, for the state file
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
		InstallDir:   o.JupyterHub,
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
	if o.DBURL != "" {
		if h.env == nil {
			h.env = map[string]string{}
		}
		h.env[DBURLEnv] = o.DBURL
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

// startInstall is the install Start runs: o.JupyterHub's when set (with
// jupyterhub-singleuser for local spawners), else the release's venv.
func startInstall(o Options) (Install, error) {
	if o.JupyterHub == "" {
		return FindInstall(o.Root, o.Release)
	}
	in, err := InstallAt(o.JupyterHub)
	if err != nil {
		return Install{}, err
	}
	in.Release = o.Release
	if o.Spawner == SpawnerLocal && !isExecutable(in.Bin("jupyterhub-singleuser")) {
		return Install{}, fmt.Errorf("%w: %s has no bin/jupyterhub-singleuser, which the local spawner runs; install jupyter_server there or use the fleet spawner", ErrPythonMissing, in.Dir)
	}
	return in, nil
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
		ExternalDB:           o.DBURL != "",
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
			h.st.Release, c.p.PID, logPath, failure, bytesize.Format(limit))
	case ErrHubExited:
		failure = fmt.Errorf("jupyterhub %s (pid %d, log %s): %w", h.st.Release, c.p.PID, logPath, failure)
	}
	return rep, &StartError{Report: rep, Err: failure}
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
