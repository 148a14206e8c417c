package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeScript(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.js")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunCommand(t *testing.T) {
	ok := writeScript(t, `
import { check } from 'k6';
export const options = { thresholds: { checks: ['rate==1'] } };
export default function () { check(__ENV.WHO, { 'env passed': (w) => w === 'me' }); }
`)
	failing := writeScript(t, `
import { check } from 'k6';
export const options = { iterations: 2, thresholds: { checks: ['rate==1'] } };
export default function () { check(0, { 'zero is truthy': (x) => !!x }); }
`)
	broken := writeScript(t, "export default function () {\n  let = ;\n}\n")
	out := filepath.Join(t.TempDir(), "out.json")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"passes", []string{"run", "-q", "-e", "WHO=me", "--out", "json=" + out, ok}, ExitOK, "✓ env passed"},
		{"flags after the script", []string{"run", ok, "-q", "-e", "WHO=me", "--vus", "2", "--iterations", "4"}, ExitOK, "iterations"},
		{"thresholds fail", []string{"run", "-q", failing}, ExitThresholds, "thresholds have been crossed on metrics 'checks'"},
		{"syntax error", []string{"run", "-q", broken}, 107, broken + ":2:"},
		{"no script", []string{"run", "-q"}, ExitUsage, "want exactly one script"},
		{"bad out", []string{"run", "--out", "influxdb=http://x", ok}, ExitUsage, "use json=FILE, csv=FILE"},
		{"bad env", []string{"run", "-e", "novalue", ok}, ExitUsage, "want NAME=VALUE"},
		{"bad duration", []string{"run", "--duration", "soon", ok}, ExitUsage, "--duration"},
		{"missing file", []string{"run", "-q", filepath.Join(t.TempDir(), "nope.js")}, 1, "cannot read the script"},
		{"bad segment", []string{"run", "-q", "--execution-segment", "2:3", ok}, 104, "invalid execution segment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, c.args...)
			if code != c.code || !strings.Contains(stdout+stderr, c.want) {
				t.Errorf("hubcap %q: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", c.args, code, c.code, stdout, stderr, c.want)
			}
		})
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var l struct{ Type, Metric string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || (l.Type != "Metric" && l.Type != "Point") {
			t.Fatalf("bad NDJSON line %q", sc.Text())
		}
		lines++
	}
	if lines == 0 {
		t.Error("--out json wrote nothing")
	}
}
