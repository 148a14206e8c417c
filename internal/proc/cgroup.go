package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoCgroup reports that no memory cgroup can be created here; the
// wrapping error says why and what to do.
var ErrNoCgroup = errors.New("no usable memory cgroup")

// CgroupRootEnv names an environment variable that, when set, is the
// directory under which hubcap creates its memory cgroups (for instance a
// delegated cgroup v2 subtree). Detection then checks only that directory.
const CgroupRootEnv = "HUBCAP_CGROUP_ROOT"

// CgroupVersion is 1 (legacy hierarchy, one mount per controller) or 2
// (unified hierarchy).
type CgroupVersion int

// Cgroup versions.
const (
	CgroupV1 CgroupVersion = 1
	CgroupV2 CgroupVersion = 2
)

func (v CgroupVersion) String() string { return "v" + strconv.Itoa(int(v)) }

// MemoryController is a directory under which memory cgroups can be made.
type MemoryController struct {
	Version CgroupVersion
	// Root is the parent directory of the cgroups hubcap creates.
	Root string
}

// Mount is one line of /proc/self/mounts.
type Mount struct {
	Device, Point, FSType string
	Options               []string
}

// ParseMounts parses the text of /proc/self/mounts (fstab format; octal
// escapes such as \040 in paths are decoded). Malformed lines are skipped.
func ParseMounts(b []byte) []Mount {
	var out []Mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		out = append(out, Mount{
			Device:  unescapeMount(f[0]),
			Point:   unescapeMount(f[1]),
			FSType:  f[2],
			Options: strings.Split(f[3], ","),
		})
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// DetectMemoryController finds where memory cgroups can be created: the
// directory named by $HUBCAP_CGROUP_ROOT if set, else a writable cgroup v1
// memory mount, else a cgroup v2 mount whose memory controller is available.
// On failure the error wraps ErrNoCgroup and lists, for every candidate, why
// it was refused and what to do.
func DetectMemoryController() (MemoryController, error) {
	if dir := os.Getenv(CgroupRootEnv); dir != "" {
		mc, err := checkRoot(dir)
		if err != nil {
			return MemoryController{}, fmt.Errorf("%w: $%s=%s: %v", ErrNoCgroup, CgroupRootEnv, dir, err)
		}
		return mc, nil
	}
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return MemoryController{}, fmt.Errorf("%w: read /proc/self/mounts: %v", ErrNoCgroup, err)
	}
	var reasons []string
	var v1, v2 []string
	for _, m := range ParseMounts(b) {
		switch {
		case m.FSType == "cgroup" && slices.Contains(m.Options, "memory"):
			v1 = append(v1, m.Point)
		case m.FSType == "cgroup2":
			v2 = append(v2, m.Point)
		}
	}
	for _, dir := range append(v1, v2...) {
		mc, err := checkRoot(dir)
		if err == nil {
			return mc, nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", dir, err))
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "no cgroup v1 memory mount and no cgroup2 mount in /proc/self/mounts")
	}
	return MemoryController{}, fmt.Errorf("%w: %s; to use a memory limit run as root on a host with a writable "+
		"cgroup v1 memory controller (/sys/fs/cgroup/memory) or cgroup v2 with the memory controller enabled, "+
		"or point $%s at a delegated cgroup v2 directory; otherwise run without a memory limit",
		ErrNoCgroup, strings.Join(reasons, "; "), CgroupRootEnv)
}

// checkRoot says whether dir can parent memory cgroups.
func checkRoot(dir string) (MemoryController, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return MemoryController{}, err
	}
	if !st.IsDir() {
		return MemoryController{}, errors.New("not a directory")
	}
	var v CgroupVersion
	switch {
	case exists(filepath.Join(dir, "memory.limit_in_bytes")) || exists(filepath.Join(dir, "memory.usage_in_bytes")):
		v = CgroupV1
	case exists(filepath.Join(dir, "cgroup.controllers")):
		v = CgroupV2
		ctrl, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			return MemoryController{}, err
		}
		if !slices.Contains(strings.Fields(string(ctrl)), "memory") {
			return MemoryController{}, fmt.Errorf("cgroup v2 without the memory controller (controllers: %q)",
				strings.TrimSpace(string(ctrl)))
		}
		sub, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
		if err != nil {
			return MemoryController{}, err
		}
		if !slices.Contains(strings.Fields(string(sub)), "memory") {
			if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
				return MemoryController{}, fmt.Errorf("cannot enable memory for children (cgroup.subtree_control): %v", err)
			}
		}
	default:
		return MemoryController{}, errors.New("not a memory cgroup directory (no memory.limit_in_bytes, no cgroup.controllers)")
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return MemoryController{}, fmt.Errorf("cgroup %s directory not writable: %v", v, err)
	}
	return MemoryController{Version: v, Root: dir}, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var cgroupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// MemoryCgroup is one memory cgroup made (or opened) by hubcap.
