package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/capreport"
	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/internal/script"
	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/results"
)

func init() {
	register(&command{
		Name:    "report",
		Summary: "write the HTML capacity report of a run: report RESULTS.ndjson… -o report.html",
		Run:     runReport,
	})
}

const reportSynopsis = `report RESULTS.ndjson|DIR|GLOB… [--calibration FILE] [--check FILE.json] [--limit 3Gi] [--planned 700] [--peak-rate 450] -o report.html

Writes one self-contained HTML file (it works offline) from a run's results
(hubcap run --out json=RESULTS.ndjson): the verdict (thresholds, hub memory
against the limit, the planned size against the predicted OOM threshold,
headroom), the timeline, latencies per phase, errors, the capacity model
and the environment. Prints the verdict (PASS, WARN or FAIL) and the path.

Defaults come from what the scenario recorded in the results: the planned
size (ATTENDEES), the hub's release, and the calibration shipped for that
release (models/calibrations/jupyterhub-<release>.json; --calibration none
draws no model). Thresholds come from --summary (a --summary-export file),
else from the thresholds the results declare.

Several files (or a directory of .ndjson/.ndjson.gz files, or a quoted glob)
are the instances of one run split by --execution-segment: they are merged
into one report (counters summed, latencies from every sample, thresholds
evaluated over the whole run, hub telemetry from the one instance that read
it) that lists the instances. Files of different runs (another --run-id) are
refused.`

type reportFlags struct {
	out, calibration, checkFile, summary string
	limit, family, release, title        string
	planned, headroom, peakRate          float64
	fromLogs                             bool
}

func runReport(_ context.Context, stdio IO, args []string) error {
	f := &reportFlags{}
	fs := newFlags("report", stdio, reportSynopsis)
	fs.StringVar(&f.out, "o", "report.html", "the HTML file to write")
	fs.StringVar(&f.out, "output", "report.html", "same as -o")
	fs.StringVar(&f.calibration, "calibration", "", "calibration file (default: the shipped one for the results' release; none: no model)")
	fs.StringVar(&f.checkFile, "check", "", "a hubcap check --json result to include (DB shape, sign-off)")
	fs.StringVar(&f.summary, "summary", "", "the run's --summary-export file, for the thresholds")
	fs.StringVar(&f.limit, "limit", "", "the hub's memory limit, a Kubernetes quantity: 3Gi, 2048Mi (default: the check's, else the scenario's HUB_MEMORY_LIMIT)")
	fs.Float64Var(&f.planned, "planned", 0, "the workshop size to sign off (default: the scenario's ATTENDEES)")
	fs.Float64Var(&f.peakRate, "peak-rate", 0, "the plan's peak arrivals per minute for the login-wave verdict (default: the scenario's wave)")
	fs.Float64Var(&f.headroom, "headroom", capreport.DefaultHeadroom, "fraction of the limit that must stay free at the planned size")
	fs.StringVar(&f.family, "family", "", "size family of the model: attendees or servers (default: the scenario's)")
	fs.StringVar(&f.release, "release", "", "JupyterHub release of the hub under test (default: as recorded in the results)")
	fs.StringVar(&f.title, "title", "", "the report's title")
	fs.BoolVar(&f.fromLogs, "from-logs", false, "the files are kubectl logs of pods that ran hubcap run --out json=- (hubcap k8s render): only their results lines are read")

	// Flags may come before or after the results file.
	var positional []string
	for {
		if err := parseFlags(fs, args, true); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) == 0 {
		return withExitCode(ExitUsage, fmt.Errorf("name the results file(s); usage: hubcap %s",
			strings.SplitN(reportSynopsis, "\n", 2)[0]))
	}
	paths, err := resultsFiles(positional, f.fromLogs)
	if err != nil {
		return withExitCode(ExitUsage, err)
	}
	if f.fromLogs {
		dir, err := os.MkdirTemp("", "hubcap-logs-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if paths, err = resultsFromLogs(paths, dir); err != nil {
			return err
		}
	}
	in, damaged, err := f.inputs(paths)
	if err != nil {
		return err
	}
	r, err := capreport.Build(in)
	if err != nil {
		return withExitCode(reportExitCode(err), err)
	}
	if err := r.WriteFile(f.out); err != nil {
		return err
	}
	if len(in.Instances) > 1 {
		ids := make([]string, len(in.Instances))
		for i, inst := range in.Instances {
			ids[i] = inst.ID
		}
		fmt.Fprintf(stdio.Stdout, "merged: %d instances of run %s (%s)\n", len(ids), in.Instances[0].RunID, strings.Join(ids, ", "))
	}
	printVerdict(stdio.Stdout, r, f.out)
	if damaged != nil {
		// The report shows what was readable; the damage still fails.
		return withExitCode(ExitError, fmt.Errorf("%w; %s shows what was readable", damaged, f.out))
	}
	return nil
}

