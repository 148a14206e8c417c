package calibrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/internal/bytesize"
	"github.com/hubcap-dev/hubcap/internal/proc"
	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/models"
)

// Family is a workload family for validation, k ↦ a database: Users
// identical users (names val-0000, …), each with k running named servers
// and its default row, stopped:
//
//	U = n, S = n·(k+1), R = n·k, J = n·k·(k+1)
//
// n = 1 is "one-user" (models.OneUser); n > 1 is "even:n", the same
// users holding more servers each.
type Family struct {
	Users int
	// Content is what every row carries (the calibration's main content).
	Content models.RowContent
}

// ErrFamily: a family or shape spec that cannot be parsed.
var ErrFamily = errors.New("calibrate: bad shape")

// ParseFamily reads "one-user" or "even:N" (N ≥ 1 users).
func ParseFamily(s string) (Family, error) {
	switch {
	case s == "one-user":
		return Family{Users: 1}, nil
	case strings.HasPrefix(s, "even:"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "even:"))
		if err != nil || n < 1 || n > 100_000 {
			return Family{}, fmt.Errorf("%w: %q: even:N wants 1 ≤ N ≤ 100000 users", ErrFamily, s)
		}
		return Family{Users: n}, nil
	}
	return Family{}, fmt.Errorf("%w: %q: want one-user or even:N (N users, each with k servers)", ErrFamily, s)
}

func (f Family) String() string {
	if f.Users <= 1 {
		return "one-user"
	}
	return "even:" + strconv.Itoa(f.Users)
}

// Shape is the family's database at size k (see Family).
func (f Family) Shape(k int) models.Shape {
	n, kk := float64(max(f.Users, 1)), float64(k)
	return f.Content.Users(n, kk+1, kk)
}

// Plan is what to seed for size k.
func (f Family) Plan(k int) seed.Plan {
	n := max(f.Users, 1)
	p := make(seed.Plan, n)
	for i := range p {
		p[i] = seed.UserPlan{Name: fmt.Sprintf("val-%04d", i), Running: k}
	}
	return p
}

// maxFamilyK is the most servers per user the seeder names (s0000…s9999).
const maxFamilyK = 9999

// Predict returns the calibration's threshold for the family under limit:
// the largest k whose predicted start-up peak stays within it, by the
// point prediction and by the upper bound of its prediction interval (the
// safe answer, ≤ point). k is searched up to 9,999 servers per user;
// models.ErrNoThreshold (with k = 9999) says the limit holds beyond that.
func Predict(cal models.Calibration, f Family, limit int64) (point, upper int, err error) {
	m, err := cal.PeakModel()
	if err != nil {
		return 0, 0, err
	}
	if f.Content.IsZero() {
		f.Content = cal.Content
	}
	point, err = models.ThresholdWithin(m, float64(limit), f.Shape, false, maxFamilyK)
	if err != nil {
		return point, 0, err
	}
	upper, err = models.ThresholdWithin(m, float64(limit), f.Shape, true, maxFamilyK)
	return point, upper, err
}

// ValidateOptions configure Validate.
type ValidateOptions struct {
	// Release to run (installed by make setup). Required.
	Release string
	// Root holds .hubcap/ ("" = hub.FindRoot()); RunDir is the hub's run
	// directory ("" = a temporary one, removed afterwards).
	Root, RunDir string
	// Limit is the hub's memory limit, bytes (a cgroup). Required.
	Limit int64
	// Family is the workload whose threshold is searched.
	Family Family
	// Calibration gives the predicted threshold, where the search starts.
	Calibration models.Calibration
	// StateBytes of the fleet spawner; use the calibration's (default 512).
	StateBytes int
	// Resolution ends the bisection when the bracket is at most
	// max(1, Resolution·k) servers wide (default 0: to the server).
	Resolution float64
	// MaxRestarts bounds the restarts (default 14).
	MaxRestarts int
	// Progress receives one line per restart; Log the harness's lines.
	Progress, Log io.Writer
}

// Step is one restart of a validation.
type Step struct {
	K       int          `json:"k"`
	Shape   models.Shape `json:"shape"`
	Outcome string       `json:"outcome"` // "healthy" or "oom_killed"
	// PeakRSS is the hub's VmHWM (at the kill, as last sampled, when
	// killed); CgroupPeak the cgroup's own peak.
	PeakRSS    int64   `json:"peak_rss_bytes"`
	CgroupPeak int64   `json:"cgroup_peak_bytes,omitempty"`
	Seconds    float64 `json:"seconds"`
}

