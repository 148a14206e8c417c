package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The helper is checked from a child test process, so that its Skip and
// Fatal end the child's test and not this one.
func TestMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Missing(t, "a unicorn", "apt-get install unicorn")
		return
	}
	for _, c := range []struct {
		name    string
		env     []string
		fail    bool
		outputs []string
	}{
		{"skips", []string{RequireEnv + "="}, false, []string{"--- SKIP", "missing: a unicorn; install with: apt-get install unicorn"}},
		{"fails when required", []string{RequireEnv + "=1"}, true, []string{"--- FAIL", "missing: a unicorn; install with: apt-get install unicorn", "nothing may skip"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMissing$", "-test.v")
			cmd.Env = append(append(os.Environ(), "TESTENV_CHILD=1"), c.env...)
			out, err := cmd.CombinedOutput()
			if (err != nil) != c.fail {
				t.Errorf("child failed = %v, want %v\n%s", err != nil, c.fail, out)
			}
			for _, s := range c.outputs {
				if !strings.Contains(string(out), s) {
					t.Errorf("child output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}