type MemoryCgroup struct {
	Path    string
	Version CgroupVersion
	// Limit is the memory limit in bytes; 0 means none.
	Limit int64
}

// Create makes the cgroup Root/name and sets its memory limit (bytes; 0 for
// none). On v1 the memory+swap limit is set to the same value when the
// kernel has one, so swap cannot hide a breach; on v2 memory.swap.max is
// set to 0. An existing empty cgroup of that name is reused.
func (mc MemoryController) Create(name string, limit int64) (*MemoryCgroup, error) {
	if !cgroupName.MatchString(name) {
		return nil, fmt.Errorf("cgroup name %q: use letters, digits, '.', '_' and '-'", name)
	}
	if limit < 0 {
		return nil, fmt.Errorf("negative memory limit %d", limit)
	}
	dir := filepath.Join(mc.Root, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, fmt.Errorf("%w: mkdir %s: %v (run as root or delegate the cgroup)", ErrNoCgroup, dir, err)
		}
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	cg := &MemoryCgroup{Path: dir, Version: mc.Version}
	if err := cg.SetLimit(limit); err != nil {
		_ = os.Remove(dir)
		return nil, err
	}
	return cg, nil
}

// OpenMemoryCgroup opens an existing cgroup directory made by Create.
func OpenMemoryCgroup(dir string) (*MemoryCgroup, error) {
	cg := &MemoryCgroup{Path: dir}
	switch {
	case exists(filepath.Join(dir, "memory.limit_in_bytes")):
		cg.Version = CgroupV1
		if v, err := cg.readInt("memory.limit_in_bytes"); err == nil && v < 1<<62 {
			cg.Limit = v
		}
	case exists(filepath.Join(dir, "memory.max")):
		cg.Version = CgroupV2
		if v, err := cg.readInt("memory.max"); err == nil {
			cg.Limit = v
		}
	default:
		return nil, fmt.Errorf("%s is not a memory cgroup (gone?)", dir)
	}
	return cg, nil
}

// SetLimit changes the memory limit (bytes; 0 removes it).
func (c *MemoryCgroup) SetLimit(limit int64) error {
	switch c.Version {
	case CgroupV1:
		v := "-1"
		if limit > 0 {
			v = strconv.FormatInt(limit, 10)
		}
		// The kernel keeps memsw >= mem: when lowering, set mem first; when
		// raising (or removing) the limit, set memsw first.
		memsw := exists(filepath.Join(c.Path, "memory.memsw.limit_in_bytes"))
		order := []string{"memory.memsw.limit_in_bytes", "memory.limit_in_bytes"}
		if cur, err := c.readInt("memory.limit_in_bytes"); err == nil && limit > 0 && limit < cur {
			order = []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
		}
		for _, f := range order {
			if f == "memory.memsw.limit_in_bytes" && !memsw {
				continue
			}
			if err := c.write(f, v); err != nil {
				return err
			}
		}
	case CgroupV2:
		v := "max"
		if limit > 0 {
			v = strconv.FormatInt(limit, 10)
		}
		if err := c.write("memory.max", v); err != nil {
			return err
		}
		if exists(filepath.Join(c.Path, "memory.swap.max")) {
			sw := "max"
			if limit > 0 {
				sw = "0"
			}
			if err := c.write("memory.swap.max", sw); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("cgroup %s: unknown version", c.Path)
	}
	c.Limit = limit
	return nil
}

// Add moves pid (and, on v1, only that thread group) into the cgroup.
// Memory it already holds stays charged to its old cgroup.
func (c *MemoryCgroup) Add(pid int) error {
	return c.write("cgroup.procs", strconv.Itoa(pid))
}

// WrapCommand returns a command line that first moves itself into the
// cgroup and then execs argv, so the program runs in the cgroup from its
// first instruction (a Go parent cannot act between fork and exec):
//
//	/bin/sh -c 'echo $$ > "$0" && exec "$@"' <cgroup>/cgroup.procs argv...
func (c *MemoryCgroup) WrapCommand(argv []string) []string {
	return append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, filepath.Join(c.Path, "cgroup.procs")}, argv...)
}

