// Command k6corpus runs a directory of k6 scripts with hubcap run against
// the loopback httpbin look-alike and says, per script, whether hubcap
// behaved as k6 would: the expected exit code (DIR/expect.tsv: "script
// exit [note]" lines; 0 when unlisted) and, for a run expected to pass,
// every check passing.
//
//	go run ./internal/httpbin/cmd/k6corpus -hubcap bin/hubcap /tmp/corpus
//
// Scripts reach the server at the -addr address (127.0.0.1:18088 by
// default: point their URLs there) and at $BASE; an HTTPS twin with a
// self-signed certificate listens on the next port ($BASE_TLS).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/httpbin"
)

type expectation struct {
	exit int
	note string
}

type outcome struct {
	script   string
	want     expectation
	exit     int
	failed   []string
	pass     bool
	duration time.Duration
	errTail  string
}

func main() {
	hubcap := flag.String("hubcap", "bin/hubcap", "the hubcap binary")
	addr := flag.String("addr", "127.0.0.1:18088", "loopback address of the test server")
	timeout := flag.Duration("timeout", 90*time.Second, "time limit per script")
	verbose := flag.Bool("v", false, "print the stderr tail of scripts that differ")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: k6corpus [-hubcap bin/hubcap] [-addr 127.0.0.1:18088] DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	host, port, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "k6corpus: -addr must be a loopback address")
		os.Exit(2)
	}
	base, closeSrv, err := serve(*addr, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k6corpus:", err)
		os.Exit(1)
	}
	defer closeSrv()
	p, _ := strconv.Atoi(port)
	baseTLS, closeTLS, err := serve(net.JoinHostPort(host, strconv.Itoa(p+1)), true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k6corpus:", err)
		os.Exit(1)
	}
	defer closeTLS()

	expect, err := readExpect(filepath.Join(dir, "expect.tsv"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "k6corpus:", err)
		os.Exit(1)
	}
	scripts, _ := filepath.Glob(filepath.Join(dir, "*.js"))
	sort.Strings(scripts)
	var results []outcome
	for _, s := range scripts {
		r := runOne(*hubcap, s, expect[filepath.Base(s)], base, baseTLS, *timeout)
		results = append(results, r)
		mark := "same"
		if !r.pass {
			mark = "DIFF"
		}
		fmt.Printf("%-4s %-70s want %3d got %3d %6.1fs", mark, filepath.Base(s), r.want.exit, r.exit, r.duration.Seconds())
		if len(r.failed) > 0 {
			fmt.Printf("  failed checks: %s", strings.Join(r.failed, "; "))
		}
		if r.want.note != "" {
			fmt.Printf("  (%s)", r.want.note)
		}
		fmt.Println()
		if !r.pass && *verbose {
			fmt.Println(indent(r.errTail))
		}
	}
	same := 0
	for _, r := range results {
		if r.pass {
			same++
		}
	}
	if len(results) == 0 {
		fmt.Println("no scripts")
		os.Exit(1)
	}
	fmt.Printf("\n%d of %d scripts behave as k6 would (%.1f%%)\n", same, len(results), 100*float64(same)/float64(len(results)))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "       | " + l
	}
	return strings.Join(lines, "\n")
}

// serve starts the httpbin look-alike on addr.
func serve(addr string, useTLS bool) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := httptest.NewUnstartedServer(httpbin.New())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	if useTLS {
		// Every cipher suite Go knows, so that scripts choosing old ones
		// (tlsCipherSuites) find them, as on public test servers.
		var suites []uint16
		for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
			for _, c := range list {
				suites = append(suites, c.ID)
			}
		}
		srv.TLS = &tls.Config{CipherSuites: suites}
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	return srv.URL, srv.Close, nil
}

func readExpect(path string) (map[string]expectation, error) {
	out := map[string]expectation{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s: %q: want SCRIPT EXIT [NOTE]", path, line)
		}
		code, err := strconv.Atoi(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %q: the exit code is not a number", path, line)
		}
		out[fields[0]] = expectation{exit: code, note: strings.Join(fields[2:], " ")}
	}
	return out, sc.Err()
}

// runOne runs a script and compares with what k6 does.
func runOne(hubcap, script string, want expectation, base, baseTLS string, timeout time.Duration) outcome {
	r := outcome{script: script, want: want}
	export, err := os.CreateTemp("", "k6corpus-*.json")
	if err != nil {
		r.errTail = err.Error()
		return r
	}
	export.Close()
	defer os.Remove(export.Name())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, hubcap, "run", "-q", "--no-color", "--summary-export", export.Name(), filepath.Base(script))
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(), "BASE="+base, "BASE_TLS="+baseTLS)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = &strings.Builder{}
	start := time.Now()
	err = cmd.Run()
	r.duration = time.Since(start)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	default:
		r.exit = -1
	}
	if ctx.Err() != nil {
		r.exit = -1
	}
	tail := stderr.String()
	if len(tail) > 1500 {
		tail = tail[len(tail)-1500:]
	}
	r.errTail = tail
	r.failed = failedChecks(export.Name())
	r.pass = r.exit == want.exit && (want.exit != 0 || len(r.failed) == 0 || strings.Contains(want.note, "checks may fail"))
	return r
}

// failedChecks reads the failing checks from a --summary-export file.
func failedChecks(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	var exp struct {
		RootGroup group `json:"root_group"`
	}
	if json.Unmarshal(b, &exp) != nil {
		return nil
	}
	var out []string
	exp.RootGroup.walk(func(name string, fails int) {
		if fails > 0 {
			out = append(out, name)
		}
	})
	return out
}

type group struct {
	Groups map[string]group `json:"groups"`
	Checks map[string]struct {
		Fails int `json:"fails"`
	} `json:"checks"`
}

func (g group) walk(f func(string, int)) {
	for name, c := range g.Checks {
		f(name, c.Fails)
	}
	for _, sub := range g.Groups {
		sub.walk(f)
	}
}
