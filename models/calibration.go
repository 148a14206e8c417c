package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Target names, used as Fit.Target and as keys of a calibration's fits.
const (
	TargetPeakRSS = "peak_rss" // peak resident memory of the hub process during start-up, bytes
	TargetSeconds = "seconds"  // seconds from process start until /hub/health answers 200
)

// CalibrationVersion is the file format version written by Save and the
// only one Load accepts.
const CalibrationVersion = 1

// MaxCalibrationBytes bounds the size of a calibration file Load reads.
const MaxCalibrationBytes = 64 << 20

// Sentinel errors of calibration files.
var (
	// ErrInvalidCalibration: the file is not a valid calibration (syntax,
	// unknown fields, inconsistent samples or fits). Recalibrate with the
	// calibrate command rather than editing the file by hand.
	ErrInvalidCalibration = errors.New("models: invalid calibration")
	// ErrUnsupportedVersion: the file was written by another version of
	// hubcap; recalibrate, or use the hubcap that wrote it.
	ErrUnsupportedVersion = errors.New("models: unsupported calibration version")
	// ErrInvalidSample: a sample with an inconsistent shape or unusable values.
	ErrInvalidSample = errors.New("models: invalid sample")
)

// Sample is one measured hub restart: the database shape it started with
// and what it cost. Unknown optional values are NaN (null in JSON).
type Sample struct {
	Shape Shape `json:"shape"`
	// PeakRSS is the hub's peak resident set size during start-up (VmHWM),
	// bytes. Required, > 0.
	PeakRSS float64 `json:"peak_rss_bytes"`
	// SecondsToHealthy is the time from process start to the first 200 of
	// /hub/health; NaN if it never became healthy (e.g. OOM-killed).
	SecondsToHealthy float64 `json:"seconds_to_healthy"`
	// InitSpawnersSeconds is jupyterhub_init_spawners_duration_seconds; NaN if unknown.
	InitSpawnersSeconds float64 `json:"init_spawners_seconds"`
	// SteadyRSS is the resident set size once healthy and idle; NaN if unknown.
	SteadyRSS float64 `json:"steady_rss_bytes"`
	// Tags are free-form labels (e.g. "plan": "one-user-k500"). The fitter
	// ignores them.
	Tags map[string]string `json:"tags,omitempty"`
}

// Validate reports every problem of the sample, each wrapping ErrInvalidSample.
func (s Sample) Validate() []error {
	var errs []error
	for _, e := range s.Shape.Validate() {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidSample, e))
	}
	if math.IsNaN(s.PeakRSS) || math.IsInf(s.PeakRSS, 0) || s.PeakRSS <= 0 {
		errs = append(errs, fmt.Errorf("%w: peak_rss_bytes = %v; want a measured value > 0", ErrInvalidSample, s.PeakRSS))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"seconds_to_healthy", s.SecondsToHealthy}, {"init_spawners_seconds", s.InitSpawnersSeconds}, {"steady_rss_bytes", s.SteadyRSS}} {
		if math.IsInf(f.v, 0) || f.v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s = %v; want a finite value ≥ 0, or null if unknown", ErrInvalidSample, f.name, f.v))
		}
	}
	return errs
}

// Environment describes where a calibration was measured. It deliberately
// has no host name or user data.
type Environment struct {
	Release    string `json:"release"`
	Python     string `json:"python,omitempty"`
	SQLAlchemy string `json:"sqlalchemy,omitempty"`
	// Database is the hub database kind, e.g. "sqlite" or "postgres".
	Database string `json:"database,omitempty"`
	GOOS     string `json:"goos,omitempty"`
	GOARCH   string `json:"goarch,omitempty"`
	CPUModel string `json:"cpu_model,omitempty"`
	Cores    int    `json:"cores,omitempty"`
	// MemTotal is the machine's memory, bytes.
	MemTotal uint64 `json:"mem_total_bytes,omitempty"`
}

// Fits holds one Fit per target. PeakRSS is required; Seconds is nil when
// no sample has a time.
type Fits struct {
	PeakRSS *Fit `json:"peak_rss"`
	Seconds *Fit `json:"seconds,omitempty"`
}

