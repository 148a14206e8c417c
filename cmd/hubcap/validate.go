package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/calibrate"
	"github.com/hubcap-dev/hubcap/models"
)

func init() {
	register(&command{
		Name:    "validate",
		Summary: "predict a hub's OOM threshold from a calibration and measure the real one",
		Run:     runValidate,
	})
}

const validateSynopsis = `validate --hub local:VERSION --limit 2Gi --shape one-user|even:N [--calibration FILE] [flags]
       validate --matrix --hub local:VERSION [--limits 1Gi,2Gi,3Gi] [--calibration FILE] [-o table.md]
       validate --predict-only (--hub local:VERSION | --calibration FILE) --shape SPEC [--limit 3Gi]

Without --predict-only: predicts the largest size k of the family whose
restart fits in the memory limit (point prediction and the upper bound of the
95% interval), then finds the real threshold on a local hub of that release by
bisection under a cgroup limit (OOM-killed or healthy at each step, seeded with
the fast path) and prints predicted vs measured and the error.
  one-user   one user with k running named servers
  even:N     N users with k running named servers each

With --predict-only nothing runs: for a family, the predicted thresholds under
--limit; for a fixed shape, the predicted start-up peak and seconds with their
95% intervals, whether they fit under --limit, and the limit the shape needs
with 20% headroom. Fixed shapes:
  one-user:K  even:N:K  spread:R:S:H (one user holds fraction H of R running
  servers and S rows)  incident (736 running, 1746 rows, H from 1 to 0)  U,S,R,J

With --matrix: the calibration against databases it never saw: 4 shape
families (heavy, incident, pairs, square) × 3 row contents no calibration
seeds (stateonly, kube1k, fields4k), each sized (J 50k–1M) so the prediction
lands on either side of the limits, restarted without a limit (predicted vs
measured peak, interval coverage) and, when the peak is within 30% of a
limit, under that limit (the verdict against an OOM kill). Prints a Markdown
table (also to -o FILE); exit 99 when a PASS was OOM-killed or a FAIL survived.`

func runValidate(ctx context.Context, stdio IO, args []string) error {
	var (
		hubSpec, shape, calPath, runDir string
		limit                           int64
		predictOnly, jsonOut, verbose   bool
		maxErr, resolution              float64
	)
	fs := newFlags("validate", stdio, validateSynopsis)
	fs.StringVar(&hubSpec, "hub", "", "local:VERSION: the release to run (and whose calibration to use by default)")
	fs.Var(byteFlag{&limit}, "limit", "memory limit of the hub, e.g. 2Gi")
	fs.StringVar(&shape, "shape", "", "workload: one-user or even:N (a fixed shape with --predict-only)")
	fs.StringVar(&calPath, "calibration", "", "calibration file (default: the one hubcap calibrate writes for the release)")
	fs.BoolVar(&predictOnly, "predict-only", false, "print predictions only; run no hub")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	fs.Float64Var(&maxErr, "max-error", 0, "exit 99 when |error| exceeds this many percent (0: never)")
	fs.Float64Var(&resolution, "resolution", 0, "stop the bisection when the bracket is this fraction of k wide (0: to the server)")
	fs.StringVar(&runDir, "run-dir", "", "keep the hub's run directory here (default: a temporary one)")
	fs.BoolVar(&verbose, "v", false, "print the hub harness's lines")
	var matrix bool
	var limitsSpec, outFile string
	fs.BoolVar(&matrix, "matrix", false, "run the validation matrix (see above)")
	fs.StringVar(&limitsSpec, "limits", "1Gi,2Gi,3Gi", "with --matrix: memory limits whose verdicts are checked")
	fs.StringVar(&outFile, "o", "", "with --matrix: also write the Markdown table to this file")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if matrix {
		return runMatrix(ctx, stdio, hubSpec, calPath, runDir, limitsSpec, outFile, jsonOut, verbose)
	}
	if shape == "" {
		return withExitCode(ExitUsage, errors.New("--shape is required: one-user or even:N (see -h)"))
	}
	rel := ""
	if hubSpec != "" || !predictOnly || calPath == "" {
		var err error
		if rel, err = localRelease(hubSpec); err != nil {
			return err
		}
	}
	if calPath == "" {
		calPath = defaultCalibrationPath(rel)
	}
	cal, err := models.LoadFile(calPath)
	if err != nil {
		return fmt.Errorf("%w (calibrate first: hubcap calibrate --hub local:%s)", err, strings.TrimPrefix(rel, "local:"))
	}
	if rel != "" && cal.Release != "" && cal.Release != rel {
		fmt.Fprintf(stdio.Stderr, "hubcap validate: warning: %s was calibrated on jupyterhub %s, not %s\n", calPath, cal.Release, rel)
	}
	if cal.Partial {
		fmt.Fprintf(stdio.Stderr, "hubcap validate: warning: %s is a partial calibration (interrupted)\n", calPath)
	}
	if predictOnly {
		return predictOnlyCmd(stdio, cal, shape, limit, jsonOut)
	}
	if limit <= 0 {
		return withExitCode(ExitUsage, errors.New("--limit is required, e.g. --limit 2Gi"))
	}
	fam, err := calibrate.ParseFamily(shape)
	if err != nil {
		return err
	}
	o := calibrate.ValidateOptions{
		Release: rel, RunDir: runDir, Limit: limit, Family: fam, Calibration: cal,
		Resolution: resolution, Progress: stdio.Stdout,
	}
	if jsonOut {
		o.Progress = stdio.Stderr
	}
	if verbose {
		o.Log = stdio.Stderr
	}
	res, err := calibrate.Validate(ctx, o)
	if err != nil {
		return err
	}
	if jsonOut {
		if err := writeJSON(stdio.Stdout, res); err != nil {
			return err
		}
	} else {
		printValidation(stdio.Stdout, res)
	}
	if maxErr > 0 && math.Abs(res.ErrorPct) > maxErr {
		return withExitCode(ExitThresholds, fmt.Errorf("prediction off by %.1f%%, more than --max-error %.1f%%", res.ErrorPct, maxErr))
	}
	return nil
}

