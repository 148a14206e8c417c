// Package calibrate measures a JupyterHub release's restart cost on this
// machine and fits the capacity model (package models) to it, and checks
// the model's predictions against real OOM kills.
//
// Run starts a local hub of the release with the in-process fleet,
// follows models.SweepPlan — database shapes of several families, seeded
// with the fast path (seed.ApplyDB, the hub stopped between restarts) —
// restarts the hub on each shape without a memory limit, measures the
// start-up (peak RSS, seconds to healthy, init_spawners duration, steady
// RSS), and fits models.FitCalibration. It keeps to a time budget and a
// memory cap, estimating each next shape's cost from what it has measured.
//
// Validate finds, by bisection under a cgroup memory limit, the largest
// size of a workload family whose restart survives, and compares it with
// the threshold a calibration predicts.
//
// Calibrate with the release and image your hub runs: the figures are
// those of one release, one Python/SQLAlchemy and one machine.
package calibrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/models"
)

// Defaults of Options.
const (
	DefaultBudget        = 5 * time.Minute
	DefaultMaxJoinedRows = 1_500_000
	DefaultMaxMemory     = 4 << 30
	DefaultRepeats       = 2
	DefaultSettle        = 2 * time.Second
	// probeServers is the one-user shape measured right after the
	// baseline: big enough (≈10,000 joined rows) for a quadratic release
	// to show its memory per joined row, which sizes the rest of the sweep.
	probeServers = 100
	// reserve is kept from the budget for the fit and the teardown.
	reserve = 10 * time.Second
	// maxShapes bounds the shapes planned, whatever the budget.
	maxShapes = 24
)

// Errors of Run.
var (
	// ErrOptions: Options.Validate found problems.
	ErrOptions = errors.New("calibrate: invalid options")
	// ErrInterrupted: the context ended before the sweep finished; the
	// calibration returned with it holds what was measured (Partial).
	ErrInterrupted = errors.New("calibrate: interrupted")
	// ErrBudget: the budget does not even cover starting the hub and
	// measuring an empty database; raise it.
	ErrBudget = errors.New("calibrate: budget too small")
)

// Options configure Run. Zero fields take the defaults noted.
type Options struct {
	// Release is the JupyterHub release to calibrate, e.g. "5.3.0"
	// (installed by make setup). Required.
	Release string
	// Root is the install root holding .hubcap/ ("" = hub.FindRoot()).
	Root string
	// JupyterHub, when set, is the install to calibrate instead of Root's
	// venv of Release: a venv or prefix with bin/jupyterhub and bin/python
	// (hub.InstallAt), e.g. one pinned to the hub image's versions.
	// Release must be its version (hub.ResolveInstall reads it).
	JupyterHub string
	// RunDir holds the hub's run directory and the database snapshots;
	// "" = a temporary directory, removed afterwards.
	RunDir string
	// Budget bounds the wall time of Run, hub start and teardown included
	// (default 5 min). Shapes whose estimated cost does not fit are
	// skipped; repeats come after every shape was measured once.
	Budget time.Duration
	// MaxJoinedRows caps J of every shape (default 1.5 M).
	MaxJoinedRows float64
	// MaxRunning caps R of every shape (default models.DefaultMaxRunning).
	MaxRunning int
	// MaxMemory caps the predicted start-up peak of every shape, bytes
	// (default 4 GiB): the hub runs without a limit during calibration.
	MaxMemory int64
	// StateBytes is the fleet spawner's state size per running server
	// (default 512); use what your spawner stores (KubeSpawner: ~0.5–2 KiB).
	// It sets the main sweep's content.
	StateBytes int
	// Contents are the row contents swept (default CalibrationContents,
	// the first with StateBytes): the first gets the main sweep, each
	// other a probe and up to three shapes of the main sweep's families,
	// sized to the memory cap by what the probe cost. A single content
	// calibrates the counts only.
	Contents []Content
	// Repeats is how many times each shape is measured if the budget
	// allows (default 2; at least 1).
	Repeats int
	// Settle is how long after init_spawners finished the steady RSS is
	// read (default 2 s).
	Settle time.Duration
	// Progress receives one line per measurement; nil discards.
	Progress io.Writer
	// Log receives the hub harness's lines; nil discards.
	Log io.Writer
	// Now is the clock (default time.Now); tests replace it.
	Now func() time.Time
}