// Calibration is the content of a calibration file
// (models/calibrations/jupyterhub-<release>.json): the samples measured for one hub
// release on one machine, and the fits made from them. Models are rebuilt
// from the stored fits (PeakModel, SecondsModel) without refitting.
//
// Example (abridged):
//
//	{"version": 1, "release": "5.3.0", "created_at": "2025-01-02T03:04:05Z",
//	 "environment": {"release": "5.3.0", "python": "3.12.3", "cores": 2, …},
//	 "samples": [{"shape": {"users": 1, "spawner_rows": 1001, "running": 1000,
//	              "joined_rows": 1001000}, "peak_rss_bytes": 2.56e9,
//	              "seconds_to_healthy": 41.2, "init_spawners_seconds": null, …}, …],
//	 "fits": {"peak_rss": {"target": "peak_rss", "weighting": "relative",
//	          "terms": ["1", "J"], "coef": [6.1e7, 2410], "std_err": […],
//	          "sigma": 0.03, "dof": 14, "cov_unscaled": [[…], […]], "level": 0.95, …},
//	          "seconds": {…}}}
type Calibration struct {
	Version int `json:"version"`
	// Release is the JupyterHub release measured, e.g. "5.3.0". Recorded
	// only: the fitter does not use it.
	Release   string    `json:"release"`
	CreatedAt time.Time `json:"created_at"`
	// Partial marks a calibration cut short by an interruption: its fits
	// use only the shapes measured before it, fewer than planned. Such a
	// file loads and predicts; calibrate again for a complete one. (A
	// sweep that ends early because its time budget ran out is not
	// partial: measuring within the budget is what was asked.)
	Partial     bool        `json:"partial,omitempty"`
	Environment Environment `json:"environment"`
	Samples     []Sample    `json:"samples"`
	Fits        Fits        `json:"fits"`
	// Content is what each row of the main sweep carried, per running and
	// per stopped row (zero in calibrations of counts only). Hypothetical
	// shapes — families, thresholds — carry it when nothing better is known.
	Content RowContent `json:"content,omitzero"`
}

// CalibrationOptions configures FitCalibrationWith, one FitOptions per target.
type CalibrationOptions struct {
	PeakRSS FitOptions
	Seconds FitOptions
}

// FitCalibration fits both targets with default options (relative
// weighting, selection by leave-one-out error; see FitTarget). It is a pure
// function of the samples: Release, CreatedAt and Environment are left for
// the caller to fill in.
func FitCalibration(samples []Sample) (Calibration, error) {
	return FitCalibrationWith(samples, CalibrationOptions{})
}

// FitCalibrationWith is FitCalibration with options. The peak RSS fit uses
// every sample; the seconds fit uses the samples with a known
// SecondsToHealthy and is omitted when there are none.
func FitCalibrationWith(samples []Sample, opts CalibrationOptions) (Calibration, error) {
	var errs []error
	for i, s := range samples {
		for _, e := range s.Validate() {
			errs = append(errs, fmt.Errorf("sample %d: %w", i, e))
		}
	}
	if len(errs) > 0 {
		return Calibration{}, errors.Join(errs...)
	}
	cal := Calibration{Version: CalibrationVersion, Samples: append([]Sample(nil), samples...)}
	var shapes []Shape
	var peak []float64
	var tShapes []Shape
	var secs []float64
	for _, s := range samples {
		shapes = append(shapes, s.Shape)
		peak = append(peak, s.PeakRSS)
		if !math.IsNaN(s.SecondsToHealthy) {
			tShapes = append(tShapes, s.Shape)
			secs = append(secs, s.SecondsToHealthy)
		}
	}
	if opts.PeakRSS.HoldOut == nil {
		opts.PeakRSS.HoldOut = HoldOutGroups(samples)
	}
	if opts.Seconds.HoldOut == nil {
		var timed []Sample
		for _, s := range samples {
			if !math.IsNaN(s.SecondsToHealthy) {
				timed = append(timed, s)
			}
		}
		opts.Seconds.HoldOut = HoldOutGroups(timed)
	}
	pf, err := FitTarget(TargetPeakRSS, "bytes", shapes, peak, opts.PeakRSS)
	if err != nil {
		return Calibration{}, err
	}
	cal.Fits.PeakRSS = &pf
	if len(secs) > 0 {
		sf, err := FitTarget(TargetSeconds, "seconds", tShapes, secs, opts.Seconds)
		if err != nil {
			return Calibration{}, err
		}
		cal.Fits.Seconds = &sf
	}
	return cal, nil
}

// TagContent is the sample tag naming the row-content class a calibration
// seeded (e.g. "kube-512"); HoldOutGroups holds each class out in turn.
const TagContent = "content"

// TagFamily is the sample tag naming the sweep family of its shape
// (FamilyOneUser, FamilyWide, …); HoldOutGroups holds each out in turn.
const TagFamily = "family"

