package calibrate

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/hubcap-dev/hubcap/internal/seed"
	"github.com/hubcap-dev/hubcap/models"
)

// step is one database shape of a calibration: the users to seed (fast
// path) and the shape the hub will load from them.
type step struct {
	Label  string
	Family string
	Plan   seed.Plan
	Shape  models.Shape
	// Content is what the rows carry ("" name: the main sweep's, the first
	// of the calibration's contents).
	Content Content
}

// withContent is st seeded with content c: its own users (names prefixed
// with c's name) and label.
func (st step) withContent(c Content) step {
	out := st
	out.Content = c
	out.Label = c.Name + "-" + st.Label
	out.Plan = make(seed.Plan, len(st.Plan))
	for i, u := range st.Plan {
		u.Name = c.Name + "-" + u.Name
		out.Plan[i] = u
	}
	return out
}

// User name prefixes of the sweep families: each family has its own users,
// so that a family's database only ever grows from one shape to the next.
var familyPrefix = map[string]string{
	models.FamilyBaseline: "cal-base",
	models.FamilyOneUser:  "cal-one",
	models.FamilyWide:     "cal-wide-",
	models.FamilyStopped:  "cal-wstop-",
	models.FamilySquare:   "cal-sq-",
}

// stepFromSeed turns a sweep shape into users to seed. Every user the hub
// knows has its default "" spawner row, stopped (the REST path and ApplyDB
// both leave it so), so a seed of RowsPerUser rows is that default row plus
// RowsPerUser-1 named rows, of which min(RunningPerUser, RowsPerUser-1)
// run: a seed asking for every row running gets one fewer running server.
// Shape is what the hub will load, computed from the plan.
func stepFromSeed(s models.Seed) step {
	prefix, ok := familyPrefix[s.Family]
	if !ok {
		prefix = "cal-" + s.Family + "-"
	}
	named := max(s.RowsPerUser-1, 0)
	running := min(s.RunningPerUser, named)
	p := make(seed.Plan, s.Users)
	for i := range p {
		name := prefix
		if s.Users > 1 || prefix[len(prefix)-1] == '-' {
			name = fmt.Sprintf("%s%04d", prefix, i)
		}
		p[i] = seed.UserPlan{Name: name, Running: running, Stopped: named - running}
	}
	return step{Label: s.Label, Family: s.Family, Plan: p, Shape: planShape(p)}
}

// oneUserStep is the one-user family at k running named servers.
func oneUserStep(k int) step {
	return stepFromSeed(models.Seed{Label: fmt.Sprintf("one-user-k%d", k), Family: models.FamilyOneUser, Users: 1, RowsPerUser: k + 1, RunningPerUser: k})
}

// planShape is the shape a hub holding exactly p loads: each user has its
// default row plus Running+Stopped named rows.
func planShape(p seed.Plan) models.Shape {
	var sh models.Shape
	for _, u := range p {
		rows := float64(1 + u.Running + u.Stopped)
		sh.U++
		sh.S += rows
		sh.R += float64(u.Running)
		sh.J += float64(u.Running) * rows
	}
	return sh
}

// covers reports whether a database holding exactly old becomes one
// holding exactly next by ApplyDB, which only adds users and rows (and
// starts or stops rows in the plan): every old user is in next with at
// least as many named rows.
func covers(next, old seed.Plan) bool {
	idx := make(map[string]int, len(next))
	for _, u := range next {
		idx[u.Name] = u.Running + u.Stopped
	}
	for _, u := range old {
		n, ok := idx[u.Name]
		if !ok || n < u.Running+u.Stopped {
			return false
		}
	}
	return true
}

// newRows is how many named rows seeding next adds to a database holding
// old (covers(next, old) assumed).
func newRows(next, old seed.Plan) int {
	have := make(map[string]int, len(old))
	for _, u := range old {
		have[u.Name] = u.Running + u.Stopped
	}
	n := 0
	for _, u := range next {
		n += max(0, u.Running+u.Stopped-have[u.Name])
	}
	return n
}

