package hub

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
func (h *Hub) AddCompanion(name string, pid int) error { return h.AddCompanionDir(name, pid, "") }

// AddCompanionDir is AddCompanion for a process whose directory dir Stop
// deletes once it has stopped it (a throwaway database cluster's).
func (h *Hub) AddCompanionDir(name string, pid int, dir string) error {
	p, err := proc.Identify(pid)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return ErrStopped
	}
	h.st.Companions = append(h.st.Companions, Companion{Name: name, Proc: p, RemoveDir: dir})
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
