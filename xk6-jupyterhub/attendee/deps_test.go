package attendee

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoJSRuntime: the traffic module's plain-Go packages import no
// JavaScript runtime and nothing of k6 (style rule 2; k6 is AGPL).
func TestNoJSRuntime(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is not on PATH (go test puts its own there): %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "grafana/sobek") || strings.HasPrefix(dep, "go.k6.io/") || strings.Contains(dep, "dop251/goja") {
			t.Errorf("imports %s", dep)
		}
	}
}
