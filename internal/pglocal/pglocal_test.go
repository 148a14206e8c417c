package pglocal

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/testenv"
)

// A cluster answers over TCP with its password, PID names its running
// server, and Stop stops it and leaves no directory behind.
func TestStartStop(t *testing.T) {
	var m *MissingError
	if err := Installed(); errors.As(err, &m) {
		testenv.Missing(t, m.What, m.Hint)
	}
	dirSeen := ""
	c, err := Start(Options{OnDir: func(d string) { dirSeen = d }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if dirSeen != c.Dir {
		t.Errorf("OnDir saw %q, the cluster is in %q", dirSeen, c.Dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE probe"); err != nil {
		t.Fatal(err)
	}
	pid, err := c.PID()
	if err != nil || syscall.Kill(pid, 0) != nil {
		t.Fatalf("PID %d, %v: not a running process", pid, err)
	}
	c.Stop()
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after Stop (%v)", c.Dir, err)
	}
	if syscall.Kill(pid, 0) == nil {
		// the server may be a zombie of no one's until init reaps it; give it a moment
		time.Sleep(2 * time.Second)
		if b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat"); err == nil && !zombie(b) {
			t.Errorf("server pid %d still runs after Stop", pid)
		}
	}
	c.Stop() // idempotent
}

func itoa(n int) string { return strconv.Itoa(n) }

// zombie says whether a /proc/PID/stat line is of a zombie (state Z).
func zombie(stat []byte) bool {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
