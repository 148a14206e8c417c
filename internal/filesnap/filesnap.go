// Package filesnap records the files of a directory by content hash, so
// tests can prove that reading a hub database changed nothing beside it:
// no byte of the database, no new -wal, -shm or -journal file.
package filesnap

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// Snapshot maps every regular file directly in dir to its sha256 (hex).
func Snapshot(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = hex.EncodeToString(sum[:])
	}
	return out
}

// AssertUntouched fails tb unless dir holds exactly the files of before,
// byte for byte.
func AssertUntouched(tb testing.TB, dir string, before map[string]string) {
	tb.Helper()
	after := Snapshot(tb, dir)
	for name, sum := range after {
		old, ok := before[name]
		switch {
		case !ok:
			tb.Errorf("%s appeared beside the database", name)
		case old != sum:
			tb.Errorf("%s changed (sha256 %s → %s)", name, old[:12], sum[:12])
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			tb.Errorf("%s was removed", name)
		}
	}
}
