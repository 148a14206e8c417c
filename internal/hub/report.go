package hub

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/proc"
)

// Errors of starting and stopping. Start and Restart wrap them in a
// *StartError that carries the StartReport.
var (
	// ErrStartTimeout: the hub did not answer /hub/health in time.
	ErrStartTimeout = errors.New("hub did not become healthy in time")
	// ErrOOMKilled: the hub was killed by its memory cgroup's OOM killer.
	ErrOOMKilled = errors.New("hub was OOM-killed")
	// ErrHubExited: the hub process ended before it became healthy.
	ErrHubExited = errors.New("hub exited before it became healthy")
	// ErrProxy: configurable-http-proxy did not start or died.
	ErrProxy = errors.New("configurable-http-proxy failed")
	// ErrPortBusy: a port that was asked for explicitly is taken.
	ErrPortBusy = errors.New("port in use")
	// ErrAlreadyRunning: the run directory's hub is still running.
	ErrAlreadyRunning = errors.New("a hub is already running there")
	// ErrStopped: the Hub has been stopped; start a new one.
	ErrStopped = errors.New("hub harness already stopped")
	// ErrNoState: no hubcap state file in the run directory.
	ErrNoState = errors.New("no hubcap state")
	// ErrBadOptions: Options.Validate found problems.
	ErrBadOptions = errors.New("invalid hub options")
)

// OutcomeKind classifies how a start ended.
type OutcomeKind string

// Outcome kinds.
const (
	OutcomeHealthy   OutcomeKind = "healthy"
	OutcomeOOMKilled OutcomeKind = "oom_killed"
	OutcomeExited    OutcomeKind = "exited"
	OutcomeTimeout   OutcomeKind = "timeout"
	// OutcomeCanceled: the caller's context ended during the start.
	OutcomeCanceled OutcomeKind = "canceled"
)

// Outcome is how one hub start ended.
type Outcome struct {
	Kind OutcomeKind `json:"kind"`
	// ExitCode is the exit status for OutcomeExited (-1 when killed by a signal).
	ExitCode int `json:"exit_code,omitempty"`
	// Signal names the signal that killed the process, if one did.
	Signal string `json:"signal,omitempty"`
}

func (o Outcome) String() string {
	switch o.Kind {
	case OutcomeExited:
		if o.Signal != "" {
			return "exited (killed by " + o.Signal + ")"
		}
		return fmt.Sprintf("exited(%d)", o.ExitCode)
	case OutcomeOOMKilled:
		return "OOMKilled"
	case "":
		return "unknown"
	}
	return string(o.Kind)
}

// StartReport describes one start of the hub process (the first start or a
// restart) up to the moment it became healthy or failed.
type StartReport struct {
	Release string  `json:"release"`
	Outcome Outcome `json:"outcome"`
	// SecondsToHealthy is the time from exec to the first 200 of
	// /hub/health both on the hub port and through the proxy; on failure,
	// the time until the failure was seen.
	SecondsToHealthy float64 `json:"seconds_to_healthy"`
	// PeakRSS is the largest VmHWM of the hub process seen during the start
	// (bytes); its kernel-kept peak catches spikes between samples.
	PeakRSS int64 `json:"peak_rss"`
	// Samples are VmRSS/VmHWM readings every SampleInterval during the start.
	Samples []proc.MemSample `json:"samples,omitempty"`
	// Limit is the memory limit in bytes (0: none).
	Limit int64 `json:"limit,omitempty"`
	// CgroupPeak is the memory cgroup's own peak usage (bytes; 0 without a cgroup).
	CgroupPeak int64 `json:"cgroup_peak,omitempty"`
	// PID is the hub process.
	PID int `json:"pid"`
	// LogTail holds the last lines of the hub log when the start failed.
	LogTail string `json:"log_tail,omitempty"`
}

// Summary renders the report in one line for people.
func (r StartReport) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jupyterhub %s: %s after %.2fs, peak RSS %s", r.Release, r.Outcome, r.SecondsToHealthy, bytesize.Format(r.PeakRSS))
	if r.Limit > 0 {
		fmt.Fprintf(&b, ", cgroup peak %s of limit %s", bytesize.Format(r.CgroupPeak), bytesize.Format(r.Limit))
	}
	return b.String()
}

// StartError is returned when a start or restart fails; it carries the report.
type StartError struct {
	Report StartReport
	Err    error
}

func (e *StartError) Error() string {
	msg := fmt.Sprintf("%v: %s", e.Err, e.Report.Summary())
	if e.Report.LogTail != "" {
		msg += "\nlast lines of the hub log:\n" + e.Report.LogTail
	}
	return msg
}

func (e *StartError) Unwrap() error { return e.Err }
