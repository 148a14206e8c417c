package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of test2json (go doc test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string
	FailedBuild string
}

type key struct{ pkg, test string }

// skip is a test that skipped and why.
type skip struct {
	pkg, test, reason string
}

type summary struct {
	out    io.Writer
	buf    map[key][]string
	skips  []skip
	failed bool
	events int
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, buf: map[key][]string{}}
}

// framing lines go test -v adds and plain go test does not print.
func framing(line string) bool {
	t := strings.TrimLeft(line, " ")
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func (s *summary) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(s.out, "%s\n", line) // not test2json: pass it on
			continue
		}
		s.handle(e)
	}
	return sc.Err()
}

func (s *summary) handle(e event) {
	s.events++
	k := key{e.Package, e.Test}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output)
	case "build-fail":
		s.failed = true
	case "output":
		if e.Test != "" {
			s.buf[k] = append(s.buf[k], e.Output)
			return
		}
		if strings.TrimSpace(e.Output) == "PASS" || framing(e.Output) {
			return
		}
		fmt.Fprint(s.out, e.Output)
	case "pass":
		delete(s.buf, k)
		if e.Test == "" {
			s.dropPackage(e.Package, false)
		}
	case "skip":
		if e.Test != "" {
			s.skips = append(s.skips, skip{e.Package, e.Test, reason(s.buf[k])})
		}
		delete(s.buf, k)
	case "fail":
		if e.Test == "" {
			s.failed = true
			s.dropPackage(e.Package, true)
			return
		}
		s.failed = true
		for _, l := range s.buf[k] {
			if !framing(l) {
				fmt.Fprint(s.out, l)
			}
		}
		delete(s.buf, k)
	}
}

// dropPackage forgets the package's unfinished tests, printing their
// output first when the package failed (a panic or a timeout ends tests
// without an event of their own).
func (s *summary) dropPackage(pkg string, print bool) {
	var keys []key
	for k := range s.buf {
		if k.pkg == pkg {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].test < keys[j].test })
	for _, k := range keys {
		if print {
			for _, l := range s.buf[k] {
				if !framing(l) {
					fmt.Fprint(s.out, l)
				}
			}
		}
		delete(s.buf, k)
	}
}

// reason is a skipped test's message: its output without the framing and
// the "--- SKIP" line.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || framing(l) || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

// listSkips prints the skipped tests at the end.
func (s *summary) listSkips() {
	if len(s.skips) == 0 {
		fmt.Fprintln(s.out, "skipped tests: none")
		return
	}
	fmt.Fprintf(s.out, "skipped tests: %d\n", len(s.skips))
	for _, k := range s.skips {
		fmt.Fprintf(s.out, "  %s %s: %s\n", k.pkg, k.test, k.reason)
	}
}
