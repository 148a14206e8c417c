package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/hubcap-dev/hubcap/shape"
)

// ErrBadReplay: a replay file (hubcap replay --json) cannot be read.
var ErrBadReplay = errors.New("check: bad replay file")

// Replay is a measured restart of the database (hubcap replay --json),
// shown beside the prediction. It is the measurement, not a model: when it
// exists for the same shape and release, it is what to believe.
type Replay struct {
	// File is where it was read from.
	File    string `json:"file"`
	Release string `json:"release"`
	// Shape is what the replay read from its copy of the database.
	U int64 `json:"users"`
	S int64 `json:"spawner_rows"`
	R int64 `json:"running"`
	J int64 `json:"joined_rows"`
	// Limit is the memory limit it ran under (0: none).
	Limit     int64 `json:"memory_limit"`
	Healthy   bool  `json:"healthy"`
	OOMKilled bool  `json:"oom_killed"`
	// PeakRSS is the measured start-up peak (under OOMKilled, the peak
	// seen before the kill); Seconds to healthy; InitSpawners seconds.
	PeakRSS      int64    `json:"peak_rss"`
	Seconds      float64  `json:"seconds_to_healthy"`
	InitSpawners *float64 `json:"init_spawners_seconds,omitempty"`
	// SameShape: U, S, R and J equal the report's. PeakError is
	// (predicted − measured)/measured for a healthy replay of the same
	// shape (nil otherwise).
	SameShape bool     `json:"same_shape"`
	PeakError *float64 `json:"peak_error,omitempty"`
}

// ParseReplay reads the JSON that hubcap replay --json prints.
func ParseReplay(b []byte) (*Replay, error) {
	var in struct {
		Release      string       `json:"release"`
		Shape        *shape.Shape `json:"shape"`
		Limit        int64        `json:"memory_limit"`
		Healthy      bool         `json:"healthy"`
		OOMKilled    bool         `json:"oom_killed"`
		PeakRSS      int64        `json:"peak_rss"`
		Seconds      float64      `json:"seconds_to_healthy"`
		InitSpawners *float64     `json:"init_spawners_seconds"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%w: %v; give the output of hubcap replay --json", ErrBadReplay, err)
	}
	switch {
	case in.Release == "" || in.Shape == nil:
		return nil, fmt.Errorf("%w: no release or shape; give the output of hubcap replay --json", ErrBadReplay)
	case in.Shape.U < 0 || in.Shape.S < 0 || in.Shape.R < 0 || in.Shape.J < 0 || in.Limit < 0 || in.PeakRSS < 0 || in.Seconds < 0:
		return nil, fmt.Errorf("%w: negative counts or measurements", ErrBadReplay)
	case in.Healthy == in.OOMKilled:
		return nil, fmt.Errorf("%w: a replay is either healthy or OOM-killed", ErrBadReplay)
	case in.Healthy && in.PeakRSS == 0:
		return nil, fmt.Errorf("%w: a healthy replay without a peak", ErrBadReplay)
	}
	return &Replay{
		Release: in.Release, U: in.Shape.U, S: in.Shape.S, R: in.Shape.R, J: in.Shape.J,
		Limit: in.Limit, Healthy: in.Healthy, OOMKilled: in.OOMKilled,
		PeakRSS: in.PeakRSS, Seconds: in.Seconds, InitSpawners: in.InitSpawners,
	}, nil
}

// LoadReplay reads a replay file.
func LoadReplay(path string) (*Replay, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v; write one with hubcap replay --db … --release … --json > FILE", ErrBadReplay, err)
	}
	rp, err := ParseReplay(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rp.File = path
	return rp, nil
}

// AttachReplay puts rp beside the prediction: whether it measured the same
// shape, and the prediction's error against it. The verdict is the
// prediction's; the text report shows both.
func (r *Report) AttachReplay(rp *Replay) {
	if rp == nil {
		return
	}
	c := *rp
	c.SameShape = c.U == r.Shape.U && c.S == r.Shape.S && c.R == r.Shape.R && c.J == r.Shape.J
	c.PeakError = nil
	if c.SameShape && c.Healthy && c.PeakRSS > 0 && r.Peak.Point > 0 {
		e := (r.Peak.Point - float64(c.PeakRSS)) / float64(c.PeakRSS)
		c.PeakError = &e
	}
	r.Replay = &c
}

// String is the one line the text report and the capacity report print:
// what the replay measured, and the prediction's error against it.
func (rp *Replay) String() string { return replayLine(rp) }

// replayLine is the text report's line for the replay.
func replayLine(rp *Replay) string {
	lim := "no limit"
	if rp.Limit > 0 {
		lim = "limit " + fmtBytes(float64(rp.Limit))
	}
	var s string
	if rp.OOMKilled {
		s = fmt.Sprintf("OOM-KILLED under %s after %s on JupyterHub %s", lim, fmtSecs(rp.Seconds), rp.Release)
	} else {
		s = fmt.Sprintf("measured peak %s, healthy in %s", fmtBytes(float64(rp.PeakRSS)), fmtSecs(rp.Seconds))
		if rp.InitSpawners != nil {
			s += fmt.Sprintf(" (init_spawners %s)", fmtSecs(*rp.InitSpawners))
		}
		s += fmt.Sprintf(", JupyterHub %s, %s", rp.Release, lim)
	}
	switch {
	case rp.PeakError != nil:
		dir := "above"
		if *rp.PeakError < 0 {
			dir = "below"
		}
		s += fmt.Sprintf("; the predicted peak is %.0f%% %s it", 100*math.Abs(*rp.PeakError), dir)
	case !rp.SameShape:
		s += fmt.Sprintf("; NOT this shape (replayed U %s S %s R %s J %s)", groupInt(rp.U), groupInt(rp.S), groupInt(rp.R), groupInt(rp.J))
	}
	return s
}
