package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var errESRCH = syscall.ESRCH

// Proc identifies one process across PID reuse: a PID is only the same
// process while its start time (clock ticks after boot) is unchanged.
type Proc struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

// Identify returns the Proc of a running pid.
func Identify(pid int) (Proc, error) {
	s, err := ReadStat(pid)
	if err != nil {
		return Proc{}, err
	}
	return Proc{PID: pid, StartTime: s.StartTime}, nil
}

// Alive reports whether p still runs: its PID exists with the same start
// time and it is not a zombie. A zombie has exited and only waits to be reaped.
func Alive(p Proc) bool {
	s, err := ReadStat(p.PID)
	if err != nil {
		return false
	}
	return s.StartTime == p.StartTime && s.State != 'Z' && s.State != 'X'
}

// Snapshot lists the stat of every process visible in /proc. Processes that
// vanish while it reads are skipped.
func Snapshot() ([]Stat, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", procRoot, err)
	}
	out := make([]Stat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		s, err := ReadStat(pid)
		if err != nil {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// DescendantsOf returns every process in procs whose chain of parents leads
// to root (root itself excluded), parents before children. It is a pure
// function of the snapshot.
func DescendantsOf(root int, procs []Stat) []Stat {
	children := make(map[int][]Stat, len(procs))
	for _, s := range procs {
		if s.PID == s.PPID { // malformed; avoid self-loops
			continue
		}
		children[s.PPID] = append(children[s.PPID], s)
	}
	var out []Stat
	seen := map[int]bool{root: true}
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if seen[c.PID] {
				continue
			}
			seen[c.PID] = true
			out = append(out, c)
			queue = append(queue, c.PID)
		}
	}
	return out
}

// Descendants returns the live descendants of pid (children, grandchildren,
// ...), read from /proc/*/stat.
func Descendants(pid int) ([]Proc, error) {
	snap, err := Snapshot()
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, s := range DescendantsOf(pid, snap) {
		if s.State == 'Z' {
			continue
		}
		out = append(out, Proc{PID: s.PID, StartTime: s.StartTime})
	}
	return out, nil
}

// Tree returns p followed by its live descendants. When p is no longer
// alive it returns only the descendants that can still be found (none, once
// they have been reparented away).
func Tree(p Proc) ([]Proc, error) {
	d, err := Descendants(p.PID)
	if err != nil {
		return nil, err
	}
	if Alive(p) {
		return append([]Proc{p}, d...), nil
	}
	return d, nil
}

// Signal sends sig to p if p is still the same process. It returns
// ErrNoProcess when p is gone.
func Signal(p Proc, sig syscall.Signal) error {
	if !Alive(p) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrNoProcess)
	}
	if err := unix.Kill(p.PID, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pid %d: %w", p.PID, ErrNoProcess)
		}
		return fmt.Errorf("signal pid %d: %w", p.PID, err)
	}
	return nil
}

// KillTree stops the given processes: SIGTERM to each (and to its process
// group when it leads one), then, for whatever is still alive after grace,
// SIGKILL. It returns when all are gone, or with an error naming the
// survivors when they outlive SIGKILL by 5 s or ctx ends. Zombies count as
// gone; reaping them is the parent's business (see Reap).
//
// Callers collect the list first (Tree, Descendants) while the parent is
// still alive: once a parent dies its orphans are reparented and can no
// longer be found from it.
func KillTree(ctx context.Context, procs []Proc, grace time.Duration) error {
	alive := func() []Proc {
		var out []Proc
		for _, p := range procs {
			if Alive(p) {
				out = append(out, p)
			}
		}
		return out
	}
	signal := func(sig syscall.Signal, ps []Proc) {
		for _, p := range ps {
			if s, err := ReadStat(p.PID); err == nil && s.StartTime == p.StartTime && s.PGID == p.PID {
				_ = unix.Kill(-p.PID, sig) // the whole group it leads
			}
			_ = Signal(p, sig)
		}
	}
	left := alive()
	if len(left) == 0 {
		return nil
	}
	signal(syscall.SIGTERM, left)
	if left = waitGone(ctx, alive, grace); len(left) == 0 {
		return nil
	}
	signal(syscall.SIGKILL, left)
	if left = waitGone(ctx, alive, 5*time.Second); len(left) == 0 {
		return nil
	}
	pids := make([]int, len(left))
	for i, p := range left {
		pids[i] = p.PID
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("processes %v still alive: %w", pids, err)
	}
	return fmt.Errorf("processes %v survived SIGKILL (uninterruptible sleep?)", pids)
}

// waitGone polls alive every 20 ms for up to d; it returns the survivors.
func waitGone(ctx context.Context, alive func() []Proc, d time.Duration) []Proc {
	deadline := time.Now().Add(d)
	for {
		left := alive()
		if len(left) == 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			return left
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// SetChildSubreaper marks the calling process as a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER): orphans among its descendants are
// reparented to it instead of to init, so it can still find, kill and reap
// them. The setting is process-wide and inherited by no one.
func SetChildSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// Reap collects the exit status of those procs that are zombie children of
// the calling process, without blocking. Use it for orphans reparented to a
// subreaper; never for processes started with os/exec, whose Wait does it.
func Reap(procs []Proc) {
	me := os.Getpid()
	for _, p := range procs {
		s, err := ReadStat(p.PID)
		if err != nil || s.StartTime != p.StartTime || s.PPID != me || s.State != 'Z' {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.PID, &ws, unix.WNOHANG, nil)
	}
}

// PIDs returns the PIDs of procs, sorted.
func PIDs(procs []Proc) []int {
	out := make([]int, len(procs))
	for i, p := range procs {
		out[i] = p.PID
	}
	slices.Sort(out)
	return out
}
