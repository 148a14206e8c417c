package archtest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	module = "github.com/hubcap-dev/hubcap"
	sobek  = "github.com/grafana/sobek"
	k6     = "go.k6.io/k6"
)

// goList runs `go list` in the module and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	cmd := exec.Command(gobin, append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// depsOf maps each package matched by patterns to its transitive imports
// (production code, tests excluded).
func depsOf(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, l := range goList(t, append([]string{"-f", `{{.ImportPath}} {{join .Deps " "}}`}, patterns...)...) {
		f := strings.Fields(l)
		out[f[0]] = f[1:]
	}
	if len(out) == 0 {
		t.Fatalf("go list matched no package for %v", patterns)
	}
	return out
}

func hasPrefixed(deps []string, prefix string) (string, bool) {
	for _, d := range deps {
		if d == prefix || strings.HasPrefix(d, prefix+"/") {
			return d, true
		}
	}
	return "", false
}

// TestNoJavaScriptEngineOutsideTheRuntime: the traffic module
// (xk6-jupyterhub), the capacity model, the report, the hub telemetry, the
// fleet and the hub harness are plain Go packages that do not import the
// JavaScript engine, not even indirectly: only the runtime and the
// k6/x/jupyterhub binding do.
func TestNoJavaScriptEngineOutsideTheRuntime(t *testing.T) {
	deps := depsOf(t, module+"/xk6-jupyterhub/...", module+"/models/...", module+"/reports/...", module+"/results/...", module+"/shape/...",
		module+"/internal/telemetry/...", module+"/internal/fleet/...", module+"/internal/hub/...",
		module+"/internal/loadhttp/...", module+"/internal/httpbin/...")
	for _, must := range []string{"/xk6-jupyterhub/hubapi", "/xk6-jupyterhub/attendee", "/xk6-jupyterhub/kernel",
		"/models", "/reports", "/results", "/shape", "/internal/telemetry", "/internal/fleet", "/internal/hub",
		"/internal/loadhttp", "/internal/httpbin"} {
		if _, ok := deps[module+must]; !ok {
			t.Errorf("package %s was not checked (moved? update this test)", module+must)
		}
	}
	for pkg, d := range deps {
		if via, ok := hasPrefixed(d, sobek); ok {
			t.Errorf("%s imports %s; keep the JavaScript engine in internal/script and the bindings (internal/jsjupyterhub, internal/jshttp)", pkg, via)
		}
	}
	// The check can fail: the runtime itself does import the engine.
	rt := depsOf(t, module+"/internal/script")
	if _, ok := hasPrefixed(rt[module+"/internal/script"], sobek); !ok {
		t.Fatal("internal/script does not list sobek among its dependencies: this test would not see an import")
	}
}

// TestBindingIsThin: the JS binding reaches the hub only through the
// traffic module; local hubs, the fleet and hub telemetry are the CLI's
// business (cmd/hubcap), not the scripts' module's.
func TestBindingIsThin(t *testing.T) {
	deps := depsOf(t, module+"/internal/jsjupyterhub")[module+"/internal/jsjupyterhub"]
	for _, banned := range []string{"/internal/hub", "/internal/localhub", "/internal/fleet", "/internal/telemetry",
		"/models", "/reports", "/internal/hubdb"} {
		if via, ok := hasPrefixed(deps, module+banned); ok {
			t.Errorf("internal/jsjupyterhub depends on %s; the binding converts values and calls xk6-jupyterhub only", via)
		}
	}
	if _, ok := hasPrefixed(deps, module+"/xk6-jupyterhub/attendee"); !ok {
		t.Error("internal/jsjupyterhub does not use xk6-jupyterhub/attendee: this test checks the wrong package")
	}
}

// TestNoK6: no package of the module, tests included, imports go.k6.io/k6
// (AGPL), and go.mod does not require it.
func TestNoK6(t *testing.T) {
	all := goList(t, "-deps", "-test", "-f", "{{.ImportPath}}", module+"/...")
	if len(all) < 50 {
		t.Fatalf("go list -deps -test listed only %d packages", len(all))
	}
	if via, ok := hasPrefixed(all, k6); ok {
		t.Errorf("%s is linked into the module's packages or tests; hubcap must not depend on k6 (AGPL)", via)
	}
	mod := goList(t, "-m", "-f", "{{.GoMod}}")
	data, err := os.ReadFile(filepath.Clean(mod[0]))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(k6)) {
		t.Errorf("go.mod mentions %s", k6)
	}
}

// TestBinaryLinksNoKubernetes: the Kubernetes API types validate hubcap k8s
// render's manifests in tests only; the binary writes its YAML from a
// template and links none of k8s.io or sigs.k8s.io.
func TestBinaryLinksNoKubernetes(t *testing.T) {
	deps := depsOf(t, module+"/cmd/hubcap")[module+"/cmd/hubcap"]
	if _, ok := hasPrefixed(deps, module+"/internal/kube"); !ok {
		t.Fatal("cmd/hubcap does not use internal/kube: this test checks the wrong package")
	}
	for _, banned := range []string{"k8s.io", "sigs.k8s.io"} {
		for _, d := range deps {
			if strings.HasPrefix(d, banned+"/") {
				t.Errorf("cmd/hubcap links %s; keep the Kubernetes modules in tests", d)
				break
			}
		}
	}
}

// TestVocabularyLeaves: the vocabulary packages every layer shares import
// almost nothing of the module: shape (the database shape's one home) and
// results import nothing, models only shape. So the traffic module, the
// models, check and the report can all use them without an upward arrow.
func TestVocabularyLeaves(t *testing.T) {
	allowed := map[string][]string{"/shape": nil, "/results": nil, "/models": {"/shape"}}
	var pkgs []string
	for p := range allowed {
		pkgs = append(pkgs, module+p)
	}
	deps := depsOf(t, pkgs...)
	for p, ok := range allowed {
		d, listed := deps[module+p]
		if !listed {
			t.Errorf("package %s was not checked (moved? update this test)", module+p)
			continue
		}
		for _, dep := range d {
			if !strings.HasPrefix(dep, module+"/") {
				continue
			}
			if !slices.Contains(ok, strings.TrimPrefix(dep, module)) {
				t.Errorf("%s imports %s; keep it a leaf (allowed: %v)", module+p, dep, ok)
			}
		}
	}
}
