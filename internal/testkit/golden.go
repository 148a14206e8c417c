package testkit

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files (testkit.Golden) instead of comparing with them")

// Golden compares got with the file at path and reports the first line
// that differs. Under `go test -update` it rewrites the file instead; review
// the diff before committing it.
func Golden[T ~string | ~[]byte](tb testing.TB, path string, got T) {
	tb.Helper()
	g := []byte(got)
	if *update {
		if err := os.WriteFile(path, g, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -run '%s' -update to create it)", err, tb.Name())
	}
	if bytes.Equal(g, want) {
		return
	}
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			tb.Errorf("%s differs at line %d:\n got: %.400s\nwant: %.400s\n(go test -run '%s' -update rewrites it; review the diff)", path, i+1, gl[i], wl[i], tb.Name())
			return
		}
	}
	tb.Errorf("%s differs in length: %d lines, want %d (go test -run '%s' -update rewrites it; review the diff)", path, len(gl), len(wl), tb.Name())
}
