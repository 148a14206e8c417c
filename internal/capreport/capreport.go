package capreport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/check"
	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/reports"
	"github.com/hubcap-dev/hubcap/results"
)

// MetricScenarioInfo is the gauge a scenario adds one point of (value 1)
// to record what it was asked to do: its upper-case tags are its parameters,
// the lower-case tags [TagScript], [TagFamily] and [TagHubVersion] describe
// the run.
const MetricScenarioInfo = results.MetricScenarioInfo

// Tags of the [MetricScenarioInfo] point.
const (
	TagScript     = results.TagScript     // scenario file name, e.g. "workshop.js"
	TagFamily     = results.TagFamily     // FamilyAttendees or FamilyServers
	TagHubVersion = results.TagHubVersion // the version /hub/api/ answered
)

// Scenario parameters the report reads (tags of [MetricScenarioInfo]).
const (
	// ParamAttendees is the workshop size the scenario simulated: the
	// default planned size of the attendees family.
	ParamAttendees = "ATTENDEES"
	// ParamSecondServerFraction is the share of attendees who open a
	// second named server.
	ParamSecondServerFraction = "SECOND_SERVER_FRACTION"
	// ParamUsers and ParamServersPerUser size the servers family.
	ParamUsers          = "USERS"
	ParamServersPerUser = "SERVERS_PER_USER"
	// ParamMemoryLimit is the hub's memory limit in the deployment being
	// planned (a Kubernetes quantity such as 3Gi), used when no limit is
	// given to the report.
	ParamMemoryLimit = "HUB_MEMORY_LIMIT"
)

// DefaultHeadroom is the fraction of the memory limit that must stay free at
// the planned size (reports.Verdict.MinHeadroom).
const DefaultHeadroom = 0.2

// Sentinel errors. Each error says what to do.
var (
	// ErrBadInputs: the inputs are inconsistent (negative sizes, an unknown
	// family or status).
	ErrBadInputs = errors.New("capreport: bad inputs")
	// ErrResults: the results file cannot be read.
	ErrResults = errors.New("capreport: cannot read the results")
	// ErrSummary: the summary file cannot be read or is not a k6 summary.
	ErrSummary = errors.New("capreport: cannot read the summary")
	// ErrWrite: the report file cannot be written.
	ErrWrite = errors.New("capreport: cannot write the report")
)

// Inputs are what a report is assembled from. Every part but the results is
// optional; what is missing is left out of the report with a note.
type Inputs struct {
	// Title heads the report (default reports').
	Title string
	// Results of the run; when nil, ResultsPath is read.
	Results *reports.Results
	// ResultsPath is the k6 NDJSON file (`--out json=FILE`, .gz too). It is
	// also where thresholds declared by the run are read from when neither
	// Thresholds nor SummaryPath is given.
	ResultsPath string
	// Instances are the instances of a run split by execution segments whose
	// files were merged into Results (see ReadMerged); they are listed in
	// the report, and the thresholds the results declare are evaluated on
	// the merged results. MergeNotes are ReadMerged's notes.
	Instances  []results.Instance
	MergeNotes []string
	// Thresholds are the run's threshold outcomes when the caller has them
	// (hubcap run: see ThresholdsFromSnapshot). Nil means "read them".
	Thresholds []reports.Threshold
	// SummaryPath is a `--summary-export` file or handleSummary's JSON data,
	// read for the thresholds when Thresholds is nil.
	SummaryPath string
	// Calibration is the calibration of the hub's release (nil: no model).
	Calibration *models.Calibration
	// CalibrationPath names the calibration file, for the record.
	CalibrationPath string
	// Check is a `hubcap check --json` result (nil: none).
	Check *check.Report
	// Planned is the workshop size to sign off, in the family's unit
	// (0: the scenario's ATTENDEES or SERVERS_PER_USER).
	Planned float64
	// LimitBytes is the hub's memory limit (0: the check's limit, else the
	// scenario's HUB_MEMORY_LIMIT, else unknown).
	LimitBytes float64
	// Headroom is the fraction of the limit that must stay free at the
	// planned size (0: DefaultHeadroom).
	Headroom float64
	// Family is FamilyAttendees or FamilyServers ("": the scenario's, else
	// attendees).
	Family string
	// Release is the JupyterHub release of the hub under test ("": as
	// recorded in the results, else the check's).
	Release string
	// Status is the run's outcome as the runner knows it (reports.Status…);
	// it is used when the results have no hubcap_run_status marker.
	Status string
	// Params are scenario parameters to record (added to the scenario's
	// own; keys that look secret are redacted by the report).
	Params map[string]string
	// Config is the hub configuration summary to print.
	Config string
	// PlannedRate is the plan's peak arrivals per minute for the login-wave
	// analysis (0: from the scenario's parameters, see BuildWave).
	PlannedRate float64
	// EChartsJS and GeneratedAt are passed to reports.Input.
	EChartsJS   []byte
	GeneratedAt time.Time
}