func printValidation(w io.Writer, r calibrate.ValidateResult) {
	fmt.Fprintf(w, "jupyterhub %s, %s, limit %s\n", r.Release, r.Family, bytesize.Format(r.Limit))
	fmt.Fprintf(w, "  predicted threshold: k = %d (point), %d (upper bound of the 95%% interval)\n", r.PredictedPoint, r.PredictedUpper)
	fmt.Fprintf(w, "  measured threshold:  k = %d healthy, %d OOM-killed (%d restarts, %s)\n", r.Measured, r.Killed, len(r.Steps), r.Elapsed.Round(time.Second))
	errUpper := 0.0
	if r.Measured > 0 {
		errUpper = 100 * float64(r.PredictedUpper-r.Measured) / float64(r.Measured)
	}
	fmt.Fprintf(w, "  error: %+.1f%% (point), %+.1f%% (upper bound)\n", r.ErrorPct, errUpper)
}

// prediction is one row of --predict-only for a fixed shape.
type prediction struct {
	Label    string             `json:"label"`
	Shape    models.Shape       `json:"shape"`
	Peak     models.Prediction  `json:"peak_rss_bytes"`
	Seconds  *models.Prediction `json:"seconds,omitempty"`
	Limit    int64              `json:"limit_bytes,omitempty"`
	FitsPt   *bool              `json:"fits_point,omitempty"`
	FitsUp   *bool              `json:"fits_upper,omitempty"`
	Required float64            `json:"required_limit_bytes"`
}

// headroom of the required limit printed by --predict-only.
const headroom = 0.2