// HoldOutGroups are the groups FitCalibration holds out to estimate the
// model-form error: every sample of one row-content class (TagContent),
// for each class but the most common one (the main sweep's: it carries the
// count families, so holding it out tests nothing about content), and the
// shapes of more than half the largest J (if they are at most a third of
// the samples), which tests extrapolation in size by a factor of about two.
func HoldOutGroups(samples []Sample) [][]int {
	var groups [][]int
	byClass := map[string][]int{}
	var classes []string
	for i, s := range samples {
		c := s.Tags[TagContent]
		if _, ok := byClass[c]; !ok {
			classes = append(classes, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	if len(classes) > 1 {
		main := classes[0]
		for _, c := range classes {
			if len(byClass[c]) > len(byClass[main]) {
				main = c
			}
		}
		for _, c := range classes {
			if c != main {
				groups = append(groups, byClass[c])
			}
		}
	}
	// each shape family of the main class (the matrix of a validation
	// meets families the sweep never seeded)
	byFam := map[string][]int{}
	var fams []string
	for i, s := range samples {
		f := s.Tags[TagFamily]
		if f == "" || f == FamilyBaseline {
			continue
		}
		if len(classes) > 1 && s.Tags[TagContent] != classes[0] && len(byClass[s.Tags[TagContent]]) < len(samples)/2 {
			continue
		}
		if _, ok := byFam[f]; !ok {
			fams = append(fams, f)
		}
		byFam[f] = append(byFam[f], i)
	}
	if len(fams) > 2 {
		for _, f := range fams {
			groups = append(groups, byFam[f])
		}
	}
	if len(samples) >= 8 {
		var top float64
		for _, s := range samples {
			top = max(top, s.Shape.J)
		}
		var big []int
		for i, s := range samples {
			if top > 0 && s.Shape.J > top/2 {
				big = append(big, i)
			}
		}
		if len(big) > 0 && len(big) <= len(samples)/3 {
			groups = append(groups, big)
		}
	}
	return groups
}

// PeakModel rebuilds the peak RSS model from the stored fit.
func (c Calibration) PeakModel() (*Model, error) {
	if c.Fits.PeakRSS == nil {
		return nil, fmt.Errorf("%w: no peak_rss fit", ErrInvalidCalibration)
	}
	return NewModel(*c.Fits.PeakRSS)
}

// SecondsModel rebuilds the seconds-to-healthy model from the stored fit.
func (c Calibration) SecondsModel() (*Model, error) {
	if c.Fits.Seconds == nil {
		return nil, fmt.Errorf("%w: no seconds fit (no sample recorded seconds_to_healthy)", ErrInvalidCalibration)
	}
	return NewModel(*c.Fits.Seconds)
}

// Validate reports every problem of the calibration at once, each wrapping
// ErrInvalidCalibration (and ErrUnsupportedVersion, ErrInvalidSample or
// ErrInvalidFit where they apply).
func (c Calibration) Validate() []error {
	var errs []error
	add := func(e error) { errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidCalibration, e)) }
	if c.Version != CalibrationVersion {
		add(fmt.Errorf("%w: version %d; this hubcap reads version %d, recalibrate", ErrUnsupportedVersion, c.Version, CalibrationVersion))
		return errs
	}
	if c.Environment.Release != "" && c.Release != "" && c.Environment.Release != c.Release {
		add(fmt.Errorf("release %q but environment.release %q", c.Release, c.Environment.Release))
	}
	if c.Environment.Cores < 0 {
		add(fmt.Errorf("environment.cores = %d; want ≥ 0", c.Environment.Cores))
	}
	for i, s := range c.Samples {
		for _, e := range s.Validate() {
			add(fmt.Errorf("samples[%d]: %w", i, e))
		}
	}
	check := func(key string, f *Fit, required bool) {
		if f == nil {
			if required {
				add(fmt.Errorf("fits.%s is missing", key))
			}
			return
		}
		if f.Target != key {
			add(fmt.Errorf("fits.%s has target %q", key, f.Target))
		}
		for _, e := range f.Validate() {
			add(fmt.Errorf("fits.%s: %w", key, e))
		}
		if f.N > len(c.Samples) {
			add(fmt.Errorf("fits.%s was fitted on %d samples but the file has %d", key, f.N, len(c.Samples)))
		}
	}
	check(TargetPeakRSS, c.Fits.PeakRSS, true)
	check(TargetSeconds, c.Fits.Seconds, false)
	return errs
}

// Load reads and validates a calibration. Unknown fields, trailing data,
// files over MaxCalibrationBytes and every inconsistency Validate finds are
// errors wrapping ErrInvalidCalibration; syntax errors give line and column.
func Load(r io.Reader) (Calibration, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCalibrationBytes+1))
	if err != nil {
		return Calibration{}, fmt.Errorf("%w: reading: %w", ErrInvalidCalibration, err)
	}
	if len(data) > MaxCalibrationBytes {
		return Calibration{}, fmt.Errorf("%w: larger than %d bytes", ErrInvalidCalibration, MaxCalibrationBytes)
	}
	var c Calibration
	if err := strictUnmarshal(data, &c); err != nil {
		return Calibration{}, fmt.Errorf("%w: %s", ErrInvalidCalibration, describeJSONError(data, err))
	}
	if errs := c.Validate(); len(errs) > 0 {
		return Calibration{}, errors.Join(errs...)
	}
	return c, nil
}

