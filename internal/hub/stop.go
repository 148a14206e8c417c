package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
)

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
	for _, c := range companions {
		if c.RemoveDir == "" {
			continue
		}
		if proc.Alive(c.Proc) {
			errs = append(errs, fmt.Errorf("%s (pid %d) still runs: %s kept", c.Name, c.Proc.PID, c.RemoveDir))
		} else if err := os.RemoveAll(c.RemoveDir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s's directory: %w", c.Name, err))
		}
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

// StopProcess ends the hub process only (SIGTERM, SIGKILL after 20 s) and
// leaves the proxy, companions such as a fleet, and the run directory as
// they are, so that the database can be rewritten or replaced between two
// restarts; Restart then finds the hub exited and only starts it. A hub
// process already gone (e.g. OOM-killed) is not an error.
func (h *Hub) StopProcess(ctx context.Context) error {
	pid := h.PID()
	p, err := proc.Identify(pid)
	if err != nil {
		return nil // already gone
	}
	if err := proc.Signal(p, syscall.SIGTERM); err != nil && !errors.Is(err, proc.ErrNoProcess) {
		return fmt.Errorf("hub: stop jupyterhub pid %d: %w", pid, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for proc.Alive(p) {
		if time.Now().After(deadline) {
			_ = proc.Signal(p, syscall.SIGKILL)
			deadline = time.Now().Add(time.Hour)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return nil
}