func predictOnlyCmd(stdio IO, cal models.Calibration, shape string, limit int64, jsonOut bool) error {
	w := stdio.Stdout
	if fam, err := calibrate.ParseFamily(shape); err == nil {
		if limit <= 0 {
			return withExitCode(ExitUsage, errors.New("--limit is required to predict a family's threshold"))
		}
		point, upper, err := calibrate.Predict(cal, fam, limit)
		if err != nil && !errors.Is(err, models.ErrNoThreshold) {
			return err
		}
		if jsonOut {
			return writeJSON(w, map[string]any{"release": cal.Release, "family": fam.String(), "limit_bytes": limit,
				"predicted_point": point, "predicted_upper": upper, "unbounded": errors.Is(err, models.ErrNoThreshold)})
		}
		more := ""
		if errors.Is(err, models.ErrNoThreshold) {
			more = " (or more: the limit holds up to the search bound)"
		}
		fmt.Fprintf(w, "jupyterhub %s, %s, limit %s: predicted threshold k = %d (point), %d (upper bound)%s\n",
			cal.Release, fam, bytesize.Format(limit), point, upper, more)
		return nil
	}
	shapes, err := calibrate.ParseShapesWith(shape, cal.Content)
	if err != nil {
		return err
	}
	pm, err := cal.PeakModel()
	if err != nil {
		return err
	}
	sm, _ := cal.SecondsModel() // nil when the calibration has no times
	var rows []prediction
	for _, ns := range shapes {
		p := prediction{Label: ns.Label, Shape: ns.Shape, Peak: pm.Predict(ns.Shape), Limit: limit}
		if sm != nil {
			sp := sm.Predict(ns.Shape)
			p.Seconds = &sp
		}
		if limit > 0 {
			pt, up := p.Peak.Point <= float64(limit), p.Peak.Upper <= float64(limit)
			p.FitsPt, p.FitsUp = &pt, &up
		}
		if p.Required, err = models.RequiredLimit(pm, ns.Shape, headroom); err != nil {
			return err
		}
		rows = append(rows, p)
	}
	if jsonOut {
		return writeJSON(w, map[string]any{"release": cal.Release, "partial": cal.Partial, "predictions": rows})
	}
	fmt.Fprintf(w, "jupyterhub %s (calibration of %s, %d samples, peak model terms %v)\n",
		cal.Release, cal.CreatedAt.Format("2006-01-02"), len(cal.Samples), cal.Fits.PeakRSS.Terms)
	fmt.Fprintf(w, "%-22s %5s %6s %6s %10s  %-30s %-22s %-14s %s\n", "shape", "U", "S", "R", "J", "start-up peak [95% interval]", "seconds [95%]", "fits "+fmtLimit(limit), "needs (+20%)")
	for _, p := range rows {
		secs := "-"
		if p.Seconds != nil {
			secs = fmt.Sprintf("%.1f [%.1f, %.1f]", p.Seconds.Point, p.Seconds.Lower, p.Seconds.Upper)
		}
		fits := "-"
		if p.FitsPt != nil {
			fits = yesNo(*p.FitsPt) + "/" + yesNo(*p.FitsUp)
		}
		fmt.Fprintf(w, "%-22s %5.0f %6.0f %6.0f %10.0f  %-30s %-22s %-14s %s\n", p.Label, p.Shape.U, p.Shape.S, p.Shape.R, p.Shape.J,
			fmt.Sprintf("%s [%s, %s]", bytesize.Format(int64(p.Peak.Point)), bytesize.Format(int64(p.Peak.Lower)), bytesize.Format(int64(p.Peak.Upper))),
			secs, fits, bytesize.Format(int64(p.Required)))
	}
	if limit > 0 {
		fmt.Fprintln(w, "(fits: point/upper bound of the interval within the limit)")
	}
	return nil
}

func fmtLimit(l int64) string {
	if l <= 0 {
		return ""
	}
	return bytesize.Format(l)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runMatrix(ctx context.Context, stdio IO, hubSpec, calPath, runDir, limitsSpec, outFile string, jsonOut, verbose bool) error {
	rel, err := localRelease(hubSpec)
	if err != nil {
		return err
	}
	if calPath == "" {
		calPath = defaultCalibrationPath(rel)
	}
	cal, err := models.LoadFile(calPath)
	if err != nil {
		return fmt.Errorf("%w (calibrate first: hubcap calibrate --hub local:%s)", err, rel)
	}
	var limits []int64
	for _, f := range strings.Split(limitsSpec, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := bytesize.Parse(f)
		if err != nil {
			return withExitCode(ExitUsage, fmt.Errorf("--limits %q: %w", f, err))
		}
		limits = append(limits, n)
	}
	var logw io.Writer
	if verbose {
		logw = stdio.Stderr
	}
	fmt.Fprintf(stdio.Stderr, "validation matrix: jupyterhub %s, calibration %s\n", rel, calPath)
	rows, err := calibrate.Matrix(ctx, calibrate.MatrixOptions{
		Release: rel, RunDir: runDir, Calibration: cal, Limits: limits, Headroom: 0.2,
		Progress: stdio.Stderr, Log: logw,
	})
	if err != nil && len(rows) == 0 {
		return err
	}
	var werr error
	if jsonOut {
		werr = writeJSON(stdio.Stdout, rows)
	} else {
		werr = calibrate.MatrixTable(stdio.Stdout, rows)
	}
	if outFile != "" {
		f, ferr := os.Create(outFile)
		if ferr != nil {
			return ferr
		}
		fmt.Fprintf(f, "JupyterHub %s, calibration %s\n\n", rel, calPath)
		if terr := calibrate.MatrixTable(f, rows); terr != nil {
			f.Close()
			return terr
		}
		if cerr := f.Close(); cerr != nil {
			return cerr
		}
	}
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	for _, r := range rows {
		for _, v := range r.Verdicts {
			if !v.Right {
				return withExitCode(ExitThresholds, errSilentWrap(fmt.Errorf("%s/%s: predicted %s at %s but the hub %s", r.Content, r.Label, v.Predicted,
					bytesize.Format(v.Limit), map[bool]string{true: "survived", false: "was OOM-killed"}[v.Survived])))
			}
		}
	}
	return nil
}
