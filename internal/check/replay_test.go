package check

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/shape"
)

// replayJSON is what hubcap replay --json prints (internal/replay.Result),
// trimmed to a healthy replay of U=3 S=206 R=102 J=20108.
const replayJSON = `{
  "release": "5.3.0", "source": "sqlite:/tmp/jupyterhub.sqlite", "revision": "4621fec11365", "upgraded": false,
  "shape": {"users": 3, "spawner_rows": 206, "running": 102, "joined_rows": 20108, "joined_bytes": 12504774},
  "registered": 102, "memory_limit": 0, "healthy": true, "oom_killed": false,
  "peak_rss": 280895488, "peak_rss_at_healthy": 280895488, "steady_rss": 192450560,
  "seconds_to_healthy": 8.9, "init_spawners_seconds": 3.0, "empty_hub_peak_rss": 117309440, "wall_seconds": 35
}`

func TestParseReplay(t *testing.T) {
	rp, err := ParseReplay([]byte(replayJSON))
	if err != nil {
		t.Fatal(err)
	}
	if rp.Release != "5.3.0" || rp.U != 3 || rp.S != 206 || rp.R != 102 || rp.J != 20108 || !rp.Healthy ||
		rp.PeakRSS != 280895488 || rp.Seconds != 8.9 || rp.InitSpawners == nil || *rp.InitSpawners != 3 {
		t.Errorf("parsed %+v", rp)
	}
	for _, c := range []struct{ name, in string }{
		{"not JSON", "peak 268 MiB"},
		{"a check report, not a replay", `{"verdict": "PASS", "shape": {"users": 1}}`},
		{"no shape", `{"release": "5.3.0", "healthy": true, "peak_rss": 5}`},
		{"neither healthy nor killed", `{"release": "5.3.0", "shape": {}, "peak_rss": 5}`},
		{"healthy without a peak", `{"release": "5.3.0", "shape": {}, "healthy": true}`},
		{"negative", `{"release": "5.3.0", "shape": {"joined_rows": -1}, "healthy": true, "peak_rss": 5}`},
	} {
		if _, err := ParseReplay([]byte(c.in)); !errors.Is(err, ErrBadReplay) {
			t.Errorf("%s: %v, want ErrBadReplay", c.name, err)
		}
	}
	if _, err := LoadReplay(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, ErrBadReplay) || !strings.Contains(err.Error(), "hubcap replay") {
		t.Errorf("missing file: %v", err)
	}
}

// A replay of the report's shape gets the prediction's error against it
// and a line in the text report; a replay of another shape says so and
// gets no error figure.
func TestAttachReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.json")
	if err := os.WriteFile(path, []byte(replayJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	rp, err := LoadReplay(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Verdict: Pass, Shape: Shape{Shape: shape.Shape{U: 3, S: 206, R: 102, J: 20108}}, Peak: models.Prediction{Point: 0.9 * 280895488}}
	r.AttachReplay(rp)
	if r.Replay == nil || !r.Replay.SameShape || r.Replay.PeakError == nil || math.Abs(*r.Replay.PeakError+0.1) > 1e-9 || r.Replay.File != path {
		t.Fatalf("attached %+v", r.Replay)
	}
	var b strings.Builder
	if err := r.Text(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "replay") || !strings.Contains(b.String(), "10% below it") || !strings.Contains(b.String(), "init_spawners") {
		t.Errorf("text report lacks the replay line:\n%s", b.String())
	}

	other := &Report{Shape: Shape{Shape: shape.Shape{U: 3, S: 206, R: 101, J: 20000}}, Peak: models.Prediction{Point: 1}}
	other.AttachReplay(rp)
	if other.Replay.SameShape || other.Replay.PeakError != nil {
		t.Errorf("replay of another shape: %+v", other.Replay)
	}
	b.Reset()
	if err := other.Text(&b); err != nil || !strings.Contains(b.String(), "NOT this shape") {
		t.Errorf("text report of another shape's replay: %v\n%s", err, b.String())
	}
	if rp.SameShape || rp.PeakError != nil {
		t.Error("AttachReplay changed the loaded replay")
	}
}

func FuzzParseReplay(f *testing.F) {
	f.Add([]byte(replayJSON))
	f.Add([]byte(`{"release":"5.3.0","shape":{},"oom_killed":true,"memory_limit":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rp, err := ParseReplay(b)
		if err != nil {
			if !errors.Is(err, ErrBadReplay) {
				t.Fatalf("error without ErrBadReplay: %v", err)
			}
			return
		}
		if rp.Release == "" || rp.Healthy == rp.OOMKilled || rp.J < 0 || rp.PeakRSS < 0 {
			t.Fatalf("accepted %+v", rp)
		}
	})
}