// Validate reports every problem of in at once, each wrapping ErrBadInputs.
func (in Inputs) Validate() []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadInputs}, a...)...))
	}
	if in.Results == nil && in.ResultsPath == "" {
		bad("no results: give the run's NDJSON file (hubcap run --out json=FILE)")
	}
	if !(in.Planned >= 0) || math.IsInf(in.Planned, 0) {
		bad("planned size %v: want a number ≥ 0", in.Planned)
	}
	if !(in.LimitBytes >= 0) || math.IsInf(in.LimitBytes, 0) {
		bad("memory limit %v: want a size ≥ 0 such as 3Gi", in.LimitBytes)
	}
	if !(in.Headroom >= 0 && in.Headroom < 1) {
		bad("headroom %v: want a fraction in [0, 1), e.g. 0.2", in.Headroom)
	}
	switch in.Family {
	case "", FamilyAttendees, FamilyServers:
	default:
		bad("family %q: use %s or %s", in.Family, FamilyAttendees, FamilyServers)
	}
	switch in.Status {
	case "", reports.StatusCompleted, reports.StatusInterrupted, reports.StatusHubDied, reports.StatusAborted:
	default:
		bad("status %q: use %s, %s, %s or %s", in.Status, reports.StatusCompleted,
			reports.StatusInterrupted, reports.StatusHubDied, reports.StatusAborted)
	}
	return errs
}

// Report is an assembled report.
type Report struct {
	// Input is what reports.Render draws.
	Input reports.Input
	// Assessment is the banner: PASS, WARN or FAIL and why.
	Assessment reports.Assessment
	// Notes say which defaults were taken and what is missing, for people.
	Notes []string
}

// Build assembles the report. It reads ResultsPath and SummaryPath when
// needed; everything else is a pure function of in.
func Build(in Inputs) (*Report, error) {
	if errs := in.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	res := in.Results
	if res == nil {
		var err error
		if res, err = readResults(in.ResultsPath); err != nil {
			return nil, err
		}
	}
	var declared map[string]reports.Metric
	if in.Thresholds == nil && in.SummaryPath == "" && (in.ResultsPath != "" || len(in.Instances) > 0) {
		declared = res.Metrics
	}
	var summary []byte
	if in.Thresholds == nil && in.SummaryPath != "" {
		var err error
		if summary, err = os.ReadFile(in.SummaryPath); err != nil {
			return nil, fmt.Errorf("%w: %w (give the file hubcap run --summary-export wrote)", ErrSummary, err)
		}
	}
	return assemble(in, res, declared, summary)
}