// sweepSteps is the calibration's plan: models.SweepPlan's shapes for
// budget shapes as steps, without those already measured (same shape as
// one in done), in the sweep's order (growing cost).
func sweepSteps(budget int, opts models.SweepOptions, done []step) ([]step, error) {
	seeds, err := models.SweepPlan(budget, opts)
	if err != nil {
		return nil, err
	}
	var out []step
	for _, s := range seeds {
		st := stepFromSeed(s)
		same := func(d step) bool { return sameCounts(d.Shape, st.Shape) }
		if slices.ContainsFunc(done, same) || slices.ContainsFunc(out, same) {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

// costModel estimates what the next shape will cost (its peak and the
// wall time of one restart cycle) from the shapes measured so far, so that
// a calibration stops within its budget and below its memory cap. It
// extrapolates, so it is deliberately pessimistic: floors on every
// coefficient and a safety factor.
type costModel struct {
	shapes []models.Shape
	peaks  []float64 // bytes
	walls  []float64 // seconds of one restart cycle (stop, start, settle)
	seeds  []float64 // seconds to seed, per new row
	rows   []float64
}

// Pessimistic defaults before anything is measured, and floors after:
// the facts note's 30–45 µs per joined row on a quadratic release, taken
// per byte (a joined row materialises ~2–8 KiB), and a few seconds per
// restart.
const (
	defaultCycleSeconds = 8.0
	floorSecondsPerGiB  = 6.0  // time to materialise a GiB of rows
	floorSecondsPerR    = 1e-3 // poll + wait_up per running server
	safety              = 1.25
	seedFixedSeconds    = 1.5 // python start-up and ORM import
	seedSecondsPerRow   = 2e-3
)

func (c *costModel) observe(s models.Shape, peak, wall float64) {
	c.shapes = append(c.shapes, s)
	c.peaks = append(c.peaks, peak)
	c.walls = append(c.walls, wall)
}

func (c *costModel) observeSeed(rows int, seconds float64) {
	c.rows = append(c.rows, float64(rows))
	c.seeds = append(c.seeds, seconds)
}

// base is the smallest peak measured (an empty hub's), or a guess.
func (c *costModel) base() float64 {
	if len(c.peaks) == 0 {
		return models.DefaultBaseBytes
	}
	return slices.Min(c.peaks)
}

// Memory guesses of the estimate: bytes per joined row until a sample
// shows the slope, and per user, row and running server (generous: the
// wrappers, ORM objects and poll callbacks of 5.x take 10–30 KiB each).
const (
	guessPerJoinedRow = 8 << 10
	guessPerItem      = 32 << 10
)

// perJ is the steepest start-up memory per joined row, (peak − base)/J,
// seen on a shape dominated by its joined rows (J ≥ 1,000 and ≥ 10 times
// its users, rows and servers together: the memory of those is then
// counted against J too, which errs high), or the guess before any.
func (c *costModel) perJ() float64 {
	b, slope, seen := c.base(), 0.0, false
	for i, s := range c.shapes {
		if s.J >= 1000 && s.J >= 10*(s.U+s.S+s.R) {
			seen = true
			slope = math.Max(slope, (c.peaks[i]-b)/s.J)
		}
	}
	if !seen {
		return guessPerJoinedRow
	}
	return slope
}

// peak estimates the start-up peak of s as an upper bound:
// base + perJ·J + 32 KiB·(U+S+R). The slope per joined row is the
// steepest measured, so the estimate errs high on a quadratic release,
// which is what a memory cap needs.
func (c *costModel) peak(s models.Shape) float64 {
	return c.base() + c.perJ()*s.J + guessPerItem*(s.U+s.S+s.R)
}

// cycle estimates the wall time of one restart cycle on s, in seconds:
// a + b·R + κ·(peak − base)/GiB, fitted by NNLS on the cycles measured
// (κ clamped to [6, 20] s/GiB and b to [1, 10] ms: time is noisy on a
// shared machine, memory is not), times a safety factor.
func (c *costModel) cycle(s models.Shape) float64 {
	dp := math.Max(0, c.peak(s)-c.base()) / (1 << 30)
	if len(c.walls) < 3 {
		a := defaultCycleSeconds
		if len(c.walls) > 0 {
			a = slices.Max(c.walls)
		}
		return safety * (a + 2*floorSecondsPerR*s.R + 2*floorSecondsPerGiB*dp)
	}
	xs := make([]models.Shape, len(c.walls))
	for i, o := range c.shapes {
		// a Shape as a row of three features: U=1, R, J=Δpeak in GiB
		xs[i] = models.Shape{U: 1, R: o.R, J: math.Max(0, c.peaks[i]-c.base()) / (1 << 30)}
	}
	x := nnlsFit(xs, c.walls, []models.Term{models.TermU, models.TermR, models.TermJ})
	a := math.Max(x[0], slices.Min(c.walls))
	b := math.Min(math.Max(x[1], floorSecondsPerR), 10*floorSecondsPerR)
	k := math.Min(math.Max(x[2], floorSecondsPerGiB), 20)
	return safety * (a + b*s.R + k*dp)
}

// seedTime estimates the seconds to seed rows new rows.
func (c *costModel) seedTime(rows int) float64 {
	per := seedSecondsPerRow
	fixed := seedFixedSeconds
	for i := range c.seeds {
		if c.rows[i] > 100 {
			per = math.Max(per, c.seeds[i]/c.rows[i])
		} else {
			fixed = math.Max(fixed, c.seeds[i])
		}
	}
	return safety * (fixed + per*float64(rows))
}

// nnlsFit fits y ≈ Σ x_k·t_k(shape), x ≥ 0, with columns scaled to unit
// norm; it returns zeros when the problem is empty or degenerate.
func nnlsFit(shapes []models.Shape, y []float64, terms []models.Term) []float64 {
	n, p := len(shapes), len(terms)
	out := make([]float64, p)
	if n == 0 {
		return out
	}
	a := make([]float64, n*p)
	scale := make([]float64, p)
	for j, t := range terms {
		ss := 0.0
		for _, s := range shapes {
			ss += s.Value(t) * s.Value(t)
		}
		scale[j] = math.Sqrt(ss)
		if scale[j] == 0 {
			scale[j] = 1
		}
		for i, s := range shapes {
			a[i*p+j] = s.Value(t) / scale[j]
		}
	}
	x, _, err := models.NNLS(mat.NewDense(n, p, a), y)
	if err != nil && x == nil {
		return out
	}
	for j := range x {
		if !math.IsNaN(x[j]) && !math.IsInf(x[j], 0) {
			out[j] = x[j] / scale[j]
		}
	}
	return out
}

// sameCounts reports whether a and b have the same row counts (whatever
// their content).
func sameCounts(a, b models.Shape) bool {
	return a.U == b.U && a.S == b.S && a.R == b.R && a.J == b.J
}
