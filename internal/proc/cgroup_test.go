package proc

import (
	"context"
	"errors"
	"fmt"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseMounts(t *testing.T) {
	in := `cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
/dev/vda /mnt/with\040space ext4 rw 0 0
short line
`
	got := ParseMounts([]byte(in))
	if len(got) != 3 {
		t.Fatalf("got %d mounts: %+v", len(got), got)
	}
	if got[0].FSType != "cgroup" || !slices.Contains(got[0].Options, "memory") || got[0].Point != "/sys/fs/cgroup/memory" {
		t.Errorf("v1 mount %+v", got[0])
	}
	if got[2].Point != "/mnt/with space" {
		t.Errorf("octal escape not decoded: %q", got[2].Point)
	}
}

func FuzzParseMounts(f *testing.F) {
	f.Add([]byte("cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"))
	f.Add([]byte(`a \1 b\777 c d`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range ParseMounts(b) {
			if m.FSType == "" || len(m.Options) == 0 {
				t.Fatalf("empty fields in %+v", m)
			}
		}
	})
}

func TestParseKeyValues(t *testing.T) {
	kv := ParseKeyValues([]byte("oom_kill_disable 0\nunder_oom 1\noom_kill 3\nbad line here\nx y\n"))
	if kv["oom_kill"] != 3 || kv["under_oom"] != 1 || len(kv) != 3 {
		t.Fatalf("got %v", kv)
	}
}

func FuzzParseKeyValues(f *testing.F) {
	f.Add([]byte("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = ParseKeyValues(b) })
}

func TestOOMKilled(t *testing.T) {
	cases := []struct {
		name    string
		sigkill bool
		st      MemoryStats
		want    bool
	}{
		{"counter says so", true, MemoryStats{OOMKillKnown: true, OOMKills: 1}, true},
		{"SIGKILL from someone else, no OOM recorded", true, MemoryStats{OOMKillKnown: true, Failcnt: 9, Peak: 100, Limit: 100}, false},
		{"exit without SIGKILL is never an OOM kill", false, MemoryStats{OOMKillKnown: true, OOMKills: 1}, false},
		{"old kernel: failcnt and usage at the limit", true, MemoryStats{Failcnt: 3, Peak: 100 << 20, Limit: 100 << 20}, true},
		{"old kernel: far below the limit", true, MemoryStats{Failcnt: 3, Peak: 10 << 20, Limit: 100 << 20}, false},
		{"old kernel: no failures", true, MemoryStats{Peak: 100 << 20, Limit: 100 << 20}, false},
	}
	for _, c := range cases {
		if got := OOMKilled(c.sigkill, c.st); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
}

// testController returns a memory controller or skips with the reason.
func testController(t *testing.T) MemoryController {
	t.Helper()
	mc, err := DetectMemoryController()
	if err != nil {
		if !errors.Is(err, ErrNoCgroup) {
			t.Fatalf("detection error does not wrap ErrNoCgroup: %v", err)
		}
		testenv.Missing(t, fmt.Sprintf("a usable memory cgroup (%v)", err), testenv.CgroupHint)
	}
	return mc
}

func TestDetectExplainsFailure(t *testing.T) {
	t.Setenv(CgroupRootEnv, t.TempDir())
	_, err := DetectMemoryController()
	if !errors.Is(err, ErrNoCgroup) {
		t.Fatalf("plain directory accepted: %v", err)
	}
	for _, want := range []string{CgroupRootEnv, "not a memory cgroup directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestCgroupOOMKill(t *testing.T) {
	mc := testController(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		testenv.Missing(t, "python3", "apt-get install python3")
	}
	const limit = 64 << 20
	cg, err := mc.Create(fmt.Sprintf("hubcap-test-%d", os.Getpid()), limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cg.Kill(context.Background(), 0)
		if err := cg.Remove(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(cg.Path); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind", cg.Path)
		}
	})
	if cg.Version == CgroupV1 {
		b, _ := os.ReadFile(filepath.Join(cg.Path, "memory.limit_in_bytes"))
		if strings.TrimSpace(string(b)) != fmt.Sprint(limit) {
			t.Fatalf("limit file says %q", b)
		}
	}
	// Writes 256 MiB (bytes multiplication touches every page).
	argv := cg.WrapCommand([]string{python, "-c", "import time; b = b'x' * (256 << 20); time.sleep(5)"})
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("allocator was not killed within 20s")
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	st, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	sigkill := ws.Signaled() && ws.Signal() == syscall.SIGKILL
	if !OOMKilled(sigkill, st) {
		t.Fatalf("not judged OOM-killed: status %v, stats %+v", ws, st)
	}
	if st.Peak < limit*9/10 || st.Peak > limit+(1<<20) {
		t.Errorf("cgroup peak %d not near the limit %d", st.Peak, limit)
	}
}

func TestCgroupAddAndKill(t *testing.T) {
	mc := testController(t)
	cg, err := mc.Create(fmt.Sprintf("hubcap-test-add-%d", os.Getpid()), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Limits go down and up again (v1 keeps memsw >= mem, so order matters).
	for _, l := range []int64{64 << 20, 128 << 20, 32 << 20, 0} {
		if err := cg.SetLimit(l); err != nil {
			t.Fatalf("SetLimit(%d): %v", l, err)
		}
		if re, err := OpenMemoryCgroup(cg.Path); err != nil || re.Limit != l {
			t.Fatalf("after SetLimit(%d) the cgroup says %+v, %v", l, re, err)
		}
	}
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	pids, err := cg.Procs()
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("procs %v, %v; want %d", pids, err, cmd.Process.Pid)
	}
	// A cgroup with a live process cannot be removed.
	if err := os.Remove(cg.Path); err == nil {
		t.Fatal("removed a busy cgroup")
	}
	if err := cg.Kill(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
}
