package capreport

import (
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/reports"
)

func readings(n int, every time.Duration) []reports.Point {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	pts := make([]reports.Point, n)
	for i := range pts {
		pts[i] = reports.Point{Time: t0.Add(time.Duration(i) * every), Value: float64(i)}
	}
	return pts
}

// A long run keeps the /proc period as its window; a short run with
// readings every second gets narrower windows, enough for the CPU model
// (3 per unknown), but never narrower than two readings.
func TestWaveWindow(t *testing.T) {
	for _, c := range []struct {
		name string
		cpu  []reports.Point
		p    int
		want time.Duration
	}{
		{"long run, 5-s readings", readings(200, 5*time.Second), 7, 5 * time.Second},
		{"short run, 5-s readings", readings(10, 5*time.Second), 7, 5 * time.Second},
		{"short run, 1-s readings", readings(46, time.Second), 7, 2 * time.Second},
		{"very short run, 1-s readings", readings(15, time.Second), 7, 2 * time.Second},
		{"105 s of 1-s readings", readings(106, time.Second), 7, 5 * time.Second},
		{"one reading", readings(1, time.Second), 7, 5 * time.Second},
	} {
		if got := waveWindow(c.cpu, c.p); got != c.want {
			t.Errorf("%s: window %v, want %v", c.name, got, c.want)
		}
		// Whatever the width, a window holds at least one reading.
		if len(c.cpu) > 1 {
			gap := c.cpu[1].Time.Sub(c.cpu[0].Time)
			if got := waveWindow(c.cpu, c.p); got < gap {
				t.Errorf("%s: window %v narrower than the readings' spacing %v", c.name, got, gap)
			}
		}
	}
}
