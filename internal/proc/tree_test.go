package proc

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestDescendantsOf(t *testing.T) {
	snap := []Stat{
		{PID: 1, PPID: 0},
		{PID: 10, PPID: 1},
		{PID: 11, PPID: 10},
		{PID: 12, PPID: 11},
		{PID: 13, PPID: 10},
		{PID: 20, PPID: 1},  // sibling tree, not ours
		{PID: 30, PPID: 30}, // malformed self-parent is ignored
	}
	got := []int{}
	for _, s := range DescendantsOf(10, snap) {
		got = append(got, s.PID)
	}
	// Breadth first: parents before children.
	if want := []int{11, 13, 12}; !slices.Equal(got, want) {
		t.Fatalf("descendants of 10 = %v, want %v", got, want)
	}
	if d := DescendantsOf(12, snap); len(d) != 0 {
		t.Fatalf("leaf has descendants %v", d)
	}
}

// startTree starts sh with two sleeping children and waits until both show up.
func startTree(t *testing.T, script string) (*exec.Cmd, []Proc) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitOnce sync.Once
	waited := make(chan struct{})
	wait := func() { waitOnce.Do(func() { _ = cmd.Wait(); close(waited) }) }
	go wait()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
	})
	root, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tree, err := Tree(root)
		if err != nil {
			t.Fatal(err)
		}
		if len(tree) >= 3 {
			return cmd, tree
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree of %d never grew: %v", root.PID, tree)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillTreeTERM(t *testing.T) {
	_, tree := startTree(t, "sleep 100 & sleep 100 & wait")
	if err := KillTree(context.Background(), tree, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, p := range tree {
		if Alive(p) {
			t.Errorf("pid %d still alive", p.PID)
		}
	}
}

func TestKillTreeEscalatesToKILL(t *testing.T) {
	// Ignored signals are inherited across exec: nobody here dies of SIGTERM.
	_, tree := startTree(t, `trap "" TERM; sleep 100 & sleep 100 & wait`)
	start := time.Now()
	if err := KillTree(context.Background(), tree, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("returned after %v, before the grace period: SIGTERM was not ignored?", el)
	}
	for _, p := range tree {
		if Alive(p) {
			t.Errorf("pid %d survived SIGKILL", p.PID)
		}
	}
}

func TestAliveChecksStartTime(t *testing.T) {
	self, err := Identify(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(self) {
		t.Fatal("self not alive")
	}
	self.StartTime++ // a different process that reused the pid
	if Alive(self) {
		t.Fatal("Alive ignores the start time")
	}
	if err := Signal(self, 0); err == nil {
		t.Fatal("Signal reached a process with another start time")
	}
}

func TestSubreaperAdoptsOrphans(t *testing.T) {
	if err := SetChildSubreaper(); err != nil {
		t.Fatal(err)
	}
	// sh starts a sleeper and exits at once: the sleeper is orphaned.
	out, err := exec.Command("/bin/sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Identify(pid)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ReadStat(pid)
	if s.PPID != os.Getpid() {
		t.Fatalf("orphan %d has parent %d, want us (%d)", pid, s.PPID, os.Getpid())
	}
	if err := KillTree(context.Background(), []Proc{p}, time.Second); err != nil {
		t.Fatal(err)
	}
	Reap([]Proc{p})
	if _, err := ReadStat(pid); err == nil {
		t.Fatalf("orphan %d not reaped", pid)
	}
}