// assemble is Build once the files are read: a pure function.
func assemble(in Inputs, res *reports.Results, declared map[string]reports.Metric, summary []byte) (*Report, error) {
	r := &Report{}
	note := func(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }
	info := ScenarioInfoOf(res)
	env := map[string]string{}
	for k, v := range info.Params {
		env[k] = v
	}
	for k, v := range in.Params {
		env[k] = v
	}
	if info.Script != "" {
		env["scenario"] = info.Script
	}
	if in.ResultsPath != "" {
		env["results file"] = filepath.Base(in.ResultsPath)
	}
	instancesEnv(env, in.Instances)
	for _, n := range in.MergeNotes {
		note("%s", n)
	}

	// The run's status.
	res, why := withStatus(res, in.Status)
	if why != "" {
		env["run status"] = why
	}

	// Thresholds.
	var ths []reports.Threshold
	switch {
	case in.Thresholds != nil:
		ths = append(ths, in.Thresholds...)
		env["thresholds"] = "as the run evaluated them"
	case summary != nil:
		var err error
		if ths, err = ParseSummary(summary, res); err != nil {
			return nil, err
		}
		env["thresholds"] = "from " + filepath.Base(in.SummaryPath)
	default:
		ths = evaluateDeclared(declared, res)
		env["thresholds"] = "evaluated on the results (thresholds on submetrics need --summary)"
		if len(declared) == 0 {
			env["thresholds"] = "none declared in the results"
		}
	}

	// Check.
	var chk *reports.Check
	if in.Check != nil {
		chk = checkView(in.Check)
		env["hubcap check"] = fmt.Sprintf("%s on %s %s", in.Check.Verdict, in.Check.Source.Kind, in.Check.Source.Location)
		if in.Check.Replay != nil {
			// the measured restart beside the prediction (hubcap check --replay)
			env["hubcap replay"] = in.Check.Replay.String()
		}
		ths = append(ths, checkThreshold(in.Check))
	}

	// Release.
	release, relSource := in.Release, "given"
	switch {
	case release != "":
	case info.HubVersion != "":
		release, relSource = info.HubVersion, "as the hub answered during the run"
	case in.Check != nil && in.Check.Release.Version != "":
		release, relSource = in.Check.Release.Version, "from the check"
	default:
		relSource = ""
		note("the results do not record the JupyterHub release; pass --release")
	}
	if relSource != "" {
		env["release source"] = relSource
	}

	// Memory limit.
	limit, limitSource := in.LimitBytes, "given"
	if limit == 0 && in.Check != nil && in.Check.MemoryLimit > 0 {
		limit, limitSource = float64(in.Check.MemoryLimit), "from the check"
	}
	if limit == 0 && info.Params[ParamMemoryLimit] != "" {
		if b, err := bytesize.Parse(info.Params[ParamMemoryLimit]); err == nil && b > 0 {
			limit, limitSource = float64(b), "the scenario's "+ParamMemoryLimit
		} else {
			note("the scenario's %s=%q is not a memory size; ignored", ParamMemoryLimit, info.Params[ParamMemoryLimit])
		}
	}
	if limit > 0 {
		env["memory limit"] = fmtBytes(limit) + " (" + limitSource + ")"
		if t, ok := runPeakThreshold(res, limit); ok {
			ths = append(ths, t)
		}
	} else {
		note("no memory limit: pass --limit (e.g. --limit 3Gi) for a capacity verdict")
	}

	// Family and planned size.
	famName := in.Family
	if famName == "" {
		famName = info.Family
	}
	if famName == "" {
		famName = FamilyAttendees
	}
	fam, err := FamilyOf(famName, res, info.Params)
	if err != nil {
		return nil, err
	}
	env["size family"] = fam.Describe
	planned, plannedSource := in.Planned, "given"
	if planned == 0 {
		planned, plannedSource = fam.DefaultPlanned, "the scenario's parameters"
		if planned == 0 {
			note("no planned size: pass --planned")
		}
	}
	if planned > 0 {
		env["planned size"] = fmtNum(planned) + " " + fam.Unit + " (" + plannedSource + ")"
	}

	headroom := in.Headroom
	if headroom == 0 {
		headroom = DefaultHeadroom
	}
	verdict := &reports.Verdict{Thresholds: ths, PlannedSize: planned, MemoryLimitBytes: limit,
		MinHeadroom: headroom, SizeUnit: fam.Unit}

	// Model.
	var cm *reports.CapacityModel
	if in.Calibration != nil {
		m, err := in.Calibration.PeakModel()
		if err != nil {
			return nil, fmt.Errorf("%w: calibration %s: %w (recalibrate with hubcap calibrate)", ErrBadInputs, in.CalibrationPath, err)
		}
		mv := BuildModel(m, in.Calibration.Samples, fam.WithContent(in.Calibration.Content), planned, limit)
		cm = mv.Model
		if limit > 0 {
			verdict.PredictedThreshold = mv.Threshold
		}
		if planned > 0 {
			verdict.PredictedPeakBytes = mv.PlannedPeak.Upper
		}
		for _, n := range mv.Notes {
			note("%s", n)
		}
		env["calibration"] = calibrationText(in.Calibration, in.CalibrationPath)
		if release != "" && in.Calibration.Release != "" && in.Calibration.Release != release {
			note("the calibration measured JupyterHub %s, the run's hub is %s: calibrate the run's release", in.Calibration.Release, release)
		}
	} else {
		what := "this release"
		if release != "" {
			what = release
		}
		note("no calibration: no capacity model (make one with hubcap calibrate --hub local:%s)", what)
	}
	if in.Calibration != nil && in.Calibration.Partial {
		note("the calibration is partial (cut short): calibrate again for a complete one")
	}

	wave, err := BuildWave(res, info, WaveInputs{PlannedRate: in.PlannedRate, Planned: planned,
		LimitBytes: limit, RestartPeakBytes: verdict.PredictedPeakBytes})
	if err != nil {
		note("no login-wave analysis: %v", err)
	}

	r.Input = reports.Input{
		Title:       in.Title,
		Results:     res,
		Verdict:     verdict,
		Model:       cm,
		Wave:        wave,
		Check:       chk,
		Env:         &reports.Environment{Release: release, Config: in.Config, Params: env},
		GeneratedAt: in.GeneratedAt,
		EChartsJS:   in.EChartsJS,
	}
	r.Assessment = reports.Assess(r.Input)
	return r, nil
}