// Validate reports every problem with o at once.
func (o Options) Validate() []error {
	var errs []error
	if o.Release == "" {
		errs = append(errs, fmt.Errorf("%w: release is empty; pass e.g. 5.3.0", ErrOptions))
	}
	if o.Budget < 0 {
		errs = append(errs, fmt.Errorf("%w: budget %v is negative", ErrOptions, o.Budget))
	}
	if math.IsNaN(o.MaxJoinedRows) || o.MaxJoinedRows < 0 {
		errs = append(errs, fmt.Errorf("%w: max joined rows %v; want ≥ 0 (0: default)", ErrOptions, o.MaxJoinedRows))
	}
	if o.MaxRunning < 0 || o.MaxMemory < 0 || o.StateBytes < 0 || o.Repeats < 0 || o.Settle < 0 {
		errs = append(errs, fmt.Errorf("%w: negative max running, max memory, state bytes, repeats or settle time", ErrOptions))
	}
	if o.StateBytes > 4<<20 {
		errs = append(errs, fmt.Errorf("%w: state bytes %d over 4 MiB", ErrOptions, o.StateBytes))
	}
	if o.MaxMemory > 0 && o.MaxMemory < 256<<20 {
		errs = append(errs, fmt.Errorf("%w: max memory %s leaves no room above an empty hub; give at least 256Mi", ErrOptions, bytesize.Format(o.MaxMemory)))
	}
	return errs
}

