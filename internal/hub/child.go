package hub

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hubcap-dev/hubcap/internal/proc"
)

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
