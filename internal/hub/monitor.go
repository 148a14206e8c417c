package hub

import (
	"context"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
)

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
