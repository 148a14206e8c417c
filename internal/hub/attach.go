package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hubcap-dev/hubcap/internal/proc"
)

// Attach returns a Hub for the hub recorded in runDir's state file, so a
// later command can restart or stop a hub started detached. The Hub's
// processes are not children of the caller: Stop and Restart find them by
// PID and start time. A Restart starts the new hub detached again when the
// original was.
func Attach(runDir string, log io.Writer) (*Hub, error) {
	dir, err := filepath.Abs(runDir)
	if err != nil {
		return nil, err
	}
	st, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	if st.Stopped {
		return nil, fmt.Errorf("%w: the hub in %s was stopped; start it with hubcap hub up --run-dir %s", ErrStopped, dir, dir)
	}
	if log == nil {
		log = io.Discard
	}
	install, err := startInstall(Options{Root: st.Root, Release: st.Release, JupyterHub: st.InstallDir, Spawner: st.Spawner})
	if err != nil {
		return nil, err
	}
	h := &Hub{
		st:       st,
		install:  install,
		log:      log,
		interval: DefaultSampleInterval,
		tracked:  map[proc.Proc]bool{},
		ownPIDs:  map[int]bool{},
	}
	for _, p := range st.Tracked {
		h.tracked[p] = true
	}
	if h.serviceToken, err = ReadToken(filepath.Join(dir, ServiceTokenFile)); err != nil {
		return nil, err
	}
	if h.proxyToken, err = ReadToken(filepath.Join(dir, proxyTokenFile)); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, hubEnvFile)); err == nil {
		if err := json.Unmarshal(b, &h.env); err != nil {
			return nil, fmt.Errorf("%s: %w", hubEnvFile, err)
		}
	} else if len(st.EnvKeys) > 0 {
		return nil, fmt.Errorf("the hub's environment file is missing: %w", err)
	}
	h.proxy = &child{p: st.Proxy}
	h.hub = &child{p: st.Hub}
	if st.MemoryLimit > 0 {
		mc, err := proc.DetectMemoryController()
		if err != nil {
			return nil, err
		}
		h.mc = &mc
		if st.Cgroup != "" {
			if cg, err := proc.OpenMemoryCgroup(st.Cgroup); err == nil {
				h.cg = cg
			}
		}
		if st.ServersCgroup != "" {
			if cg, err := proc.OpenMemoryCgroup(st.ServersCgroup); err == nil {
				h.serversCg = cg
			}
		}
	}
	return h, nil
}

// Status is what `hubcap hub status` shows.
type Status struct {
	State State `json:"state"`
	// HubAlive and ProxyAlive say whether the recorded processes still run.
	HubAlive   bool `json:"hub_alive"`
	ProxyAlive bool `json:"proxy_alive"`
	// Healthy: /hub/health answered 200 through the proxy.
	Healthy bool `json:"healthy"`
	// Mem is the hub's VmRSS/VmHWM when alive.
	Mem proc.Mem `json:"mem"`
	// Cgroup holds the hub cgroup's counters when it has one.
	Cgroup *proc.MemoryStats `json:"cgroup,omitempty"`
}

// Running reports whether hub and proxy both run.
func (s Status) Running() bool { return s.HubAlive && s.ProxyAlive }

// StatusOf inspects the hub recorded in runDir without changing anything.
func StatusOf(ctx context.Context, runDir string) (Status, error) {
	st, err := ReadState(runDir)
	if err != nil {
		return Status{}, err
	}
	s := Status{State: st}
	s.HubAlive = !st.Stopped && proc.Alive(st.Hub)
	s.ProxyAlive = !st.Stopped && proc.Alive(st.Proxy)
	if s.HubAlive {
		s.Mem, _ = proc.ReadMem(st.Hub.PID)
	}
	if s.ProxyAlive {
		s.Healthy = healthy(ctx, httpClient(), st.URL+"/hub/health")
	}
	if st.Cgroup != "" && !st.Stopped {
		if cg, err := proc.OpenMemoryCgroup(st.Cgroup); err == nil {
			if ms, err := cg.Stats(); err == nil {
				s.Cgroup = &ms
			}
		}
	}
	return s, nil
}
