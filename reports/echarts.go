package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrEChartsMissing: the ECharts library to inline was not found.
var ErrEChartsMissing = errors.New("reports: echarts.min.js not found")

// EChartsRelPath is where `make setup` installs ECharts, relative to the
// install root (the directory holding .hubcap/).
const EChartsRelPath = ".hubcap/node/node_modules/echarts/dist/echarts.min.js"

// LocateECharts finds the echarts.min.js installed by `make setup`. It looks,
// in order, under $HUBCAP_HOME (the directory holding .hubcap/, or .hubcap
// itself), then in every parent of the working directory, then in every
// parent of the running executable. The error wraps ErrEChartsMissing and
// says where it looked and what to run.
func LocateECharts() (string, error) {
	var tried []string
	try := func(root string) (string, bool) {
		if root == "" {
			return "", false
		}
		p := filepath.Join(root, EChartsRelPath)
		if filepath.Base(filepath.Clean(root)) == ".hubcap" {
			p = filepath.Join(filepath.Dir(filepath.Clean(root)), EChartsRelPath)
		}
		tried = append(tried, p)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return p, true
		}
		return "", false
	}
	if home := os.Getenv("HUBCAP_HOME"); home != "" {
		if p, ok := try(home); ok {
			return p, nil
		}
	}
	walk := func(dir string) (string, bool) {
		for dir != "" {
			if _, err := os.Stat(filepath.Join(dir, ".hubcap")); err == nil {
				if p, ok := try(dir); ok {
					return p, true
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
		return "", false
	}
	if wd, err := os.Getwd(); err == nil {
		if p, ok := walk(wd); ok {
			return p, nil
		}
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		if p, ok := walk(filepath.Dir(exe)); ok {
			return p, nil
		}
	}
	where := "no .hubcap directory above the working directory or the executable"
	if len(tried) > 0 {
		where = "looked in " + strings.Join(tried, ", ")
	}
	return "", fmt.Errorf("%w (%s); run `make setup` in the hubcap checkout (it installs echarts@5.6.0 into .hubcap/node) or set HUBCAP_HOME to the directory holding .hubcap", ErrEChartsMissing, where)
}

// loadECharts returns the library to inline: explicit bytes, else the located file.
func loadECharts(explicit []byte) ([]byte, error) {
	if explicit != nil {
		if len(explicit) == 0 {
			return nil, fmt.Errorf("%w: Input.EChartsJS is empty", ErrEChartsMissing)
		}
		return explicit, nil
	}
	p, err := LocateECharts()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v; run `make setup`", ErrEChartsMissing, err)
	}
	return b, nil
}