// Procs lists the PIDs in the cgroup.
func (c *MemoryCgroup) Procs() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// MemoryStats are a memory cgroup's counters, in bytes and events.
type MemoryStats struct {
	Limit int64 `json:"limit"`
	Usage int64 `json:"usage"`
	// Peak is the cgroup's maximum usage (v1 memory.max_usage_in_bytes,
	// v2 memory.peak; 0 when the kernel has no memory.peak).
	Peak int64 `json:"peak"`
	// Failcnt counts allocations that hit the limit (v1 memory.failcnt,
	// v2 the "max" line of memory.events).
	Failcnt int64 `json:"failcnt"`
	// OOMKills counts processes the OOM killer killed in this cgroup;
	// OOMKillKnown is false on kernels that do not report it (v1 before 4.13).
	OOMKills     int64 `json:"oom_kills"`
	OOMKillKnown bool  `json:"oom_kill_known"`
	UnderOOM     bool  `json:"under_oom"`
}

// Stats reads the cgroup's counters.
func (c *MemoryCgroup) Stats() (MemoryStats, error) {
	st := MemoryStats{Limit: c.Limit}
	var err error
	switch c.Version {
	case CgroupV1:
		if st.Usage, err = c.readInt("memory.usage_in_bytes"); err != nil {
			return st, err
		}
		if st.Peak, err = c.readInt("memory.max_usage_in_bytes"); err != nil {
			return st, err
		}
		if st.Failcnt, err = c.readInt("memory.failcnt"); err != nil {
			return st, err
		}
		b, err := os.ReadFile(filepath.Join(c.Path, "memory.oom_control"))
		if err != nil {
			return st, err
		}
		kv := ParseKeyValues(b)
		st.UnderOOM = kv["under_oom"] > 0
		st.OOMKills, st.OOMKillKnown = kv["oom_kill"]
	case CgroupV2:
		if st.Usage, err = c.readInt("memory.current"); err != nil {
			return st, err
		}
		if v, err := c.readInt("memory.peak"); err == nil {
			st.Peak = v
		}
		b, err := os.ReadFile(filepath.Join(c.Path, "memory.events"))
		if err != nil {
			return st, err
		}
		kv := ParseKeyValues(b)
		st.Failcnt = kv["max"]
		st.OOMKills, st.OOMKillKnown = kv["oom_kill"]
	}
	return st, nil
}

// ParseKeyValues parses "key value" lines (memory.oom_control,
// memory.events, memory.stat). Lines whose value is not an integer are skipped.
func ParseKeyValues(b []byte) map[string]int64 {
	out := map[string]int64{}
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		out[string(f[0])] = v
	}
	return out
}

// OOMKilled decides whether a process that died was killed by the OOM
// killer of its memory cgroup: it must have died from SIGKILL, and the
// cgroup must have recorded an OOM kill (or, on kernels without that
// counter, failed allocations with usage at the limit within slack). It is
// a pure function of the exit and the cgroup's counters read after death.
func OOMKilled(diedOfSIGKILL bool, st MemoryStats) bool {
	if !diedOfSIGKILL {
		return false
	}
	if st.OOMKillKnown {
		return st.OOMKills > 0
	}
	const slack = 1 << 20
	return st.Failcnt > 0 && st.Limit > 0 && st.Peak >= st.Limit-slack
}

// Kill stops every process in the cgroup (SIGTERM, grace, SIGKILL) and
// waits until the cgroup is empty or ctx ends.
func (c *MemoryCgroup) Kill(ctx context.Context, grace time.Duration) error {
	pids, err := c.Procs()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	var procs []Proc
	for _, pid := range pids {
		if p, err := Identify(pid); err == nil {
			procs = append(procs, p)
		}
	}
	return KillTree(ctx, procs, grace)
}

// Remove deletes the cgroup directory. It retries for up to 2 s while the
// kernel still counts exiting processes in it; a cgroup with live processes
// cannot be removed (kill them first with Kill). Removing a cgroup that is
// already gone is not an error.
func (c *MemoryCgroup) Remove() error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := os.Remove(c.Path)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *MemoryCgroup) write(file, v string) error {
	p := filepath.Join(c.Path, file)
	if err := os.WriteFile(p, []byte(v), 0); err != nil {
		return fmt.Errorf("write %s to %s: %w", v, p, err)
	}
	return nil
}

func (c *MemoryCgroup) readInt(file string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, file))
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %q", file, ErrParse, s)
	}
	return v, nil
}
