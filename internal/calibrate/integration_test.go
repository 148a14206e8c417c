package calibrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/internal/hub/hubtest"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/testenv"
	"github.com/hubcap-dev/hubcap/models"
)

// noneLeft fails if the hub or proxy recorded in runDir's state still runs.
func noneLeft(t *testing.T, runDir string) {
	t.Helper()
	st, err := hub.ReadState(runDir)
	if err != nil {
		t.Fatalf("hub state of %s: %v", runDir, err)
	}
	for _, p := range append([]proc.Proc{st.Hub, st.Proxy}, st.Tracked...) {
		if p.PID != 0 && proc.Alive(p) {
			t.Errorf("process %d still runs after the calibration returned", p.PID)
		}
	}
	if !st.Stopped {
		t.Errorf("hub state not marked stopped")
	}
}

// TestRunShort: a one-minute calibration of 5.5.1 measures at least three
// shapes, fits them, writes a file that loads back and predicts, and
// leaves no process behind.
func TestRunShort(t *testing.T) {
	const release = "5.5.1"
	hubtest.Require(t, release)
	dir := t.TempDir()
	var progress bytes.Buffer
	cal, err := Run(context.Background(), Options{Release: release, Budget: time.Minute, RunDir: dir, Progress: &progress})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	noneLeft(t, dir)
	if len(cal.Samples) < 3 || cal.Fits.PeakRSS == nil {
		t.Fatalf("%d samples, peak fit %v: want ≥ 3 and a fit", len(cal.Samples), cal.Fits.PeakRSS)
	}
	if cal.Partial || cal.Release != release || cal.Environment.Python == "" || cal.Environment.SQLAlchemy == "" || cal.Environment.Cores < 1 {
		t.Errorf("calibration metadata: partial=%v release=%q env=%+v", cal.Partial, cal.Release, cal.Environment)
	}
	shapes := map[models.Shape]bool{}
	for _, s := range cal.Samples {
		shapes[s.Shape] = true
		if s.Tags["plan"] == "" || math.IsNaN(s.SecondsToHealthy) || !(s.SteadyRSS > 0) {
			t.Errorf("sample %+v lacks its plan, seconds or steady RSS", s)
		}
	}
	if len(shapes) < 3 {
		t.Errorf("only %d distinct shapes", len(shapes))
	}
	path := filepath.Join(t.TempDir(), "cal.json")
	if err := cal.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := models.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := back.PeakModel()
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Predict(models.OneUser(100)); !(p.Point > 0) || math.IsInf(p.Upper, 0) {
		t.Errorf("prediction %+v", p)
	}
}

// lineCounter cancels a context once n progress lines of measurements
// ("#1", "#2" …) were written.
type lineCounter struct {
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (w *lineCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(string(p), " #") {
		if w.n--; w.n == 0 {
			w.cancel()
		}
	}
	return len(p), nil
}

// TestRunInterrupted: Ctrl-C during a calibration returns what was
// measured, fitted and marked partial, with ErrInterrupted, and stops the
// hub.
func TestRunInterrupted(t *testing.T) {
	testenv.Short(t, "runs a hub for ~30 s")
	const release = "5.5.1"
	hubtest.Require(t, release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &lineCounter{n: 3, cancel: cancel}
	dir := t.TempDir()
	cal, err := Run(ctx, Options{Release: release, Budget: 5 * time.Minute, RunDir: dir, Progress: w})
	t.Log("\n" + w.buf.String())
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrInterrupted wrapping context.Canceled", err)
	}
	noneLeft(t, dir)
	if !cal.Partial || len(cal.Samples) < 3 || cal.Fits.PeakRSS == nil {
		t.Fatalf("partial=%v, %d samples, fit %v: want a partial calibration of ≥ 3 samples with a fit", cal.Partial, len(cal.Samples), cal.Fits.PeakRSS != nil)
	}
	var buf bytes.Buffer
	if err := cal.Save(&buf); err != nil {
		t.Fatalf("a partial calibration must still save: %v", err)
	}
}

// TestValidateSmallLimit: under a small limit on 5.3.0 the bisection
// finds adjacent sizes that survive and are OOM-killed, consistent with
// its steps, and the prediction of the shipped calibration is near it.
func TestValidateSmallLimit(t *testing.T) {
	testenv.Short(t, "restarts a hub under a cgroup limit ~8 times")
	const release = "5.3.0"
	hubtest.Require(t, release)
	if _, err := proc.DetectMemoryController(); err != nil {
		testenv.Missing(t, fmt.Sprintf("a usable memory cgroup (%v)", err), testenv.CgroupHint)
	}
	cal := shipped(t, release)
	var progress bytes.Buffer
	dir := t.TempDir()
	res, err := Validate(context.Background(), ValidateOptions{
		Release: release, RunDir: dir, Limit: 320 << 20, Family: Family{Users: 1}, Calibration: cal, Progress: &progress,
	})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	noneLeft(t, dir)
	if res.Measured < 1 || res.Killed != res.Measured+1 {
		t.Fatalf("measured %d, killed %d: want adjacent sizes", res.Measured, res.Killed)
	}
	for _, st := range res.Steps {
		if (st.K <= res.Measured) != (st.Outcome == "healthy") {
			t.Errorf("step k=%d %s contradicts the threshold %d", st.K, st.Outcome, res.Measured)
		}
	}
	// The acceptance target is 15% (goal 10%) at 1 and 2 GiB; at this
	// small limit the baseline's noise weighs more, so allow 20%.
	if math.Abs(res.ErrorPct) > 20 {
		t.Errorf("predicted %d, measured %d: error %.1f%%", res.PredictedPoint, res.Measured, res.ErrorPct)
	}
}