// inputs turns the flags into capreport's inputs, reading the results (for
// the release that picks the default calibration), the calibration and the
// check. damaged is the error of results files with malformed lines, read
// around them.
func (f *reportFlags) inputs(paths []string) (in capreport.Inputs, damaged error, err error) {
	in, err = f.readInputs(paths, &damaged)
	return in, damaged, err
}

func (f *reportFlags) readInputs(paths []string, damaged *error) (capreport.Inputs, error) {
	in := capreport.Inputs{SummaryPath: f.summary, Planned: f.planned, PlannedRate: f.peakRate,
		Headroom: f.headroom, Family: f.family, Release: f.release, Title: f.title}
	var errs []error
	if f.limit != "" {
		n, err := bytesize.Parse(f.limit)
		if err != nil {
			errs = append(errs, fmt.Errorf("--limit: %w", err))
		}
		in.LimitBytes = float64(n)
	}
	if f.planned < 0 || f.peakRate < 0 || f.headroom < 0 || f.headroom >= 1 {
		errs = append(errs, errors.New("--planned and --peak-rate must be ≥ 0 and --headroom in [0, 1)"))
	}
	if len(errs) > 0 {
		return in, withExitCode(ExitUsage, errors.Join(errs...))
	}
	if len(paths) == 1 {
		in.ResultsPath = paths[0]
	}
	res, instances, notes, err := capreport.ReadMerged(paths)
	switch {
	case err != nil && res != nil && errors.Is(err, results.ErrMalformedLine):
		*damaged = err
	case err != nil:
		return in, withExitCode(reportExitCode(err), err)
	}
	in.Results, in.Instances, in.MergeNotes = res, instances, notes
	if f.checkFile != "" {
		b, err := os.ReadFile(f.checkFile)
		if err != nil {
			return in, fmt.Errorf("--check: %w", err)
		}
		var c check.Report
		if err := json.Unmarshal(b, &c); err != nil || c.Verdict == "" {
			if err == nil {
				err = errors.New("no verdict")
			}
			return in, withExitCode(ExitUsage, fmt.Errorf("--check %s: not a hubcap check --json result: %w", f.checkFile, err))
		}
		in.Check = &c
	}
	switch f.calibration {
	case "none":
	case "":
		release := f.release
		if release == "" {
			release = capreport.ScenarioInfoOf(res).HubVersion
		}
		if release == "" && in.Check != nil {
			release = in.Check.Release.Version
		}
		cal, path, ok, err := capreport.ShippedCalibration(release)
		if err != nil {
			return in, err
		}
		if ok {
			in.Calibration, in.CalibrationPath = cal, path
		}
	default:
		cal, err := models.LoadFile(f.calibration)
		if err != nil {
			return in, withExitCode(ExitUsage, fmt.Errorf("--calibration: %w", err))
		}
		in.Calibration, in.CalibrationPath = &cal, f.calibration
	}
	return in, nil
}

