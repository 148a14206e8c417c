package telemetry

import (
	"math"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/shape"
)

func TestProgressLine(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		st   Status
		want string
	}{
		// Before any reading the operator is told telemetry is pending.
		{"none yet", Status{RSSBytes: nan, RunningServers: nan}, "waiting for the first reading"},
		// A hub that went down is shouted, with the last RSS seen.
		{"down", Status{Answered: true, Up: false, RSSBytes: 512 << 20, RunningServers: nan}, "DOWN, RSS 512 MiB"},
		// A healthy hub shows memory, servers and the DB shape once read.
		{"full", Status{Answered: true, Up: true, RSSBytes: 1 << 30, RunningServers: 42,
			Shape: shape.Shape{S: 50, R: 42, J: 900}, ShapeTime: time.Unix(1, 0)}, "up, RSS 1.00 GiB, 42 servers running, S=50 R=42 J=900"},
	}
	for _, c := range cases {
		if got := ProgressLine(c.st); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
