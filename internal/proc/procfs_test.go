package proc

import (
	"errors"
	"os"
	"testing"
	"time"
)

const statusSample = `Name:	python3
Umask:	0022
State:	S (sleeping)
Pid:	4242
PPid:	1
VmPeak:	  812344 kB
VmSize:	  800000 kB
VmHWM:	  250880 kB
VmRSS:	  120320 kB
RssAnon:	  100000 kB
Threads:	3
`

func TestParseStatus(t *testing.T) {
	m, err := ParseStatus([]byte(statusSample))
	if err != nil {
		t.Fatal(err)
	}
	// kB in /proc are KiB.
	if m.RSS != 120320*1024 || m.HWM != 250880*1024 {
		t.Fatalf("got %+v", m)
	}
	// A zombie's status has no Vm lines: that must be an error, not zeros.
	if _, err := ParseStatus([]byte("Name:\tx\nState:\tZ (zombie)\n")); !errors.Is(err, ErrParse) {
		t.Fatalf("zombie status: err = %v, want ErrParse", err)
	}
	// A unit other than kB is not silently misread.
	if _, err := ParseStatus([]byte("VmRSS:\t12 MB\nVmHWM:\t1 kB\n")); !errors.Is(err, ErrParse) {
		t.Fatalf("bad unit: err = %v", err)
	}
}

func TestParseStat(t *testing.T) {
	// comm may hold spaces and parentheses; fields are found from the last ')'.
	line := "4242 (my (odd) proc) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 3 0 98765 800000000 30080 18446744073709551615\n"
	s, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{PID: 4242, Comm: "my (odd) proc", State: 'S', PPID: 17, PGID: 4242, Session: 4242,
		UTime: 2500 * time.Millisecond, STime: 1300 * time.Millisecond, StartTime: 98765}
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if s.CPU() != 3800*time.Millisecond {
		t.Fatalf("CPU = %v", s.CPU())
	}
	for _, bad := range []string{"", "12 x S 1", "12 (x) S 1 2 3", "x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21"} {
		if _, err := ParseStat([]byte(bad)); !errors.Is(err, ErrParse) {
			t.Errorf("ParseStat(%q) err = %v, want ErrParse", bad, err)
		}
	}
}

func TestReadSelf(t *testing.T) {
	m, err := ReadMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Fatalf("implausible own memory %+v", m)
	}
	s, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.PID != os.Getpid() || s.PPID != os.Getppid() || s.StartTime == 0 {
		t.Fatalf("own stat %+v", s)
	}
	if _, err := ReadMem(1 << 30); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("missing pid: err = %v, want ErrNoProcess", err)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(statusSample))
	f.Add([]byte("VmRSS:\t-1 kB\nVmHWM:\t99999999999999999999 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseStatus(b)
		if err == nil && (m.RSS < 0 || m.HWM < 0) {
			t.Fatalf("negative memory %+v from %q", m, b)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 3 0 98765 8000 3008 1"))
	f.Add([]byte("1 ()) S 0 1 1 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 3 0 98765"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err == nil && (s.PID <= 0 || s.UTime < 0 || s.STime < 0) {
			t.Fatalf("implausible %+v from %q", s, b)
		}
	})
}
