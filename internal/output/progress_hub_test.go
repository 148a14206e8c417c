package output

import (
	"strings"
	"testing"
)

// The hub's status line appears in both displays when hub telemetry runs,
// and not at all without it.
func TestProgressHubLine(t *testing.T) {
	st := ProgressState{Hub: "up, RSS 512 MiB"}
	if got := RenderProgress(st); !strings.Contains(got, "hub: up, RSS 512 MiB\n") {
		t.Errorf("terminal display lacks the hub line:\n%s", got)
	}
	if got := RenderProgressLine(st); !strings.HasSuffix(got, "; hub up, RSS 512 MiB") {
		t.Errorf("plain line lacks the hub status: %q", got)
	}
	if got := RenderProgress(ProgressState{}); strings.Contains(got, "hub:") {
		t.Errorf("hub line shown without telemetry:\n%s", got)
	}
}
