package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/calibrate"
	"github.com/hubcap-dev/hubcap/internal/hub"
	"github.com/hubcap-dev/hubcap/models"
)

func init() {
	register(&command{
		Name:    "calibrate",
		Summary: "measure a release's restart cost on this machine and fit the capacity model",
		Run:     runCalibrate,
	})
	exitCodes = append(exitCodes,
		struct {
			err  error
			code int
		}{calibrate.ErrOptions, ExitUsage},
		struct {
			err  error
			code int
		}{calibrate.ErrFamily, ExitUsage},
		struct {
			err  error
			code int
		}{errBadHub, ExitUsage},
	)
}

const calibrateSynopsis = `calibrate (--hub local:VERSION | --jupyterhub PATH) [--budget 5m] [-o FILE] [flags]

Seeds a sweep of database shapes into a local hub of that release (fast path:
rows written with the hub's ORM between restarts, servers in hubcap's fleet),
restarts it on each without a memory limit, measures the start-up peak RSS,
seconds to healthy, init_spawners duration and steady RSS, and fits the
capacity model. Writes models/calibrations/jupyterhub-VERSION.json in the
hubcap repository, else ./jupyterhub-VERSION.json.

Calibrate with the release (and image) your hub runs: the figures are one
release's, one Python/SQLAlchemy's and one machine's. --jupyterhub PATH runs
the jupyterhub installed there (a venv or prefix with bin/jupyterhub and
bin/python, e.g. pinned to your hub image's jupyterhub and SQLAlchemy) instead
of hubcap's own venv; the release is read from its jupyterhub --version. Ctrl-C writes what was
measured so far, marked partial.`

// errBadHub: --hub is not local:VERSION.
var errBadHub = errors.New("bad --hub")

// localRelease reads --hub local:VERSION.
func localRelease(spec string) (string, error) {
	rel, ok := strings.CutPrefix(spec, "local:")
	if spec == "" {
		return "", fmt.Errorf("%w: --hub is required, e.g. --hub local:5.3.0", errBadHub)
	}
	if !ok || rel == "" || strings.ContainsAny(rel, "/ ") {
		return "", fmt.Errorf("%w %q: only local hubs can be calibrated and validated; use --hub local:VERSION (an installed release, see make setup)", errBadHub, spec)
	}
	return rel, nil
}

// installRelease is the release a command runs: --hub local:VERSION, or
// the version of the jupyterhub installed at --jupyterhub (both given:
// they must agree).
func installRelease(ctx context.Context, hubSpec, jupyterhub string) (string, error) {
	if jupyterhub == "" {
		return localRelease(hubSpec)
	}
	rel := ""
	if hubSpec != "" {
		var err error
		if rel, err = localRelease(hubSpec); err != nil {
			return "", err
		}
	}
	in, err := hub.ResolveInstall(ctx, "", rel, jupyterhub)
	if err != nil {
		return "", withExitCode(ExitUsage, fmt.Errorf("--jupyterhub %s: %w", jupyterhub, err))
	}
	return in.Release, nil
}

// defaultCalibrationPath is models/calibrations/jupyterhub-VERSION.json in
// the hubcap repository (the directory holding .hubcap/ with a
// models/calibrations directory), else ./jupyterhub-VERSION.json.
func defaultCalibrationPath(release string) string {
	name := "jupyterhub-" + release + ".json"
	if root, err := hub.FindRoot(); err == nil {
		dir := filepath.Join(root, "models", "calibrations")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return filepath.Join(dir, name)
		}
	}
	return name
}

// byteFlag is a flag.Value of a size such as 4Gi.
type byteFlag struct{ n *int64 }

func (b byteFlag) String() string {
	if b.n == nil || *b.n == 0 {
		return ""
	}
	return bytesize.Format(*b.n)
}

func (b byteFlag) Set(s string) error {
	n, err := bytesize.Parse(s)
	if err != nil {
		return err
	}
	*b.n = n
	return nil
}

