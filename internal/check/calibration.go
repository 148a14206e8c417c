package check

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hubcap-dev/hubcap/models"
)

// CalibrationsDir is where shipped calibrations live, relative to a hubcap
// checkout (models/calibrations/jupyterhub-<release>.json).
const CalibrationsDir = "models/calibrations"

// HomeEnv names the variable that points at the hubcap checkout (the
// directory holding models/calibrations and .hubcap).
const HomeEnv = "HUBCAP_HOME"

// Calib is a loaded calibration and the file it came from.
type Calib struct {
	Path string
	Cal  models.Calibration
	// Version is Cal.Release parsed.
	Version Version
}

// Match says how well a calibration fits the release predicted for.
type Match string

// Calibration matches, from best to worst.
const (
	// MatchExact: the calibration measured this very release.
	MatchExact Match = "exact"
	// MatchSameQuery: another release with the same start-up query class.
	MatchSameQuery Match = "same-query"
	// MatchOtherQuery: a release whose start-up query differs (a linear
	// calibration for a quadratic release badly under-predicts).
	MatchOtherQuery Match = "other-query"
)

// FindCalibrationsDir returns the directory of shipped calibrations:
// $HUBCAP_HOME/models/calibrations if HUBCAP_HOME is set, else the nearest
// models/calibrations at or above the working directory, else at or above
// the executable's directory. It returns "" when there is none.
func FindCalibrationsDir() string {
	if h := os.Getenv(HomeEnv); h != "" {
		d := filepath.Join(h, CalibrationsDir)
		if isDir(d) {
			return d
		}
		return ""
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			if d := filepath.Join(dir, CalibrationsDir); isDir(d) {
				return d
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// LoadCalibrationFile loads one calibration file (--calibration).
func LoadCalibrationFile(path string) (Calib, error) {
	c, err := models.LoadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Calib{}, fmt.Errorf("%w: --calibration %s does not exist; make calibrate writes models/calibrations/jupyterhub-<release>.json", ErrNoCalibration, path)
		}
		return Calib{}, fmt.Errorf("%w: %w", ErrNoCalibration, err)
	}
	v, err := ParseVersion(c.Release)
	if err != nil {
		return Calib{}, fmt.Errorf("%w: %s: its release %q is not a version: %w", ErrNoCalibration, path, c.Release, err)
	}
	return Calib{Path: path, Cal: c, Version: v}, nil
}

// LoadCalibrationsDir loads every *.json calibration in dir. Files that do
// not load are skipped and reported in problems (one line each).
func LoadCalibrationsDir(dir string) (cals []Calib, problems []string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	slices.Sort(paths)
	for _, p := range paths {
		c, err := LoadCalibrationFile(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("skipped calibration %s: %v", p, err))
			continue
		}
		cals = append(cals, c)
	}
	return cals, problems
}

// SelectCalibration picks the calibration for release target: the exact
// release if measured, else the closest release with the same start-up
// query class, else the closest of any class. Ties go to the newer
// release. ok is false when cals is empty. It is a pure function.
func SelectCalibration(cals []Calib, target Version) (c Calib, m Match, ok bool) {
	if len(cals) == 0 {
		return Calib{}, "", false
	}
	q := QueryOf(target)
	rank := func(x Calib) (Match, int) {
		switch {
		case x.Version.Compare(target) == 0:
			return MatchExact, 0
		case QueryOf(x.Version).Quadratic() == q.Quadratic():
			return MatchSameQuery, 1
		}
		return MatchOtherQuery, 2
	}
	best := -1
	var bestRank, bestDist int
	for i, x := range cals {
		_, r := rank(x)
		d := distance(x.Version, target)
		better := best < 0 || r < bestRank || (r == bestRank && d < bestDist) ||
			(r == bestRank && d == bestDist && x.Version.Compare(cals[best].Version) > 0)
		if better {
			best, bestRank, bestDist = i, r, d
		}
	}
	c = cals[best]
	m, _ = rank(c)
	return c, m, true
}

// selectLinear picks the calibration to predict "after upgrading to a fixed
// release": the newest linear (≥ FixRelease) one, if any.
func selectLinear(cals []Calib) (Calib, bool) {
	var best Calib
	found := false
	for _, c := range cals {
		if QueryOf(c.Version) != QueryLinear {
			continue
		}
		if !found || c.Version.Compare(best.Version) > 0 {
			best, found = c, true
		}
	}
	return best, found
}

// describeCalib names a calibration for people: "jupyterhub-5.3.0.json (JupyterHub 5.3.0)".
func describeCalib(c Calib) string {
	name := filepath.Base(c.Path)
	if name == "" || name == "." {
		name = "calibration"
	}
	return fmt.Sprintf("%s (JupyterHub %s)", name, strings.TrimSpace(c.Cal.Release))
}
