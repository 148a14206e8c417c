package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records Errorf instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestX" }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// Golden passes on equal content and names the path and the first line
// that differs otherwise.
func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Golden(r, path, "a\nb\nc\n")
	Golden(r, path, []byte("a\nb\nc\n"))
	if len(r.errs) != 0 {
		t.Fatalf("equal content reported: %q", r.errs)
	}
	Golden(r, path, "a\nB\nc\n")
	Golden(r, path, "a\nb\nc\nd\n")
	if len(r.errs) != 2 || !strings.Contains(r.errs[0], path+" differs at line 2") || !strings.Contains(r.errs[0], "-update") ||
		!strings.Contains(r.errs[1], path+" differs at line 4") {
		t.Fatalf("mismatches reported as %q", r.errs)
	}
}

// Buffer keeps every write of concurrent writers (run with -race).
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Fatalf("len = %d, want 800", got)
	}
}