func (o *Options) defaults() {
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.MaxJoinedRows == 0 {
		o.MaxJoinedRows = DefaultMaxJoinedRows
	}
	if o.MaxRunning == 0 {
		o.MaxRunning = models.DefaultMaxRunning
	}
	if o.MaxMemory == 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.StateBytes == 0 {
		o.StateBytes = 512
	}
	if o.Repeats == 0 {
		o.Repeats = DefaultRepeats
	}
	if o.Settle == 0 {
		o.Settle = DefaultSettle
	}
	if o.Contents == nil {
		o.Contents = append([]Content(nil), CalibrationContents...)
		o.Contents[0].StateBytes = o.StateBytes
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// run is the state of one calibration.
type run struct {
	o        Options
	s        *session
	t0       time.Time
	cost     costModel
	samples  []models.Sample
	measured []step
	// holds is what the live database holds (nil: the pristine one).
	holds *step
	// saved lists the snapshots taken, by label, with their plans.
	saved map[string]step
	// shapes caches the shape read from each snapshot's database.
	shapes map[string]models.Shape
	// count is how often each main-sweep shape was measured; skipped the
	// shapes reported as not affordable.
	count   map[string]int
	skipped map[string]bool
}

func (r *run) elapsed() time.Duration { return r.o.Now().Sub(r.t0) }

func (r *run) left() time.Duration { return r.o.Budget - reserve - r.elapsed() }

// Run calibrates o.Release on this machine; see the package comment.
//
// If ctx ends, Run stops measuring, fits what it has and returns that
// calibration marked Partial with an error wrapping ErrInterrupted (the
// calibration has no fits if there were too few samples). Everything it
// started (hub, proxy, fleet, cgroups) is stopped before it returns.
func Run(ctx context.Context, o Options) (cal models.Calibration, err error) {
	if errs := o.Validate(); len(errs) > 0 {
		return cal, errors.Join(errs...)
	}
	o.defaults()
	r := &run{o: o, t0: o.Now(), saved: map[string]step{}, shapes: map[string]models.Shape{},
		count: map[string]int{}, skipped: map[string]bool{}}
	if o.RunDir == "" {
		dir, err := os.MkdirTemp("", "hubcap-calibrate-")
		if err != nil {
			return cal, err
		}
		defer os.RemoveAll(dir)
		r.o.RunDir = dir
	}
	env, err := environment(ctx, o.Root, o.Release, o.JupyterHub)
	if err != nil {
		return cal, err
	}
	fmt.Fprintf(o.Progress, "calibrating jupyterhub %s (python %s, sqlalchemy %s) on %s, %d cores, %s; budget %s\n",
		o.Release, env.Python, env.SQLAlchemy, env.CPUModel, env.Cores, bytesize.Format(int64(env.MemTotal)), o.Budget)
	s, err := startSession(ctx, sessionOptions{
		Release: o.Release, Root: o.Root, JupyterHub: o.JupyterHub, RunDir: r.o.RunDir, StateBytes: o.StateBytes, Log: o.Log,
		StartTimeout: max(2*time.Minute, o.Budget),
	})
	if err != nil {
		return cal, err
	}
	r.s = s
	defer func() {
		if cerr := s.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("calibrate: stop the hub: %w", cerr)
		}
	}()

	// What the main content's rows carry, for predictions of shapes the
	// sweep did not seed (families, thresholds).
	var mainContent models.RowContent
	if len(r.o.Contents) > 0 {
		if mainContent, err = probeContent(ctx, s, r.o.Contents[0]); err != nil {
			return cal, fmt.Errorf("calibrate: probe the row content: %w", err)
		}
	}
	measureErr := r.sweep(ctx)
	interrupted := ctx.Err() != nil
	if measureErr != nil && !interrupted {
		return cal, measureErr
	}
	cal, ferr := models.FitCalibration(r.samples)
	if ferr != nil {
		cal = models.Calibration{Version: models.CalibrationVersion, Samples: r.samples}
	}
	cal.Release = o.Release
	cal.Content = mainContent
	cal.CreatedAt = o.Now().UTC().Truncate(time.Second)
	cal.Environment = env
	cal.Partial = interrupted
	fmt.Fprintf(o.Progress, "measured %d restarts of %d shapes in %s of %s\n",
		len(r.samples), len(r.measured), r.elapsed().Round(time.Second), o.Budget)
	switch {
	case interrupted:
		return cal, errors.Join(fmt.Errorf("%w after %d samples: %w", ErrInterrupted, len(r.samples), context.Cause(ctx)), ferr)
	case ferr != nil:
		return cal, fmt.Errorf("calibrate: fit %d samples: %w (raise the budget so that more shapes are measured)", len(r.samples), ferr)
	}
	return cal, nil
}

// sweep measures the main content's sweep (mainSweep) in part of the
// budget, then each other content on a few of its shapes (contentSweep).
func (r *run) sweep(ctx context.Context) error {
	if len(r.o.Contents) <= 1 {
		return r.mainSweep(ctx)
	}
	full := r.o.Budget
	r.o.Budget = time.Duration(float64(full) * mainShare)
	err := r.mainSweep(ctx)
	r.o.Budget = full
	if err != nil {
		return err
	}
	extras := r.o.Contents[1:]
	// the contents get what the main sweep leaves of their share; the
	// main sweep's rounds take up whatever they leave
	contentBudget := time.Duration(float64(full) * (1 - mainShare) * 0.9)
	until := r.elapsed() + contentBudget
	for i, c := range extras {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// an equal share of what is left for each remaining content
		share := (until - r.elapsed()) / time.Duration(len(extras)-i)
		if err := r.contentSweep(ctx, c, r.elapsed()+share); err != nil {
			return err
		}
	}
	return r.rounds(ctx)
}

// mainShare is the part of the budget the main content's sweep gets when
// other contents are swept too.
const mainShare = 0.45

// contentSweep measures content c until the run's elapsed time reaches
// until: a one-user probe, then up to three of the main sweep's shapes
// (the largest of the one-user, square and wide-stopped families) whose
// estimated peak, at the probe's cost per joined row, fits the memory cap.
func (r *run) contentSweep(ctx context.Context, c Content, until time.Duration) error {
	probe := oneUserStep(probeServers / 2).withContent(c)
	if ok, why := r.affordable(probe, true); !ok {
		fmt.Fprintf(r.o.Progress, "  skip %-24s %s\n", probe.Label, why)
		return nil
	}
	if err := r.measure(ctx, probe, 1); err != nil {
		return err
	}
	r.count[probe.Label] = 1
	last := r.samples[len(r.samples)-1]
	perJ := math.Max(r.cost.perJ(), (last.PeakRSS-r.cost.base())/math.Max(last.Shape.J, 1))
	capBytes := math.Min(float64(r.o.MaxMemory), 3<<30)
	jcap := (capBytes - r.cost.base()) / perJ / 1.3
	for _, fam := range []string{models.FamilyOneUser, models.FamilySquare, models.FamilyStopped} {
		var best *step
		for i := range r.measured {
			st := r.measured[i]
			if st.Family != fam || st.Content.Name != "" || st.Shape.J > jcap {
				continue
			}
			if best == nil || st.Shape.J > best.Shape.J {
				best = &r.measured[i]
			}
		}
		if best == nil {
			continue
		}
		st := best.withContent(c)
		if r.elapsed() >= until {
			return nil
		}
		wall := r.cost.cycle(st.Shape) * math.Max(1, perJ/math.Max(r.cost.perJ(), 1))
		if need := wall + r.cost.seedTime(newRows(st.Plan, nil)); r.elapsed()+time.Duration(need*float64(time.Second)) > until+30*time.Second {
			fmt.Fprintf(r.o.Progress, "  skip %-24s (estimated %.0fs, past this content's share)\n", st.Label, need)
			continue
		}
		if err := r.measure(ctx, st, 1); err != nil {
			return err
		}
		r.count[st.Label] = 1
	}
	return nil
}

// mainSweep measures the baseline and the probe, plans the rest from them,
// measures every shape once, then repeats shapes while the budget lasts.
func (r *run) mainSweep(ctx context.Context) error {
	base := stepFromSeed(models.Seed{Label: "baseline", Family: models.FamilyBaseline, Users: 1, RowsPerUser: 1})
	probe := oneUserStep(probeServers)
	for _, st := range []step{base, probe} {
		if r.left() <= 0 {
			if len(r.samples) == 0 {
				return fmt.Errorf("%w: %s spent before the first shape; give at least a minute", ErrBudget, r.elapsed().Round(time.Second))
			}
			return nil
		}
		if err := r.measure(ctx, st, 1); err != nil {
			return err
		}
	}
	r.count[base.Label], r.count[probe.Label] = 1, 1
	return r.rounds(ctx)
}

// rounds plans new shapes of the main content for the budget left,
// measures each once, then repeats every shape measured fewer than Repeats
// times, cheapest first; it plans again while anything fits.
func (r *run) rounds(ctx context.Context) error {
	count := r.count
	skipped := r.skipped
	for {
		steps, err := r.plan()
		if err != nil {
			return err
		}
		did := false
		for _, st := range steps {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ok, why := r.affordable(st, true); !ok {
				if !skipped[st.Label] {
					fmt.Fprintf(r.o.Progress, "  skip %-24s %s\n", st.Label, why)
					skipped[st.Label] = true
				}
				continue
			}
			if err := r.measure(ctx, st, 1); err != nil {
				return err
			}
			count[st.Label] = 1
			did = true
		}
		todo := append([]step(nil), r.measured...)
		slices.SortStableFunc(todo, func(a, b step) int { return cmp.Compare(r.cost.cycle(a.Shape), r.cost.cycle(b.Shape)) })
		for _, st := range todo {
			for count[st.Label] < r.o.Repeats {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if ok, _ := r.affordable(st, false); !ok {
					break
				}
				count[st.Label]++
				if err := r.measure(ctx, st, count[st.Label]); err != nil {
					return err
				}
				did = true
			}
		}
		if !did {
			return nil
		}
	}
}

// plan sizes the sweep from the baseline and probe: the largest number of
// shapes (≤ maxShapes) whose first pass is estimated to take at most 60%
// of the budget left (the rest goes to repeats), with J capped so that
// the predicted peak stays under MaxMemory and one restart under a
// seventh of the budget left.
func (r *run) plan() ([]step, error) {
	left := r.left().Seconds()
	base, perJ := r.cost.base(), r.cost.perJ()
	jmax := r.o.MaxJoinedRows
	// memory: at the measured slope (at least 256 bytes per joined row, so
	// that a linear release still gets a finite cap)
	jmax = math.Min(jmax, (float64(r.o.MaxMemory)-base)/math.Max(perJ, 256))
	// time: the biggest one-user shape's restart within a seventh of what is left
	for jmax > 1000 && r.cost.cycle(oneUserStep(int(math.Sqrt(jmax))).Shape) > left/7 {
		jmax *= 0.8
	}
	opts := models.SweepOptions{MaxJoinedRows: math.Max(jmax, 1000), MaxRunning: r.o.MaxRunning}
	var best []step
	for n := models.MinSweepBudget; n <= maxShapes; n++ {
		steps, err := sweepSteps(n, opts, r.measured)
		if err != nil {
			return nil, err
		}
		if best != nil && r.passCost(steps) > 0.6*left {
			break
		}
		best = steps
	}
	fmt.Fprintf(r.o.Progress, "plan: %d more shapes, J ≤ %.0f, R ≤ %d (≤ %.1f KiB per joined row so far)\n",
		len(best), opts.MaxJoinedRows, opts.MaxRunning, perJ/1024)
	return best, nil
}

// passCost estimates the seconds to seed and measure steps once each, in
// order, each family's database growing from its previous shape.
func (r *run) passCost(steps []step) float64 {
	total := 0.0
	last := map[string]seed.Plan{}
	for _, st := range steps {
		from := last[st.Family]
		if !covers(st.Plan, from) {
			from = nil
		}
		total += r.cost.seedTime(newRows(st.Plan, from)) + r.cost.cycle(st.Shape)
		last[st.Family] = st.Plan
	}
	return total
}

// affordable says whether measuring st (seeding it first when seed) fits
// the budget left and the memory cap.
func (r *run) affordable(st step, seedIt bool) (bool, string) {
	peak := r.cost.peak(st.Shape)
	if peak > float64(r.o.MaxMemory) {
		return false, fmt.Sprintf("(predicted peak %s over the %s cap)", bytesize.Format(int64(peak)), bytesize.Format(r.o.MaxMemory))
	}
	need := r.cost.cycle(st.Shape)
	if seedIt {
		from := r.source(st)
		var fromPlan seed.Plan
		if from != nil {
			fromPlan = from.Plan
		}
		need += r.cost.seedTime(newRows(st.Plan, fromPlan))
	}
	if left := r.left().Seconds(); need > left {
		return false, fmt.Sprintf("(estimated %.0fs, %.0fs of budget left)", need, math.Max(left, 0))
	}
	return true, ""
}

// source is the saved snapshot to grow st from: the one of st's family
// with the most rows that st covers (nil: the pristine database).
func (r *run) source(st step) *step {
	var best *step
	for _, sv := range r.saved {
		if sv.Family != st.Family || sv.Content.Name != st.Content.Name || !covers(st.Plan, sv.Plan) {
			continue
		}
		if best == nil || sv.Shape.S > best.Shape.S {
			sv := sv
			best = &sv
		}
	}
	return best
}

// measure puts st in the database (restoring its snapshot on a repeat, or
// growing the best snapshot and saving st's), restarts the hub and records
// a sample.
func (r *run) measure(ctx context.Context, st step, rep int) error {
	s := r.s
	if err := s.stopHub(ctx); err != nil {
		return err
	}
	seedSecs := 0.0
	if r.holds == nil || r.holds.Label != st.Label {
		if _, ok := r.saved[st.Label]; ok {
			if err := s.restore(st.Label); err != nil {
				return err
			}
		} else {
			src := r.source(st)
			label := "pristine"
			var from seed.Plan
			if src != nil {
				label, from = src.Label, src.Plan
			}
			if r.holds == nil || r.holds.Label != label {
				if err := s.restore(label); err != nil {
					return err
				}
			}
			t := time.Now()
			c := st.Content
			if c.Name == "" {
				c = r.o.Contents[0]
			}
			if _, err := s.seedContent(ctx, st.Plan, c); err != nil {
				return err
			}
			seedSecs = time.Since(t).Seconds()
			r.cost.observeSeed(newRows(st.Plan, from), seedSecs)
			if err := s.save(st.Label); err != nil {
				return err
			}
			r.saved[st.Label] = st
		}
		r.holds = &st
	}
	if _, ok := r.shapes[st.Label]; !ok {
		// the content features of what was seeded, read from the database
		sh, err := readShape(ctx, s.live)
		if err != nil {
			return fmt.Errorf("calibrate: read the seeded database: %w", err)
		}
		r.shapes[st.Label] = sh
	}
	st.Shape = r.shapes[st.Label]
	if err := s.syncRoutes(ctx, st.Plan); err != nil {
		return err
	}
	m, err := s.restart(ctx, r.o.Settle, max(2*time.Minute, r.o.Budget/2))
	if err != nil {
		return err
	}
	if !m.Healthy {
		return fmt.Errorf("calibrate: %s: hub not healthy without a memory limit: %s", st.Label, m.Report.Summary())
	}
	r.cost.observe(st.Shape, float64(m.PeakRSS), m.Wall.Seconds())
	smp := models.Sample{
		Shape:               st.Shape,
		PeakRSS:             float64(m.PeakRSS),
		SecondsToHealthy:    m.Seconds,
		InitSpawnersSeconds: m.InitSpawners,
		SteadyRSS:           float64(m.SteadyRSS),
		Tags: map[string]string{
			"plan": st.Label, "family": st.Family, "repeat": strconv.Itoa(rep),
			models.TagContent:       contentName(st, r.o.Contents),
			"peak_at_healthy_bytes": strconv.FormatInt(m.PeakAtHealthy, 10),
			"wall_seconds":          strconv.FormatFloat(m.Wall.Seconds(), 'f', 2, 64),
		},
	}
	if seedSecs > 0 {
		smp.Tags["seed_seconds"] = strconv.FormatFloat(seedSecs, 'f', 2, 64)
	}
	r.samples = append(r.samples, smp)
	if rep == 1 {
		r.measured = append(r.measured, st)
	}
	init := "     -"
	if !math.IsNaN(m.InitSpawners) {
		init = fmt.Sprintf("%5.2fs", m.InitSpawners)
	}
	fmt.Fprintf(r.o.Progress, "  %-24s #%d  U=%-5.0f S=%-6.0f R=%-5.0f J=%-9.0f JP=%-7.3g peak %9s  healthy %6.2fs  init %s  steady %9s  [%s/%s]\n",
		st.Label, rep, st.Shape.U, st.Shape.S, st.Shape.R, st.Shape.J, st.Shape.JP, bytesize.Format(m.PeakRSS), m.Seconds, init,
		bytesize.Format(m.SteadyRSS), r.elapsed().Round(time.Second), r.o.Budget)
	return nil
}

// contentName is the content class of st: its own, or the main sweep's.
func contentName(st step, contents []Content) string {
	if st.Content.Name != "" {
		return st.Content.Name
	}
	if len(contents) > 0 {
		return contents[0].Name
	}
	return ""
}