// ValidateResult compares the predicted threshold with the measured one.
type ValidateResult struct {
	Release string `json:"release"`
	Limit   int64  `json:"limit_bytes"`
	Family  string `json:"family"`
	// PredictedPoint and PredictedUpper are Predict's k (point prediction,
	// and upper bound of the interval: the safe one).
	PredictedPoint int `json:"predicted_point"`
	PredictedUpper int `json:"predicted_upper"`
	// Measured is the largest k that restarted healthy under the limit;
	// Killed the smallest that was OOM-killed (Measured < Killed).
	Measured int `json:"measured"`
	Killed   int `json:"killed"`
	// ErrorPct is 100·(PredictedPoint − Measured)/Measured.
	ErrorPct float64       `json:"error_pct"`
	Steps    []Step        `json:"steps"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

// ErrNoCrossing: the search did not find a size that survives and one
// that is killed next to each other within MaxRestarts (e.g. the limit is
// below an empty hub, or outcomes flip between restarts).
var ErrNoCrossing = errors.New("calibrate: no healthy/killed crossing found")

// Validate measures the family's threshold under the limit on a real hub
// and compares it with the calibration's prediction. It starts at the
// predicted size and brackets the threshold (8% steps, doubling), then
// bisects: each step seeds the database to size k (fast path, growing
// the nearest smaller snapshot), restarts the hub under the cgroup limit
// and records healthy (alive once its spawners are initialised) or
// OOM-killed.
func Validate(ctx context.Context, o ValidateOptions) (res ValidateResult, err error) {
	t0 := time.Now()
	if o.Release == "" || o.Limit <= 0 || o.Resolution < 0 || o.Resolution >= 1 {
		return res, fmt.Errorf("%w: release and a limit > 0 are required, and a resolution in [0, 1)", ErrOptions)
	}
	if o.MaxRestarts <= 0 {
		o.MaxRestarts = 14
	}
	if o.StateBytes == 0 {
		o.StateBytes = 512
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	res = ValidateResult{Release: o.Release, Limit: o.Limit, Family: o.Family.String(), Measured: -1}
	res.PredictedPoint, res.PredictedUpper, err = Predict(o.Calibration, o.Family, o.Limit)
	if err != nil {
		return res, fmt.Errorf("calibrate: predicted threshold of %s under %s: %w", o.Family, bytesize.Format(o.Limit), err)
	}
	if _, err := proc.DetectMemoryController(); err != nil {
		return res, err
	}
	if o.RunDir == "" {
		dir, err := os.MkdirTemp("", "hubcap-validate-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		o.RunDir = dir
	}
	fmt.Fprintf(o.Progress, "validating jupyterhub %s, %s, limit %s: predicted k = %d (point), %d (upper bound)\n",
		o.Release, o.Family, bytesize.Format(o.Limit), res.PredictedPoint, res.PredictedUpper)
	s, err := startSession(ctx, sessionOptions{Release: o.Release, Root: o.Root, RunDir: o.RunDir, StateBytes: o.StateBytes, Log: o.Log, StartTimeout: 5 * time.Minute})
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := s.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("calibrate: stop the hub: %w", cerr)
		}
	}()
	if err := s.setLimit(o.Limit); err != nil {
		return res, err
	}
	v := validation{o: o, s: s, saved: map[int]bool{}, holds: -1}
	survives := func(k int) (bool, error) {
		st, err := v.try(ctx, k)
		if err != nil {
			return false, err
		}
		res.Steps = append(res.Steps, st)
		return st.Outcome == "healthy", nil
	}
	lo, hi := -1, -1 // largest healthy, smallest killed
	k := max(res.PredictedPoint, 1)
	step := max(1, int(math.Ceil(0.08*float64(k))))
	for len(res.Steps) < o.MaxRestarts {
		if lo >= 0 && hi >= 0 && hi-lo <= max(1, int(o.Resolution*float64(lo))) {
			break
		}
		ok, err := survives(k)
		if err != nil {
			return res, err
		}
		if ok {
			lo = max(lo, k)
		} else if hi < 0 || k < hi {
			hi = k
		}
		switch {
		case hi < 0: // not killed yet: go up
			k = min(k+step, maxFamilyK)
			step *= 2
			if lo == maxFamilyK {
				return res, fmt.Errorf("%w: %s survives with %d servers per user under %s", ErrNoCrossing, o.Family, maxFamilyK, bytesize.Format(o.Limit))
			}
		case lo < 0: // not healthy yet: go down
			if k == 0 {
				return res, fmt.Errorf("%w: even an empty hub is OOM-killed under %s; raise the limit", ErrNoCrossing, bytesize.Format(o.Limit))
			}
			k = max(k-step, 0)
			step *= 2
		default:
			k = lo + (hi-lo)/2
		}
	}
	res.Measured, res.Killed = lo, hi
	res.Elapsed = time.Since(t0)
	if lo < 0 || hi < 0 || hi-lo > max(1, int(o.Resolution*float64(lo))) {
		return res, fmt.Errorf("%w after %d restarts (largest healthy %d, smallest killed %d)", ErrNoCrossing, len(res.Steps), lo, hi)
	}
	if lo > 0 {
		res.ErrorPct = 100 * float64(res.PredictedPoint-lo) / float64(lo)
	}
	return res, nil
}

// validation is the state of one Validate run: which sizes have
// snapshots, and which the live database holds.
type validation struct {
	o     ValidateOptions
	s     *session
	saved map[int]bool
	holds int
}

func snapLabel(k int) string { return "k" + strconv.Itoa(k) }

// try puts size k in the database and restarts the hub under the limit.
func (v *validation) try(ctx context.Context, k int) (Step, error) {
	s, f := v.s, v.o.Family
	st := Step{K: k, Shape: f.Shape(k)}
	if err := s.stopHub(ctx); err != nil {
		return st, err
	}
	if v.holds != k {
		if v.saved[k] {
			if err := s.restore(snapLabel(k)); err != nil {
				return st, err
			}
		} else {
			from := -1
			for kk := range v.saved {
				if kk <= k && kk > from {
					from = kk
				}
			}
			label := "pristine"
			if from >= 0 {
				label = snapLabel(from)
			}
			if err := s.restore(label); err != nil {
				return st, err
			}
			if _, err := s.seed(ctx, f.Plan(k)); err != nil {
				return st, err
			}
			if err := s.save(snapLabel(k)); err != nil {
				return st, err
			}
			v.saved[k] = true
		}
		v.holds = k
	}
	if err := s.syncRoutes(ctx, f.Plan(k)); err != nil {
		return st, err
	}
	m, err := s.restart(ctx, DefaultSettle, 5*time.Minute)
	if err != nil {
		return st, err
	}
	st.PeakRSS, st.CgroupPeak, st.Seconds = m.PeakRSS, m.Report.CgroupPeak, m.Seconds
	switch {
	case m.Healthy:
		st.Outcome = "healthy"
	case m.OOMKilled:
		st.Outcome = "oom_killed"
	default:
		return st, fmt.Errorf("calibrate: k=%d: %s", k, m.Report.Summary())
	}
	fmt.Fprintf(v.o.Progress, "  k=%-5d U=%-4.0f S=%-6.0f R=%-6.0f J=%-9.0f %-10s peak %9s  %6.2fs\n",
		k, st.Shape.U, st.Shape.S, st.Shape.R, st.Shape.J, st.Outcome, bytesize.Format(st.PeakRSS), st.Seconds)
	return st, nil
}

// Spread is a database of R running servers and S spawner rows in which
// one heavy user holds the fraction h of both (round(h·R) running,
// round(h·S) rows, its default row among them) and the rest run one
// server each, as separate users sharing the remaining rows evenly; a
// remainder of rows without running servers goes to one more user.
// h = 1 is everything on one user, h = 0 an even spread (J = S when
// every user runs one server). It panics unless 0 ≤ R ≤ S and 0 ≤ h ≤ 1.
func Spread(r, s int, h float64) models.Shape {
	return SpreadWith(r, s, h, models.RowContent{})
}

// SpreadWith is Spread with every row carrying c.
func SpreadWith(r, s int, h float64, c models.RowContent) models.Shape {
	if r < 0 || s < r || h < 0 || h > 1 || math.IsNaN(h) {
		panic("calibrate: Spread wants 0 ≤ R ≤ S and 0 ≤ h ≤ 1")
	}
	rh := int(math.Round(h * float64(r)))
	sh := max(int(math.Round(h*float64(s))), rh)
	if rh > 0 && sh == 0 {
		sh = 1
	}
	rr, sr := r-rh, s-sh
	if sr < rr { // rounding: give the rest one row per running server
		sh -= rr - sr
		sr = rr
	}
	var ss, rs []int
	if sh > 0 {
		ss, rs = append(ss, sh), append(rs, rh)
	}
	if rr > 0 {
		for i := range rr {
			n := sr / rr
			if i < sr%rr {
				n++
			}
			ss, rs = append(ss, n), append(rs, 1)
		}
	} else if sr > 0 {
		ss, rs = append(ss, sr), append(rs, 0)
	}
	users := make([]models.UserShape, len(ss))
	for i := range ss {
		users[i] = c.User("", ss[i], rs[i])
	}
	sh2, err := models.ShapeOf(users)
	if err != nil {
		panic(err) // the counts above are consistent by construction
	}
	return sh2
}
