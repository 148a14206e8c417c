package kube

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/testenv"
)

const (
	repoRoot   = "../.."
	dockerfile = "../../deploy/kubernetes/Dockerfile"
)

// words splits a shell command line into words, honouring double quotes
// (enough for the Dockerfile's RUN line).
func words(s string) []string {
	var out []string
	var cur strings.Builder
	in, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			in, any = !in, true
		case (r == ' ' || r == '\t') && !in:
			if any {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

// TestDockerfileBuild: no container engine here, so the image's build
// stage is checked by running its `go build` command as written (its
// environment and flags, the output redirected to a temporary file) and
// checking that the binary is static (no ELF interpreter, no shared
// libraries: it runs on distroless/static) and runs; and the files the
// final stage copies exist.
func TestDockerfileBuild(t *testing.T) {
	testenv.Short(t, "builds the static hubcap binary as the Dockerfile does")
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var build []string
	var copies []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "RUN "); ok && strings.Contains(rest, "go build") {
			build = words(rest)
		}
		if rest, ok := strings.CutPrefix(line, "COPY "); ok && !strings.HasPrefix(rest, "--from") {
			w := words(rest)
			copies = append(copies, w[:len(w)-1]...)
		}
	}
	if build == nil {
		t.Fatal("no RUN … go build line in the Dockerfile")
	}
	for _, c := range copies {
		if _, err := os.Stat(filepath.Join(repoRoot, c)); err != nil {
			t.Errorf("the Dockerfile copies %s: %v", c, err)
		}
	}
	var env []string
	for len(build) > 0 && strings.Contains(build[0], "=") {
		env = append(env, build[0])
		build = build[1:]
	}
	if len(build) < 2 || build[0] != "go" || build[1] != "build" {
		t.Fatalf("the RUN line is not `ENV=… go build …`: %q", build)
	}
	if !containsStr(env, "CGO_ENABLED=0") {
		t.Fatalf("the build does not set CGO_ENABLED=0: %q", env)
	}
	bin := filepath.Join(t.TempDir(), "hubcap")
	args := append([]string(nil), build[1:]...)
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = bin
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	start := time.Now()
	cmd := exec.Command(gobin, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("go %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Second))
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is not static")
		}
	}
	if libs, _ := ef.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	out, err := exec.Command(bin, "k8s", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "k8s render") {
		t.Errorf("the built binary: %v\n%s", err, out)
	}
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