// LoadFile is Load of the named file; errors name the file.
func LoadFile(path string) (Calibration, error) {
	f, err := os.Open(path)
	if err != nil {
		return Calibration{}, fmt.Errorf("models: open calibration: %w (run the calibrate command to create it)", err)
	}
	defer f.Close()
	c, err := Load(f)
	if err != nil {
		return Calibration{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Save validates c and writes it as indented JSON.
func (c Calibration) Save(w io.Writer) error {
	if errs := c.Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("models: encoding calibration: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// SaveFile writes c to path atomically (temporary file in the same
// directory, then rename).
func (c Calibration) SaveFile(path string) error {
	var buf bytes.Buffer
	if err := c.Save(&buf); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".calibration-*.json")
	if err != nil {
		return fmt.Errorf("models: saving calibration: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("models: saving calibration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("models: saving calibration: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("models: saving calibration: %w", err)
	}
	return nil
}

// strictUnmarshal decodes exactly one JSON value, rejecting unknown fields
// and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// describeJSONError adds line:column to syntax and type errors.
func describeJSONError(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// nfloat is a float64 whose JSON form is null when it is NaN or infinite.
type nfloat float64

func (f nfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func (f *nfloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = nfloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = nfloat(v)
	return nil
}

// MarshalJSON writes unknown (NaN) optional values as null.
func (s Sample) MarshalJSON() ([]byte, error) {
	type plain Sample
	return json.Marshal(struct {
		plain
		SecondsToHealthy    nfloat `json:"seconds_to_healthy"`
		InitSpawnersSeconds nfloat `json:"init_spawners_seconds"`
		SteadyRSS           nfloat `json:"steady_rss_bytes"`
	}{plain(s), nfloat(s.SecondsToHealthy), nfloat(s.InitSpawnersSeconds), nfloat(s.SteadyRSS)})
}

// UnmarshalJSON reads null or missing optional values as NaN and rejects
// unknown fields.
func (s *Sample) UnmarshalJSON(b []byte) error {
	type plain Sample
	nan := nfloat(math.NaN())
	aux := struct {
		*plain
		SecondsToHealthy    nfloat `json:"seconds_to_healthy"`
		InitSpawnersSeconds nfloat `json:"init_spawners_seconds"`
		SteadyRSS           nfloat `json:"steady_rss_bytes"`
	}{(*plain)(s), nan, nan, nan}
	if err := strictUnmarshal(b, &aux); err != nil {
		return err
	}
	s.SecondsToHealthy = float64(aux.SecondsToHealthy)
	s.InitSpawnersSeconds = float64(aux.InitSpawnersSeconds)
	s.SteadyRSS = float64(aux.SteadyRSS)
	return nil
}

// MarshalJSON writes undefined criteria (NaN) as null.
func (c Candidate) MarshalJSON() ([]byte, error) {
	type plain Candidate
	return json.Marshal(struct {
		plain
		CVError nfloat `json:"cv_error"`
		AICc    nfloat `json:"aicc"`
	}{plain(c), nfloat(c.CVError), nfloat(c.AICc)})
}

// UnmarshalJSON reads null criteria as NaN and rejects unknown fields.
func (c *Candidate) UnmarshalJSON(b []byte) error {
	type plain Candidate
	nan := nfloat(math.NaN())
	aux := struct {
		*plain
		CVError nfloat `json:"cv_error"`
		AICc    nfloat `json:"aicc"`
	}{(*plain)(c), nan, nan}
	if err := strictUnmarshal(b, &aux); err != nil {
		return err
	}
	c.CVError, c.AICc = float64(aux.CVError), float64(aux.AICc)
	return nil
}

// MarshalJSON writes undefined criteria (NaN) as null.
func (f Fit) MarshalJSON() ([]byte, error) {
	type plain Fit
	return json.Marshal(struct {
		plain
		CVError nfloat `json:"cv_error"`
		AICc    nfloat `json:"aicc"`
	}{plain(f), nfloat(f.CVError), nfloat(f.AICc)})
}

// UnmarshalJSON reads null criteria as NaN and rejects unknown fields.
func (f *Fit) UnmarshalJSON(b []byte) error {
	type plain Fit
	nan := nfloat(math.NaN())
	aux := struct {
		*plain
		CVError nfloat `json:"cv_error"`
		AICc    nfloat `json:"aicc"`
	}{(*plain)(f), nan, nan}
	if err := strictUnmarshal(b, &aux); err != nil {
		return err
	}
	f.CVError, f.AICc = float64(aux.CVError), float64(aux.AICc)
	return nil
}