// Render writes the report's HTML to w.
func (r *Report) Render(w io.Writer) error { return reports.Render(w, r.Input) }

// WriteFile renders the report into path atomically (a temporary file in
// the same directory, then a rename), creating the directory if needed.
func (r *Report) WriteFile(path string) error {
	var buf bytes.Buffer
	if err := r.Render(&buf); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	f, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	tmp := f.Name()
	_, werr := f.Write(buf.Bytes())
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: %s: %w", ErrWrite, path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

// Write builds the report of in and writes it to path: the hook of
// `hubcap run --report`.
func Write(path string, in Inputs) error {
	r, err := Build(in)
	if err != nil {
		return err
	}
	return r.WriteFile(path)
}

// readResults reads a results file.
func readResults(path string) (*reports.Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (give the file hubcap run --out json=FILE wrote)", ErrResults, err)
	}
	defer f.Close()
	res, err := reports.ReadNDJSON(f)
	if err != nil {
		err = fmt.Errorf("%w: %s: %w", ErrResults, path, err)
		if res != nil && errors.Is(err, results.ErrMalformedLine) {
			return res, err // damaged lines skipped: what was readable, and the error
		}
		return nil, err
	}
	return res, nil
}

// calibrationText describes a calibration for the environment table.
func calibrationText(c *models.Calibration, path string) string {
	var parts []string
	if path != "" {
		parts = append(parts, filepath.Base(path))
	}
	parts = append(parts, "JupyterHub "+c.Release)
	parts = append(parts, fmt.Sprintf("%d restarts", len(c.Samples)))
	if !c.CreatedAt.IsZero() {
		parts = append(parts, "made "+c.CreatedAt.UTC().Format("2006-01-02"))
	}
	e := c.Environment
	var on []string
	if e.Python != "" {
		on = append(on, "Python "+e.Python)
	}
	if e.SQLAlchemy != "" {
		on = append(on, "SQLAlchemy "+e.SQLAlchemy)
	}
	if e.Database != "" {
		on = append(on, e.Database)
	}
	if e.Cores > 0 {
		on = append(on, fmt.Sprintf("%d cores", e.Cores))
	}
	if len(on) > 0 {
		parts = append(parts, "on "+strings.Join(on, ", "))
	}
	if c.Partial {
		parts = append(parts, "partial")
	}
	return strings.Join(parts, "; ")
}

