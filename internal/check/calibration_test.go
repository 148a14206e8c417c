package check

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func calAt(release string) Calib {
	v, err := ParseVersion(release)
	if err != nil {
		panic(err)
	}
	c := Calib{Path: "jupyterhub-" + release + ".json", Version: v}
	c.Cal.Release = release
	return c
}

func TestSelectCalibration(t *testing.T) {
	shipped := []Calib{calAt("5.3.0"), calAt("5.5.1")}
	cases := []struct {
		name   string
		cals   []Calib
		target string
		want   string
		match  Match
	}{
		{"exact quadratic", shipped, "5.3.0", "5.3.0", MatchExact},
		{"exact linear", shipped, "5.5.1", "5.5.1", MatchExact},
		// Another quadratic release takes the quadratic calibration.
		{"5.2.1 takes 5.3.0", shipped, "5.2.1", "5.3.0", MatchSameQuery},
		{"5.4.3 takes 5.5.1", shipped, "5.4.3", "5.5.1", MatchSameQuery},
		// 5.4.0 is nearer 5.3.0 by version distance, but the query class wins.
		{"5.4.0 takes 5.5.1", shipped, "5.4.0", "5.5.1", MatchSameQuery},
		{"class beats distance", []Calib{calAt("4.0.0"), calAt("5.3.0")}, "5.0.0", "5.3.0", MatchSameQuery},
		// 4.x is linear: the linear calibration, though of another major.
		{"4.1.6 takes 5.5.1", shipped, "4.1.6", "5.5.1", MatchSameQuery},
		// Only a linear calibration for a quadratic release: taken, flagged.
		{"only linear", []Calib{calAt("5.5.1")}, "5.3.0", "5.5.1", MatchOtherQuery},
		// Among same-class releases the nearest wins, ties to the newer.
		{"nearest", []Calib{calAt("5.0.0"), calAt("5.2.0"), calAt("5.3.0")}, "5.1.0", "5.2.0", MatchSameQuery},
		{"tie to newer", []Calib{calAt("5.1.0"), calAt("5.3.0")}, "5.2.0", "5.3.0", MatchSameQuery},
		// A pre-release is not the release.
		{"pre-release", []Calib{calAt("6.0.0")}, "6.0.0b2", "6.0.0", MatchSameQuery},
	}
	for _, c := range cases {
		tv, _ := ParseVersion(c.target)
		got, m, ok := SelectCalibration(c.cals, tv)
		if !ok || got.Cal.Release != c.want || m != c.match {
			t.Errorf("%s: SelectCalibration(%s) = %s %s %v, want %s %s", c.name, c.target, got.Cal.Release, m, ok, c.want, c.match)
		}
	}
	if _, _, ok := SelectCalibration(nil, shipped[0].Version); ok {
		t.Error("SelectCalibration of nothing is ok")
	}
	if l, ok := selectLinear(append(shipped, calAt("5.4.1"), calAt("6.0.0b1"))); !ok || l.Cal.Release != "6.0.0b1" {
		t.Errorf("selectLinear = %s %v, want the newest linear 6.0.0b1", l.Cal.Release, ok)
	}
	if _, ok := selectLinear([]Calib{calAt("5.3.0"), calAt("5.4.2")}); ok {
		t.Error("selectLinear took a quadratic or buggy release")
	}
}

func TestLoadCalibrations(t *testing.T) {
	src := testCalibrations(t)
	dir := t.TempDir()
	for _, n := range []string{"jupyterhub-5.3.0.json", "jupyterhub-5.5.1.json"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"version": 1,`), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not json"), 0o644)
	cals, problems := LoadCalibrationsDir(dir)
	if len(cals) != 2 || cals[0].Cal.Release != "5.3.0" || cals[1].Cal.Release != "5.5.1" {
		t.Errorf("loaded %d calibrations: %+v", len(cals), cals)
	}
	if len(problems) != 1 {
		t.Errorf("problems %q, want one for broken.json", problems)
	}
	if _, err := LoadCalibrationFile(filepath.Join(dir, "missing.json")); !errors.Is(err, ErrNoCalibration) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadCalibrationFile(filepath.Join(dir, "broken.json")); !errors.Is(err, ErrNoCalibration) {
		t.Errorf("broken file: %v", err)
	}

	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, CalibrationsDir), 0o755)
	t.Setenv(HomeEnv, home)
	if got := FindCalibrationsDir(); got != filepath.Join(home, CalibrationsDir) {
		t.Errorf("FindCalibrationsDir with %s=%s: %q", HomeEnv, home, got)
	}
	t.Setenv(HomeEnv, t.TempDir())
	if got := FindCalibrationsDir(); got != "" {
		t.Errorf("FindCalibrationsDir with an empty %s: %q", HomeEnv, got)
	}
}
