package calibrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/hubdb"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/models"
)

// Content is what every seeded spawner row carries: the running rows'
// state (StateBytes of JSON, padded in one string or spread over StateKeys
// small fields) and the user_options of every named row (none when
// NoUserOptions; stopped rows keep theirs and get state {} as a stop
// leaves it). Memory per joined row depends on it (models "Row content").
type Content struct {
	Name          string
	StateBytes    int
	StateKeys     int
	UserOptions   map[string]any
	NoUserOptions bool
}

// dbOptions applies c to seed options.
func (c Content) dbOptions(o seed.DBOptions) seed.DBOptions {
	o.StateBytes = max(c.StateBytes, 1) // 1: the spawner's fields, no padding
	o.StateKeys = c.StateKeys
	o.UserOptions = c.UserOptions
	o.NoUserOptions = c.NoUserOptions
	return o
}

// profileOptions is a KubeSpawner-like profile's user_options of about
// size bytes in n fields.
func profileOptions(n, size int) map[string]any {
	m := map[string]any{"profile": "workshop-gpu", "image": "quay.io/jupyter/scipy-notebook:2025-03-17"}
	per := max(8, size/max(n, 1)-16)
	for i := range n {
		m[fmt.Sprintf("opt_%02d", i)] = strings.Repeat(string(rune('a'+i%26)), per)
	}
	return m
}

// CalibrationContents are the row contents a calibration sweeps: the
// first is the main sweep's (a KubeSpawner-like 512-byte state with a
// small profile, as earlier calibrations), the others are measured on a
// few shapes each so that the fit can tell what per-row content costs:
// lean rows, many small fields (2 KiB and 8 KiB states with 1 KiB of
// options), and 2 KiB and 8 KiB in one string (bytes without objects: two
// classes, so that either held out is predicted from the other).
var CalibrationContents = []Content{
	{Name: "kube512", StateBytes: 512},
	{Name: "lean", NoUserOptions: true},
	{Name: "fields2k", StateBytes: 2048, StateKeys: 24, UserOptions: profileOptions(16, 1024)},
	{Name: "fields8k", StateBytes: 8192, StateKeys: 96, UserOptions: profileOptions(16, 1024)},
	{Name: "string2k", StateBytes: 2048, UserOptions: profileOptions(2, 300)},
	{Name: "string8k", StateBytes: 8192, NoUserOptions: true},
}

// ValidationContents are row contents no calibration sees, for checking
// predictions on held-out content: state only (~500 B, no options), a
// KubeSpawner-like 1 KiB state with a 600-byte profile, and a 4 KiB state
// of 48 fields with 1 KiB of options.
var ValidationContents = []Content{
	{Name: "stateonly", StateBytes: 500, NoUserOptions: true},
	{Name: "kube1k", StateBytes: 1024, StateKeys: 6, UserOptions: profileOptions(6, 600)},
	{Name: "fields4k", StateBytes: 4096, StateKeys: 48, UserOptions: profileOptions(12, 1024)},
}

// ContentByName finds a content class of either list.
func ContentByName(name string) (Content, bool) {
	for _, c := range append(append([]Content(nil), CalibrationContents...), ValidationContents...) {
		if c.Name == name {
			return c, true
		}
	}
	return Content{}, false
}

// readShape reads the shape of the database at path with hubdb (read-only;
// the hub is stopped) as a models.Shape with its row-content features.
func readShape(ctx context.Context, path string) (models.Shape, error) {
	db, err := hubdb.Open(ctx, "sqlite:///"+path)
	if err != nil {
		return models.Shape{}, err
	}
	defer db.Close()
	sh, err := db.Shape(ctx)
	if err != nil {
		return models.Shape{}, err
	}
	return models.FromShape(sh.Shape), nil
}

// Probe sizes: one user with probeRun running and probeStop stopped named
// rows (and its empty default row).
const probeRun, probeStop = 20, 10

// probeContent seeds a small plan with c into the pristine database
// (hub stopped) and reads back what one running and one stopped row carry.
// The live database holds the probe afterwards: restore before using it.
func probeContent(ctx context.Context, s *session, c Content) (models.RowContent, error) {
	if err := s.restore("pristine"); err != nil {
		return models.RowContent{}, err
	}
	if _, err := s.seedContent(ctx, seed.Plan{{Name: "cal-probe-" + c.Name, Running: probeRun, Stopped: probeStop}}, c); err != nil {
		return models.RowContent{}, err
	}
	sh, err := readShape(ctx, s.live)
	if err != nil {
		return models.RowContent{}, err
	}
	return contentFromProbe(sh, probeRun, probeStop), nil
}

// contentFromProbe solves the probe's shape for the per-row content. One
// user with S = run + stop + 1 rows (the default one empty), R = run:
//
//	LP = P^R + P = 2R·p_r + stop·p_s
//	JP = R·P + S·P^R = (R² + S·R)·p_r + R·stop·p_s
//
// for the parsed bytes p_r, p_s of a running and a stopped row. The text
// has no linear feature, so its stopped share follows the parsed ratio:
// b_s = b_r·p_s/p_r in JB = (R² + S·R)·b_r + R·stop·b_s.
func contentFromProbe(sh models.Shape, run, stop int) models.RowContent {
	R, st := float64(run), float64(stop)
	S := R + st + 1
	a1, b1 := 2*R, st
	a2, b2 := R*R+S*R, R*st
	det := a1*b2 - a2*b1
	pr := (sh.LP*b2 - sh.JP*b1) / det
	ps := (a1*sh.JP - a2*sh.LP) / det
	ratio := 0.0
	if pr > 0 {
		ratio = ps / pr
	}
	br := sh.JB / (R*R + S*R + R*st*ratio)
	return models.RowContent{RunBytes: br, RunPy: pr, StoppedBytes: br * ratio, StoppedPy: ps}
}