// checkView converts a `hubcap check` report into the report's DB view.
func checkView(c *check.Report) *reports.Check {
	v := &reports.Check{Shape: c.Shape.Totals(), Source: c.Source.Kind + " " + c.Source.Location}
	for _, u := range c.TopUsers {
		v.Shape.Users = append(v.Shape.Users, u.User)
	}
	// The histogram needs every user; the check lists the top ones only.
	if int64(len(c.TopUsers)) == c.Shape.U && c.Shape.U > 0 {
		counts := map[int64]int64{}
		for _, u := range c.TopUsers {
			counts[u.S]++
		}
		keys := make([]int64, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, k := range keys {
			v.Histogram = append(v.Histogram, reports.ShapeBucket{Spawners: k, Users: counts[k]})
		}
	}
	return v
}

// checkThreshold shows the check's sign-off among the thresholds: a FAIL
// (the checked database's next start-up is predicted over the limit)
// fails the report.
func checkThreshold(c *check.Report) reports.Threshold {
	obs := string(c.Verdict)
	if c.Peak.Point > 0 {
		obs += fmt.Sprintf(", start-up peak %s (up to %s)", fmtBytes(c.Peak.Point), fmtBytes(c.Peak.Upper))
	}
	return reports.Threshold{Metric: "hubcap check (next start-up of the checked hub)", Expr: "verdict ≠ FAIL",
		OK: c.Verdict != check.Fail, Observed: obs}
}

// runPeakThreshold is the hub's peak RSS during the run against the limit.
func runPeakThreshold(res *reports.Results, limit float64) (reports.Threshold, bool) {
	peak, ok := peakGauge(res, reports.MetricHubRSS)
	if !ok {
		return reports.Threshold{}, false
	}
	return reports.Threshold{Metric: reports.MetricHubRSS + " (hub memory during the run)",
		Expr: "max < " + fmtBytes(limit), OK: peak < limit, Observed: fmtBytes(peak)}, true
}

// peakGauge is the largest value of a gauge, adding up series with
// different tags as the report's timeline does (reports.GaugeWindows).
func peakGauge(res *reports.Results, metric string) (float64, bool) {
	ss := res.SeriesOf(metric)
	if len(ss) == 0 || res.PointCount == 0 {
		return 0, false
	}
	if len(ss) == 1 {
		peak := math.Inf(-1)
		for _, p := range ss[0].Points {
			peak = math.Max(peak, p.Value)
		}
		return peak, !math.IsInf(peak, -1)
	}
	pts := make([][]reports.Point, len(ss))
	for i, s := range ss {
		pts[i] = s.Points
	}
	w := reports.NewWindows(res.Start, res.End, reports.ChooseWindow(res.Duration(), 2000))
	peak := math.Inf(-1)
	for _, v := range reports.GaugeWindows(pts, w) {
		if !math.IsNaN(v) {
			peak = math.Max(peak, v)
		}
	}
	return peak, !math.IsInf(peak, -1)
}

// ReadResults reads a results file (k6 NDJSON, plain or .gz). Errors wrap
// ErrResults.
func ReadResults(path string) (*reports.Results, error) { return readResults(path) }

// CalibrationFile is the name of the shipped calibration of a release.
func CalibrationFile(release string) string { return "jupyterhub-" + release + ".json" }

// ShippedCalibration loads the calibration shipped for exactly this release
// (models/calibrations/jupyterhub-<release>.json, found as `hubcap check`
// finds it). ok is false when there is none; err reports a shipped file
// that does not load.
func ShippedCalibration(release string) (cal *models.Calibration, path string, ok bool, err error) {
	if release == "" {
		return nil, "", false, nil
	}
	dir := check.FindCalibrationsDir()
	if dir == "" {
		return nil, "", false, nil
	}
	path = filepath.Join(dir, CalibrationFile(release))
	if _, statErr := os.Stat(path); statErr != nil {
		return nil, path, false, nil
	}
	c, err := models.LoadFile(path)
	if err != nil {
		return nil, path, false, fmt.Errorf("%w: shipped calibration: %w", ErrBadInputs, err)
	}
	return &c, path, true, nil
}