// resultsFiles expands the report's arguments: files as given, the
// .ndjson, .ndjson.gz, .json and .json.gz files of a directory, and globs
// (for patterns the shell did not expand, as in a container). A pattern
// that matches nothing is an error.
func resultsFiles(args []string, logs bool) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if c := filepath.Clean(p); !seen[c] {
			seen[c] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil {
			if !fi.IsDir() {
				add(a)
				continue
			}
			entries, err := os.ReadDir(a)
			if err != nil {
				return nil, err
			}
			n := 0
			for _, e := range entries {
				name := e.Name()
				if e.Type().IsRegular() && (strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".ndjson.gz") ||
					strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.gz") || logs && strings.HasSuffix(name, ".log")) {
					add(filepath.Join(a, name))
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("directory %s holds no .ndjson or .ndjson.gz file", a)
			}
			continue
		}
		if !strings.ContainsAny(a, "*?[") {
			add(a) // missing: reading it says so
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%q matches no file", a)
		}
		for _, m := range matches {
			add(m)
		}
	}
	return out, nil
}

// resultsFromLogs copies the results lines of each log into dir, under the
// log's own name, and returns the copies' paths.
func resultsFromLogs(paths []string, dir string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for i, p := range paths {
		in, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", capreport.ErrResults, err)
		}
		dst := filepath.Join(dir, strconv.Itoa(i), filepath.Base(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			in.Close()
			return nil, err
		}
		w, err := os.Create(dst)
		if err != nil {
			in.Close()
			return nil, err
		}
		kept, _, err := results.FromLogs(in, w)
		in.Close()
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("--from-logs %s: %w", p, err)
		}
		if kept == 0 {
			return nil, withExitCode(ExitUsage, fmt.Errorf("--from-logs %s: no results line in it (was the pod run with --out json=-?)", p))
		}
		out = append(out, dst)
	}
	return out, nil
}

func reportExitCode(err error) int {
	if errors.Is(err, capreport.ErrBadInputs) || errors.Is(err, capreport.ErrSummary) {
		return ExitUsage
	}
	return ExitError
}

// printVerdict prints the banner, its reasons, the notes and the path.
func printVerdict(w io.Writer, r *capreport.Report, path string) {
	a := r.Assessment
	fmt.Fprintf(w, "verdict: %s\n", a.Level)
	for _, why := range a.Reasons {
		fmt.Fprintf(w, "  - %s\n", why)
	}
	if v := r.Input.Verdict; v != nil && v.PlannedSize > 0 {
		unit := v.SizeUnit
		line := fmt.Sprintf("planned %g %s", v.PlannedSize, unit)
		if v.PredictedThreshold > 0 {
			line += fmt.Sprintf("; predicted OOM threshold %s %s", thresholdText(v.PredictedThreshold), unit)
		}
		if v.MemoryLimitBytes > 0 {
			line += fmt.Sprintf("; limit %s", check.Quantity(v.MemoryLimitBytes))
		}
		fmt.Fprintln(w, line)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if res := r.Input.Results; res != nil && res.CutShort() {
		fmt.Fprintf(w, "note: the run was cut short (status %q)\n", res.Status)
	}
	fmt.Fprintf(w, "report: %s\n", path)
}

func thresholdText(v float64) string {
	if math.IsInf(v, 1) {
		return "beyond the model's range"
	}
	return fmt.Sprintf("%.0f", v)
}

// writeRunReport is `hubcap run --report PATH`: the capacity report of the
// run that just ended (also when it was cut short), from its results file,
// with its own threshold outcomes and status, and the calibration shipped
// for the hub's release when there is one. release is --hub local:RELEASE's
// ("" for a hub URL: the version recorded in the results).
func writeRunReport(path, results string, res *script.Result, status, release string, stdio IO) error {
	in := capreport.Inputs{ResultsPath: results, Status: status, Release: release}
	if res != nil && res.Snapshot != nil {
		in.Thresholds = capreport.ThresholdsFromSnapshot(res.Snapshot)
	}
	rs, err := capreport.ReadResults(results)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	in.Results = rs
	if release == "" {
		release = capreport.ScenarioInfoOf(rs).HubVersion
	}
	cal, calPath, ok, err := capreport.ShippedCalibration(release)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "hubcap run: --report: %v; the report has no model\n", err)
	} else if ok {
		in.Calibration, in.CalibrationPath = cal, calPath
	}
	r, err := capreport.Build(in)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	if err := r.WriteFile(path); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	printVerdict(stdio.Stdout, r, path)
	return nil
}
