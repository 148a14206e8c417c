package calibrate

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/models"
)

// A validation matrix checks a calibration on databases it never saw:
// shapes of other families than the sweep's, filled with row contents no
// calibration seeds (ValidationContents), each restarted on a real hub
// without a limit (the measured peak against the predicted one and its
// interval) and, where the outcome is not plain from that peak, under each
// memory limit (the verdict against an OOM kill or a healthy start).

// MatrixCase is one database of a validation matrix.
type MatrixCase struct {
	Label   string    `json:"label"`
	Content string    `json:"content"`
	Plan    seed.Plan `json:"-"`
	content Content
}

// MatrixShapes are the matrix's shape families, each sized for a target J:
//
//	heavy      one user with k running named servers (J ≈ k²)
//	incident   one user with k running and k/2 stopped rows, plus 200
//	           users with one running server each (a workshop and its tester)
//	pairs      4 users with k running and k stopped rows each
//	square     n users with n running servers each (J ≈ n³)
var MatrixShapes = []string{"heavy", "incident", "pairs", "square"}

// MatrixPlan is the plan of family f at target J (≥ 1000).
func MatrixPlan(f string, j float64) (seed.Plan, error) {
	switch f {
	case "heavy":
		k := int(math.Round(math.Sqrt(j)))
		return seed.Plan{{Name: "mx-heavy", Running: k}}, nil
	case "incident":
		// J ≈ k·(1.5k + 1) + 200·2
		k := int(math.Round((-1 + math.Sqrt(1+6*math.Max(j-400, 1000))) / 3))
		p := seed.Plan{{Name: "mx-tester", Running: k, Stopped: k / 2}}
		for i := range 200 {
			p = append(p, seed.UserPlan{Name: fmt.Sprintf("mx-att%03d", i), Running: 1})
		}
		return p, nil
	case "pairs":
		// J = 4·k·(2k+1)
		k := int(math.Round((-1 + math.Sqrt(1+2*j)) / 4))
		var p seed.Plan
		for i := range 4 {
			p = append(p, seed.UserPlan{Name: fmt.Sprintf("mx-pair%d", i), Running: k, Stopped: k})
		}
		return p, nil
	case "square":
		n := int(math.Round(math.Cbrt(j)))
		var p seed.Plan
		for i := range n {
			p = append(p, seed.UserPlan{Name: fmt.Sprintf("mx-sq%03d", i), Running: n - 1})
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: unknown matrix shape %q; want one of %s", ErrOptions, f, strings.Join(MatrixShapes, ", "))
}

// planShape is the shape a hub holding exactly p loads, each row
// carrying c (every user also has its default "" row, which is empty).
func contentShape(p seed.Plan, c models.RowContent) models.Shape {
	var users []models.UserShape
	for _, u := range p {
		us := c.User(u.Name, u.Running+u.Stopped, u.Running)
		us.S++ // the default row: NULL state and user_options
		users = append(users, us)
	}
	sh, _ := models.ShapeOf(users)
	return sh
}

// MatrixMaxRunning caps the running servers of a matrix case (each is a
// fleet registration, a proxy route and a spawner the hub polls at start).
const MatrixMaxRunning = 3000

// sizeCase finds the J (within [jmin, jmax]) at which family f's predicted
// peak, rows carrying c, is closest to target without more than
// MatrixMaxRunning running servers, by bisection on a geometric scale.
func sizeCase(pm *models.Model, f string, c models.RowContent, target, jmin, jmax float64) (seed.Plan, error) {
	lo, hi := jmin, jmax
	for range 40 {
		mid := math.Sqrt(lo * hi)
		p, err := MatrixPlan(f, mid)
		if err != nil {
			return nil, err
		}
		sh := contentShape(p, c)
		if pm.Predict(sh).Point > target || sh.R > MatrixMaxRunning {
			hi = mid
		} else {
			lo = mid
		}
	}
	return MatrixPlan(f, lo)
}

// DefaultMatrixPeaks are the predicted peaks DefaultMatrix aims its cases
// at, cycled over the families: on both sides of 1, 2 and 3 GiB.
var DefaultMatrixPeaks = []float64{0.8 * (1 << 30), 1.5 * (1 << 30), 2.4 * (1 << 30), 3.6 * (1 << 30)}

// DefaultMatrix is every MatrixShapes family in every ValidationContents
// class, each sized (J within 50k–1M) so that pm predicts one of peaks,
// cycled; per-row content per class comes from probes[class].
func DefaultMatrix(pm *models.Model, probes map[string]models.RowContent, peaks []float64) ([]MatrixCase, error) {
	var out []MatrixCase
	i := 0
	for _, c := range ValidationContents {
		for _, f := range MatrixShapes {
			target := peaks[i%len(peaks)]
			i++
			p, err := sizeCase(pm, f, probes[c.Name], target, 50_000, 1_000_000)
			if err != nil {
				return nil, err
			}
			sh := contentShape(p, probes[c.Name])
			out = append(out, MatrixCase{Label: fmt.Sprintf("%s-%.0fk", f, sh.J/1000), Content: c.Name, Plan: p, content: c})
		}
	}
	return out, nil
}

// MatrixOptions configure Matrix.
type MatrixOptions struct {
	Release, Root, RunDir string
	// Calibration is what predicts (it should not have seen the cases).
	Calibration models.Calibration
	// Cases (default DefaultMatrix at DefaultMatrixPeaks).
	Cases []MatrixCase
	// MaxPeak skips cases predicted (upper bound) above it, bytes
	// (default 6 GiB).
	MaxPeak float64
	// Limits are the memory limits whose verdicts are checked.
	Limits []int64
	// Headroom as in hubcap check (PASS needs upper·(1+headroom) ≤ limit).
	Headroom float64
	// Near is how close to a limit the measured peak must be (a fraction
	// of the limit) for the case to be restarted under that limit; farther
	// away the outcome follows from the peak. Default 0.3.
	Near     float64
	Progress io.Writer
	Log      io.Writer
}

// MatrixRow is one case's outcome.
type MatrixRow struct {
	MatrixCase
	Shape     models.Shape      `json:"shape"`
	Predicted models.Prediction `json:"predicted_peak_rss_bytes"`
	Measured  int64             `json:"measured_peak_rss_bytes"`
	// ErrorPct = 100·(predicted − measured)/measured; Covered: the
	// interval holds the measured peak.
	ErrorPct float64         `json:"error_pct"`
	Covered  bool            `json:"covered"`
	Verdicts []MatrixVerdict `json:"verdicts"`
	Seconds  float64         `json:"seconds_to_healthy"`
	// Skipped says why the case was not measured ("" when it was).
	Skipped string `json:"skipped,omitempty"`
}

// MatrixVerdict is the sign-off at one limit against what happened.
type MatrixVerdict struct {
	Limit     int64  `json:"limit_bytes"`
	Predicted string `json:"predicted"` // PASS, WARN or FAIL
	// Survived is what happened: run under the limit (Ran) or read from the
	// unlimited peak.
	Survived bool `json:"survived"`
	Ran      bool `json:"ran"`
	// Right: PASS and survived, FAIL and killed, or WARN (no sign-off).
	Right bool `json:"right"`
}

// verdictAt is hubcap check's memory verdict at limit.
func verdictAt(p models.Prediction, limit, headroom float64) string {
	switch {
	case p.Lower > limit:
		return "FAIL"
	case p.Point > limit:
		return "WARN"
	case p.Upper*(1+headroom) > limit:
		return "WARN"
	}
	return "PASS"
}

// Matrix runs the validation matrix on a local hub of the release.
func Matrix(ctx context.Context, o MatrixOptions) (rows []MatrixRow, err error) {
	if o.MaxPeak == 0 {
		o.MaxPeak = 6 << 30
	}
	if o.Near == 0 {
		o.Near = 0.3
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	pm, err := o.Calibration.PeakModel()
	if err != nil {
		return nil, err
	}
	if len(o.Limits) > 0 {
		if _, err := proc.DetectMemoryController(); err != nil {
			return nil, err
		}
	}
	if o.RunDir == "" {
		dir, err := os.MkdirTemp("", "hubcap-matrix-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.RunDir = dir
	}
	s, err := startSession(ctx, sessionOptions{Release: o.Release, Root: o.Root, RunDir: o.RunDir, Log: o.Log, StartTimeout: 15 * time.Minute})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := s.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("calibrate: stop the hub: %w", cerr)
		}
	}()
	if err := s.stopHub(ctx); err != nil {
		return nil, err
	}
	if o.Cases == nil {
		probes := map[string]models.RowContent{}
		for _, c := range ValidationContents {
			rc, err := probeContent(ctx, s, c)
			if err != nil {
				return nil, fmt.Errorf("calibrate: probe content %s: %w", c.Name, err)
			}
			probes[c.Name] = rc
			fmt.Fprintf(o.Progress, "  content %-9s per running row %.0f B of JSON, %.0f B parsed; per stopped row %.0f B, %.0f B\n",
				c.Name, rc.RunBytes, rc.RunPy, rc.StoppedBytes, rc.StoppedPy)
		}
		if o.Cases, err = DefaultMatrix(pm, probes, DefaultMatrixPeaks); err != nil {
			return nil, err
		}
	}
	for _, c := range o.Cases {
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		if c.content.Name == "" {
			cc, ok := ContentByName(c.Content)
			if !ok {
				return rows, fmt.Errorf("%w: unknown content %q", ErrOptions, c.Content)
			}
			c.content = cc
		}
		row, err := matrixCase(ctx, s, pm, c, o)
		if err != nil {
			return rows, fmt.Errorf("calibrate: matrix case %s/%s: %w", c.Content, c.Label, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func matrixCase(ctx context.Context, s *session, pm *models.Model, c MatrixCase, o MatrixOptions) (MatrixRow, error) {
	row := MatrixRow{MatrixCase: c}
	if err := s.stopHub(ctx); err != nil {
		return row, err
	}
	if err := s.setLimit(0); err != nil {
		return row, err
	}
	if err := s.restore("pristine"); err != nil {
		return row, err
	}
	if _, err := s.seedContent(ctx, c.Plan, c.content); err != nil {
		return row, err
	}
	sh, err := readShape(ctx, s.live)
	if err != nil {
		return row, err
	}
	row.Shape = sh
	row.Predicted = pm.Predict(sh)
	if row.Predicted.Upper > o.MaxPeak {
		row.Skipped = fmt.Sprintf("predicted up to %s, over the %s cap of this run", bytesize.Format(int64(row.Predicted.Upper)), bytesize.Format(int64(o.MaxPeak)))
		fmt.Fprintf(o.Progress, "  %-9s %-14s skipped: %s\n", c.Content, c.Label, row.Skipped)
		return row, nil
	}
	if err := s.syncRoutes(ctx, c.Plan); err != nil {
		return row, err
	}
	m, err := s.restart(ctx, time.Second, 15*time.Minute)
	if err != nil {
		return row, err
	}
	if !m.Healthy {
		return row, fmt.Errorf("not healthy without a limit: %s", m.Report.Summary())
	}
	row.Measured, row.Seconds = m.PeakRSS, m.Seconds
	row.ErrorPct = 100 * (row.Predicted.Point - float64(m.PeakRSS)) / float64(m.PeakRSS)
	row.Covered = row.Predicted.Lower <= float64(m.PeakRSS) && float64(m.PeakRSS) <= row.Predicted.Upper
	for _, l := range o.Limits {
		v := MatrixVerdict{Limit: l, Predicted: verdictAt(row.Predicted, float64(l), o.Headroom)}
		v.Survived = m.PeakRSS < l
		if math.Abs(float64(m.PeakRSS-l)) <= o.Near*float64(l) {
			if err := s.stopHub(ctx); err != nil {
				return row, err
			}
			if err := s.setLimit(l); err != nil {
				return row, err
			}
			lm, err := s.restart(ctx, time.Second, 15*time.Minute)
			if err != nil {
				return row, err
			}
			v.Survived, v.Ran = lm.Healthy && !lm.OOMKilled, true
			if err := s.stopHub(ctx); err != nil {
				return row, err
			}
			if err := s.setLimit(0); err != nil {
				return row, err
			}
		}
		v.Right = v.Predicted == "WARN" || (v.Predicted == "PASS") == v.Survived
		row.Verdicts = append(row.Verdicts, v)
	}
	fmt.Fprintf(o.Progress, "  %-9s %-14s J=%-8.0f JP=%-9.3g predicted %9s [%s, %s]  measured %9s  %+6.1f%%  %s\n",
		c.Content, c.Label, sh.J, sh.JP, bytesize.Format(int64(row.Predicted.Point)), bytesize.Format(int64(row.Predicted.Lower)),
		bytesize.Format(int64(row.Predicted.Upper)), bytesize.Format(m.PeakRSS), row.ErrorPct, verdictCells(row.Verdicts))
	return row, nil
}

func verdictCells(vs []MatrixVerdict) string {
	var parts []string
	for _, v := range vs {
		what := "survived"
		if !v.Survived {
			what = "killed"
		}
		how := "from peak"
		if v.Ran {
			how = "run"
		}
		mark := "✓"
		if !v.Right {
			mark = "✗"
		}
		parts = append(parts, fmt.Sprintf("%s: %s, %s (%s) %s", bytesize.Format(v.Limit), v.Predicted, what, how, mark))
	}
	return strings.Join(parts, "; ")
}

// MatrixSummary is the matrix's verdict on the calibration.
type MatrixSummary struct {
	Cases, Within10, Covered, Verdicts, VerdictsRight, Ran int
	MaxAbsErrorPct                                         float64
}

// Summarize counts the rows.
func Summarize(rows []MatrixRow) MatrixSummary {
	var s MatrixSummary
	for _, r := range rows {
		if r.Skipped != "" {
			continue
		}
		s.Cases++
		if math.Abs(r.ErrorPct) <= 10 {
			s.Within10++
		}
		if r.Covered {
			s.Covered++
		}
		s.MaxAbsErrorPct = math.Max(s.MaxAbsErrorPct, math.Abs(r.ErrorPct))
		for _, v := range r.Verdicts {
			s.Verdicts++
			if v.Right {
				s.VerdictsRight++
			}
			if v.Ran {
				s.Ran++
			}
		}
	}
	return s
}

// MatrixTable renders rows as a Markdown table (for models/calibrations/README.md).
func MatrixTable(w io.Writer, rows []MatrixRow) error {
	var b strings.Builder
	b.WriteString("| content | shape | U | S | R | J | JP | predicted [95% interval] | measured | error | covered | verdicts |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %s [%s, %s] | not run | | | %s |\n",
				r.Content, r.Label, r.Shape.U, r.Shape.S, r.Shape.R, r.Shape.J, bytesize.Format(int64(r.Shape.JP)),
				bytesize.Format(int64(r.Predicted.Point)), bytesize.Format(int64(r.Predicted.Lower)), bytesize.Format(int64(r.Predicted.Upper)), r.Skipped)
			continue
		}
		cov := "yes"
		if !r.Covered {
			cov = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %s [%s, %s] | %s | %+.1f%% | %s | %s |\n",
			r.Content, r.Label, r.Shape.U, r.Shape.S, r.Shape.R, r.Shape.J, bytesize.Format(int64(r.Shape.JP)),
			bytesize.Format(int64(r.Predicted.Point)), bytesize.Format(int64(r.Predicted.Lower)), bytesize.Format(int64(r.Predicted.Upper)),
			bytesize.Format(r.Measured), r.ErrorPct, cov, verdictCells(r.Verdicts))
	}
	s := Summarize(rows)
	fmt.Fprintf(&b, "\n%d cases: %d within ±10%%, intervals cover %d, max |error| %.1f%%; verdicts right %d of %d (%d run under the limit, the rest read from the unlimited peak)\n",
		s.Cases, s.Within10, s.Covered, s.MaxAbsErrorPct, s.VerdictsRight, s.Verdicts, s.Ran)
	_, err := io.WriteString(w, b.String())
	return err
}
