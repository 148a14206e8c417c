package main

import (
	"bytes"
	"strings"
	"testing"
)

// A stream as go test -json writes it: a passing test with a log line, a
// skipped one, a failing subtest, a build failure, and the closing lines.
const stream = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"    a_test.go:9: chatter of a passing test\n"}
{"Action":"output","Package":"m/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"m/a","Test":"TestCgroup"}
{"Action":"output","Package":"m/a","Test":"TestCgroup","Output":"=== RUN   TestCgroup\n"}
{"Action":"output","Package":"m/a","Test":"TestCgroup","Output":"    a_test.go:20: missing: a usable memory cgroup; install with: run as root\n"}
{"Action":"output","Package":"m/a","Test":"TestCgroup","Output":"--- SKIP: TestCgroup (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestCgroup","Elapsed":0}
{"Action":"output","Package":"m/a","Output":"PASS\n"}
{"Action":"output","Package":"m/a","Output":"ok  \tm/a\t0.012s\n"}
{"Action":"pass","Package":"m/a","Elapsed":0.012}
{"Action":"run","Package":"m/b","Test":"TestBad"}
{"Action":"run","Package":"m/b","Test":"TestBad/sub"}
{"Action":"output","Package":"m/b","Test":"TestBad/sub","Output":"=== RUN   TestBad/sub\n"}
{"Action":"output","Package":"m/b","Test":"TestBad/sub","Output":"    b_test.go:7: got 1, want 2\n"}
{"Action":"output","Package":"m/b","Test":"TestBad/sub","Output":"    --- FAIL: TestBad/sub (0.00s)\n"}
{"Action":"fail","Package":"m/b","Test":"TestBad/sub","Elapsed":0}
{"Action":"output","Package":"m/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"m/b","Test":"TestBad","Elapsed":0}
{"Action":"output","Package":"m/b","Output":"FAIL\n"}
{"Action":"output","Package":"m/b","Output":"FAIL\tm/b\t0.010s\n"}
{"Action":"fail","Package":"m/b","Elapsed":0.01}
{"ImportPath":"m/c [m/c.test]","Action":"build-output","Output":"# m/c\n"}
{"ImportPath":"m/c [m/c.test]","Action":"build-output","Output":"c.go:3:1: syntax error\n"}
{"ImportPath":"m/c [m/c.test]","Action":"build-fail"}
{"Action":"output","Package":"m/c","Output":"FAIL\tm/c [build failed]\n"}
{"Action":"fail","Package":"m/c","Elapsed":0,"FailedBuild":"m/c [m/c.test]"}
FAIL
`

func TestFilter(t *testing.T) {
	var out bytes.Buffer
	code := filter(strings.NewReader(stream), &out)
	got := out.String()
	if code != 1 {
		t.Errorf("exit %d for a failing stream, want 1", code)
	}
	for _, want := range []string{
		"ok  \tm/a\t0.012s\n",              // closing lines kept
		"    b_test.go:7: got 1, want 2\n", // a failure's output
		"--- FAIL: TestBad (0.00s)\n",      //
		"FAIL\tm/b\t0.010s\n",              //
		"c.go:3:1: syntax error\n",         // build errors
		"FAIL\tm/c [build failed]\n",       //
		"FAIL\n",                           // go test's own last line (not JSON)
		"skipped tests: 1\n  m/a TestCgroup: a_test.go:20: missing: a usable memory cgroup; install with: run as root\n", // the list, at the end
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"chatter of a passing test", "=== RUN", "--- PASS", "--- SKIP", "PASS\n"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("output has %q, which plain go test does not print:\n%s", unwanted, got)
		}
	}
	if !strings.HasSuffix(got, "run as root\n") {
		t.Errorf("the skip list is not at the end:\n%s", got)
	}
}

func TestFilterAllPass(t *testing.T) {
	in := `{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"pass","Package":"m/a","Test":"TestOK"}
{"Action":"output","Package":"m/a","Output":"ok  \tm/a\t0.01s\n"}
{"Action":"pass","Package":"m/a"}
`
	var out bytes.Buffer
	if code := filter(strings.NewReader(in), &out); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, out.String())
	}
	if out.String() != "ok  \tm/a\t0.01s\nskipped tests: none\n" {
		t.Errorf("output %q", out.String())
	}
	if code := filter(strings.NewReader(""), &out); code != 1 {
		t.Errorf("an empty stream exits %d, want 1 (go test did not run)", code)
	}
}