func runCalibrate(ctx context.Context, stdio IO, args []string) error {
	var (
		o       calibrate.Options
		hubSpec string
		out     string
		verbose bool
	)
	fs := newFlags("calibrate", stdio, calibrateSynopsis)
	fs.StringVar(&hubSpec, "hub", "", "hub to calibrate: local:VERSION (installed by make setup)")
	fs.StringVar(&o.JupyterHub, "jupyterhub", "", "calibrate the jupyterhub installed in this venv or prefix (bin/jupyterhub, bin/python) instead of --hub's")
	fs.DurationVar(&o.Budget, "budget", calibrate.DefaultBudget, "wall-time budget, hub start and teardown included")
	fs.StringVar(&out, "o", "", "calibration file to write (default models/calibrations/jupyterhub-VERSION.json in the repository, else ./)")
	fs.Var(byteFlag{&o.MaxMemory}, "max-memory", "largest start-up peak a shape may be predicted to need (default 4Gi)")
	fs.Float64Var(&o.MaxJoinedRows, "max-joined-rows", calibrate.DefaultMaxJoinedRows, "cap on J = Σ R_u·S_u of every shape")
	fs.IntVar(&o.MaxRunning, "max-running", models.DefaultMaxRunning, "cap on running servers of every shape")
	fs.IntVar(&o.StateBytes, "state-bytes", 512, "bytes of spawner state per running server (as your spawner stores)")
	fs.IntVar(&o.Repeats, "repeats", calibrate.DefaultRepeats, "measurements per shape when the budget allows")
	fs.StringVar(&o.RunDir, "run-dir", "", "keep the hub's run directory and database snapshots here; its old database is deleted (default: a temporary one)")
	fs.BoolVar(&verbose, "v", false, "print the hub harness's lines")
	var refit string
	fs.StringVar(&refit, "refit", "", "refit the samples of this calibration file with this hubcap's models (no hub runs); writes -o (default: the same file)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if refit != "" {
		return refitCalibration(stdio, refit, out)
	}
	rel, err := installRelease(ctx, hubSpec, o.JupyterHub)
	if err != nil {
		return err
	}
	o.Release = rel
	if out == "" {
		out = defaultCalibrationPath(rel)
	}
	if errs := o.Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if dir := filepath.Dir(out); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return withExitCode(ExitUsage, fmt.Errorf("-o %s: directory %s does not exist", out, dir))
		}
	}
	o.Progress = stdio.Stdout
	if verbose {
		o.Log = stdio.Stderr
	}
	t0 := time.Now()
	cal, runErr := calibrate.Run(ctx, o)
	wall := time.Since(t0)
	if cal.Fits.PeakRSS == nil {
		if runErr == nil {
			runErr = errors.New("calibrate: no fit")
		}
		if len(cal.Samples) > 0 {
			fmt.Fprintf(stdio.Stderr, "hubcap calibrate: %d samples measured, too few to fit; nothing written\n", len(cal.Samples))
		}
		return runErr
	}
	if err := cal.SaveFile(out); err != nil {
		return errors.Join(runErr, err)
	}
	printCalibration(stdio.Stdout, cal)
	note := ""
	if cal.Partial {
		note = " (PARTIAL: interrupted; calibrate again for a complete one)"
	}
	fmt.Fprintf(stdio.Stdout, "wrote %s%s\nwall time %s of a %s budget\n", out, note, wall.Round(time.Second), o.Budget)
	if runErr == nil && o.JupyterHub == "" {
		fmt.Fprintf(stdio.Stdout, "predict with: hubcap validate --predict-only --hub %s --limit 2Gi --shape one-user\n", hubSpec)
	} else if runErr == nil {
		fmt.Fprintf(stdio.Stdout, "predict with: hubcap validate --predict-only --calibration %s --limit 2Gi --shape one-user:500\n", out)
	}
	return runErr
}

// refitCalibration fits a calibration's samples again (after hubcap's
// models changed: new terms, new interval rules), keeping its release,
// environment, row content and samples.
func refitCalibration(stdio IO, in, out string) error {
	old, err := models.LoadFile(in)
	if err != nil {
		return err
	}
	cal, err := models.FitCalibration(old.Samples)
	if err != nil {
		return fmt.Errorf("refit %s: %w", in, err)
	}
	cal.Release, cal.CreatedAt, cal.Partial, cal.Environment, cal.Content = old.Release, old.CreatedAt, old.Partial, old.Environment, old.Content
	if out == "" {
		out = in
	}
	if err := cal.SaveFile(out); err != nil {
		return err
	}
	printCalibration(stdio.Stdout, cal)
	fmt.Fprintf(stdio.Stdout, "wrote %s (refitted %d samples)\n", out, len(cal.Samples))
	return nil
}

// printCalibration prints the fitted models: selected terms with their
// coefficients and standard errors, and the cross-validated error.
func printCalibration(w io.Writer, cal models.Calibration) {
	fmt.Fprintf(w, "jupyterhub %s: %d samples\n", cal.Release, len(cal.Samples))
	for _, f := range []*models.Fit{cal.Fits.PeakRSS, cal.Fits.Seconds} {
		if f == nil {
			continue
		}
		var terms []string
		for i, t := range f.Terms {
			c, se := f.Coef[i], f.StdErr[i]
			unit := "·" + t
			if t == "1" {
				unit = ""
			}
			switch {
			case f.Target == models.TargetPeakRSS && (t == "JB" || t == "JP" || t == "LP"):
				// bytes of memory per byte of row content
				terms = append(terms, fmt.Sprintf("%.3g%s (±%.2g)", c, unit, se))
			case f.Target == models.TargetPeakRSS:
				terms = append(terms, fmt.Sprintf("%s%s (±%s)", bytesOrRate(c, t), unit, bytesOrRate(se, t)))
			default:
				terms = append(terms, fmt.Sprintf("%.3g%s (±%.2g)", c, unit, se))
			}
		}
		cv := "n/a"
		if !math.IsNaN(f.CVError) {
			cv = fmt.Sprintf("%.1f%%", 100*f.CVError)
		}
		form := ""
		if f.HoldOutError > 0 {
			form = fmt.Sprintf(", held-out error %.1f%%, model-form error %.1f%%", 100*f.HoldOutError, 100*f.FormError)
		}
		fmt.Fprintf(w, "  %-9s = %s   [LOO error %s%s, %d samples]\n", f.Target, strings.Join(terms, " + "), cv, form, f.N)
	}
}

// bytesOrRate renders a peak coefficient: MiB for the constant, bytes per
// unit otherwise.
func bytesOrRate(v float64, term string) string {
	if term == "1" {
		return bytesize.Format(int64(v))
	}
	return fmt.Sprintf("%.0fB", v)
}
