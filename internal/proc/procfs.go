// Package proc reads per-process figures from Linux /proc (resident memory,
// its high-water mark, CPU times, parentage), finds and kills process trees,
// and puts processes under cgroup v1 or v2 memory limits.
//
// It is Linux-only: it is the measuring side of hubcap's local hub harness.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrNoProcess reports that a process does not exist (or no longer exists).
var ErrNoProcess = errors.New("no such process")

// ErrParse reports malformed /proc content.
var ErrParse = errors.New("cannot parse /proc data")

// ClockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat.
// Linux fixes it at 100 on every architecture hubcap runs on.
const ClockTicks = 100

// procRoot is the mount point of procfs; a variable so tests can point it at a fixture.
var procRoot = "/proc"

// Mem holds the memory figures of /proc/PID/status, in bytes.
type Mem struct {
	// RSS is VmRSS: resident set size now.
	RSS int64
	// HWM is VmHWM: the peak resident set size over the process's life.
	// It vanishes with the process, so read it before the process is reaped.
	HWM int64
}

// ReadMem returns VmRSS and VmHWM of pid. It wraps ErrNoProcess when the
// process is gone and ErrParse when the fields are missing (kernel threads,
// zombies).
func ReadMem(pid int) (Mem, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return Mem{}, noProcess(pid, err)
	}
	m, err := ParseStatus(b)
	if err != nil {
		return Mem{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return m, nil
}

// ParseStatus extracts VmRSS and VmHWM (given in kB, returned in bytes)
// from the text of /proc/PID/status.
func ParseStatus(b []byte) (Mem, error) {
	var m Mem
	var haveRSS, haveHWM bool
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst, haveRSS = &m.RSS, true
		case "VmHWM":
			dst, haveHWM = &m.HWM, true
		default:
			continue
		}
		f := bytes.Fields(val)
		if len(f) != 2 || string(f[1]) != "kB" {
			return Mem{}, fmt.Errorf("%w: status field %s: %q", ErrParse, key, bytes.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 || kb > (1<<53)/1024 {
			return Mem{}, fmt.Errorf("%w: status field %s: %q", ErrParse, key, f[0])
		}
		*dst = kb * 1024
	}
	if !haveRSS || !haveHWM {
		return Mem{}, fmt.Errorf("%w: status has no VmRSS/VmHWM (zombie or kernel thread)", ErrParse)
	}
	return m, nil
}

// Stat holds the fields of /proc/PID/stat that hubcap uses.
type Stat struct {
	PID     int
	Comm    string
	State   byte // R, S, D, Z, T, ...
	PPID    int
	PGID    int
	Session int
	// UTime and STime are the CPU time spent in user and kernel mode.
	UTime, STime time.Duration
	// StartTime is the start time in clock ticks after boot; together with
	// PID it identifies a process across PID reuse.
	StartTime uint64
}

// CPU returns user plus system CPU time.
func (s Stat) CPU() time.Duration { return s.UTime + s.STime }

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, noProcess(pid, err)
	}
	s, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return s, nil
}

// ParseStat parses one /proc/PID/stat line. The command name is in
// parentheses and may itself contain spaces and parentheses, so the fields
// after it are located from the last ')'.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open < 1 || close < open {
		return Stat{}, fmt.Errorf("%w: stat line without (comm)", ErrParse)
	}
	var s Stat
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return Stat{}, fmt.Errorf("%w: stat pid %q", ErrParse, bytes.TrimSpace(b[:open]))
	}
	s.PID = pid
	s.Comm = string(b[open+1 : close])
	// Fields after comm, numbered from 3 (state) as in proc(5).
	f := bytes.Fields(b[close+1:])
	const need = 22 - 2 // up to field 22 (starttime)
	if len(f) < need {
		return Stat{}, fmt.Errorf("%w: stat has %d fields after comm, want >= %d", ErrParse, len(f), need)
	}
	field := func(n int) []byte { return f[n-3] }
	if len(field(3)) != 1 {
		return Stat{}, fmt.Errorf("%w: stat state %q", ErrParse, field(3))
	}
	s.State = field(3)[0]
	ints := []struct {
		n   int
		dst *int
	}{{4, &s.PPID}, {5, &s.PGID}, {6, &s.Session}}
	for _, x := range ints {
		v, err := strconv.Atoi(string(field(x.n)))
		if err != nil {
			return Stat{}, fmt.Errorf("%w: stat field %d %q", ErrParse, x.n, field(x.n))
		}
		*x.dst = v
	}
	ticks := func(n int) (uint64, error) {
		v, err := strconv.ParseUint(string(field(n)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: stat field %d %q", ErrParse, n, field(n))
		}
		return v, nil
	}
	ut, err := ticks(14)
	if err != nil {
		return Stat{}, err
	}
	st, err := ticks(15)
	if err != nil {
		return Stat{}, err
	}
	if s.StartTime, err = ticks(22); err != nil {
		return Stat{}, err
	}
	s.UTime = ticksToDuration(ut)
	s.STime = ticksToDuration(st)
	return s, nil
}

func ticksToDuration(t uint64) time.Duration {
	const maxTicks = uint64(1<<63-1) / uint64(time.Second/ClockTicks)
	if t > maxTicks {
		t = maxTicks
	}
	return time.Duration(t) * (time.Second / ClockTicks)
}

func noProcess(pid int, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	// ESRCH shows up when a process dies between open and read.
	if errors.Is(err, errESRCH) {
		return fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	return fmt.Errorf("pid %d: %w", pid, err)
}
