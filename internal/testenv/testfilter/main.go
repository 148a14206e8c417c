// Command testfilter reads `go test -json` on stdin and prints what plain
// `go test` prints (the output of failed tests, build errors, and each
// package's closing line: ok, FAIL, or no test files), then lists every
// test that skipped, with its reason. make test pipes its go test through
// it: with HUBCAP_REQUIRE_HUBS=1 the list should be empty. It exits 1 when
// a test or a build failed, or when the stream held no test event.
//
//	go test -json ./... | go run ./internal/testenv/testfilter
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(filter(os.Stdin, os.Stdout))
}

// filter copies the stream and returns the exit code.
func filter(in io.Reader, out io.Writer) int {
	s := newSummary(out)
	if err := s.read(in); err != nil {
		fmt.Fprintf(out, "testfilter: %v\n", err)
		return 1
	}
	s.listSkips()
	if s.failed || s.events == 0 {
		return 1
	}
	return 0
}
