package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrBadSweep reports a SweepPlan request that cannot produce a useful
// design (budget below 5 shapes, caps too small, non-finite options).
var ErrBadSweep = errors.New("models: bad sweep plan")

// Defaults of SweepOptions.
const (
	// DefaultMaxJoinedRows keeps the worst restart of a sweep near 600 MiB
	// and 10 s on a quadratic release (2.3 KiB, 30–45 µs per joined row).
	DefaultMaxJoinedRows = 250_000
	// DefaultMaxRunning bounds the servers seeded as running per shape.
	DefaultMaxRunning = 2000
	// DefaultBytesPerJoinedRow is the facts note's rule of thumb for
	// 5.0–5.3 (measured on SQLite, SQLAlchemy 1.4); only a guess for sizing.
	DefaultBytesPerJoinedRow = 2.3 * 1024
	// DefaultBaseBytes is a guess of an empty hub's peak RSS.
	DefaultBaseBytes = 64 << 20
)

// MinSweepBudget is the smallest budget SweepPlan accepts: the baseline and
// one shape of each of the four families, enough to identify all five
// terms (with no residual degrees of freedom left for all five; 12 or more
// is recommended).
const MinSweepBudget = 5

// SweepOptions bounds the shapes of a SweepPlan. Zero fields take defaults.
type SweepOptions struct {
	// MaxJoinedRows caps J = Σ R_u·S_u of every shape (default 250,000).
	MaxJoinedRows float64
	// MaxRunning caps R, the servers to seed as running (default 2000).
	MaxRunning int
	// MaxMemory, if > 0, is the memory available to the hub under test,
	// bytes; it caps J further at (MaxMemory − BaseBytes)/BytesPerJoinedRow,
	// assuming the worst (quadratic) release.
	MaxMemory float64
	// BytesPerJoinedRow is the memory guess per joined row (default 2.3 KiB).
	BytesPerJoinedRow float64
	// BaseBytes is the memory guess for an empty hub (default 64 MiB).
	BaseBytes float64
}

// Seed is one database shape to seed before a calibration restart: Users
// identical users, each with RowsPerUser spawner rows (the default row
// included) of which RunningPerUser have a server row.
type Seed struct {
	Label          string `json:"label"`
	Family         string `json:"family"`
	Users          int    `json:"users"`
	RowsPerUser    int    `json:"rows_per_user"`
	RunningPerUser int    `json:"running_per_user"`
}

// Shape returns the seed's features: U = n, S = n·rows, R = n·running,
// J = n·running·rows.
func (s Seed) Shape() Shape {
	n, rows, run := float64(s.Users), float64(s.RowsPerUser), float64(s.RunningPerUser)
	return Shape{U: n, S: n * rows, R: n * run, J: n * run * rows}
}

// UserShapes expands the seed into per-user counts named prefix0, prefix1, ….
func (s Seed) UserShapes(prefix string) []UserShape {
	out := make([]UserShape, s.Users)
	for i := range out {
		out[i] = UserShape{Name: fmt.Sprintf("%s%d", prefix, i), S: s.RowsPerUser, R: s.RunningPerUser}
	}
	return out
}

// The sweep families. Each is homogeneous (n identical users), so it is
// easy to seed, and each moves the features along a different direction.
const (
	FamilyBaseline = "baseline"     // 1 user, its default row, nothing running: the constant
	FamilyOneUser  = "one-user"     // 1 user × k running rows: J = k², R = S = k, U = 1
	FamilyWide     = "wide"         // n users × 2 running rows: J = 2R, U = R/2
	FamilyStopped  = "wide-stopped" // n users × 6 rows, 2 running: S = 3R, J = 6R
	FamilySquare   = "square"       // n users × n running rows: J = n³, R = n², U = n
)

// SweepPlan returns up to budget database shapes for a calibration, sorted
// by the memory they are guessed to need (J, then R), so a run that hits a
// limit has already measured the smaller ones. It is a pure function.
//
// Design. The fitter must tell the five terms {1, U, S, R, J} apart from the
// data alone, so the shapes must not make any feature a linear combination
// of the others. Even spreads alone (n users × s servers, fixed s) give
// J = s·R exactly: J and R are collinear and a quadratic release cannot be
// told from a linear one. The plan therefore mixes families with different
// ratios, each spaced geometrically from small to its cap:
//
//   - one-user heavy (1 × k): J = k² grows quadratically in R — the signature
//     of 5.0–5.3;
//   - wide (n × 2): large R and U with J = 2R — the linear regime;
//   - wide-stopped (n × 6 rows, 2 running): S = 3R, separating stopped rows
//     (S) from running servers (R) and users (U): in the other families
//     every row but a user's default one is running, so S = R + U there.
//     Three stopped named rows per user (two, until JupyterHub 6.1.1's
//     validation matrix showed a model on S alone 9–11% high on a database
//     half of whose rows were stopped) make the contrast large enough for
//     the fit to see;
//   - square (n × n): J = n³, R = n², U = n — intermediate concentration,
//     so J at a given R is not only "all on one user" or "spread out";
//   - one baseline (1 user, 1 stopped row) for the constant.
//
// The remaining budget after the baseline is dealt to the families round
// robin in that order. Every shape respects J ≤ MaxJoinedRows (and the
// MaxMemory guess) and R ≤ MaxRunning; when the caps are so small that
// sizes collide after rounding, duplicates are dropped and fewer shapes
// are returned.
func SweepPlan(budget int, opts SweepOptions) ([]Seed, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if budget < MinSweepBudget {
		return nil, fmt.Errorf("%w: budget %d; need at least %d shapes (12 or more recommended)", ErrBadSweep, budget, MinSweepBudget)
	}
	jmax := o.MaxJoinedRows
	if o.MaxMemory > 0 {
		jmax = math.Min(jmax, (o.MaxMemory-o.BaseBytes)/o.BytesPerJoinedRow)
	}
	rmax := float64(o.MaxRunning)
	fams := []struct {
		name       string
		pmin, pmax float64
		seed       func(p int) Seed
	}{
		{FamilyOneUser, 8, math.Min(math.Sqrt(jmax), rmax), func(k int) Seed {
			return Seed{fmt.Sprintf("one-user-k%d", k), FamilyOneUser, 1, k, k}
		}},
		{FamilyWide, 8, math.Min(rmax/2, jmax/4), func(n int) Seed {
			return Seed{fmt.Sprintf("wide-n%dx2", n), FamilyWide, n, 2, 2}
		}},
		{FamilyStopped, 8, math.Min(rmax/2, jmax/12), func(n int) Seed {
			return Seed{fmt.Sprintf("wide-stopped-n%dx2+4", n), FamilyStopped, n, 6, 2}
		}},
		{FamilySquare, 3, math.Min(math.Cbrt(jmax), math.Sqrt(rmax)), func(n int) Seed {
			return Seed{fmt.Sprintf("square-n%d", n), FamilySquare, n, n, n}
		}},
	}
	for _, f := range fams {
		if f.pmax < 1 {
			return nil, fmt.Errorf("%w: caps (max joined rows %.0f, max running %d) leave no room for the %s family; raise them",
				ErrBadSweep, jmax, o.MaxRunning, f.name)
		}
	}
	counts := make([]int, len(fams))
	for i := range budget - 1 {
		counts[i%len(fams)]++
	}
	plan := []Seed{{Label: "baseline", Family: FamilyBaseline, Users: 1, RowsPerUser: 1}}
	for i, f := range fams {
		for _, p := range geomInts(f.pmin, f.pmax, counts[i]) {
			plan = append(plan, f.seed(p))
		}
	}
	slices.SortStableFunc(plan, func(a, b Seed) int {
		sa, sb := a.Shape(), b.Shape()
		if c := cmpFloat(sa.J, sb.J); c != 0 {
			return c
		}
		return cmpFloat(sa.R, sb.R)
	})
	return slices.CompactFunc(plan, func(a, b Seed) bool { return a.Shape() == b.Shape() }), nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// geomInts returns m distinct integers spaced geometrically from lo to hi
// (hi always included; lo raised to 1 and lowered to hi if needed), fewer
// when rounding makes them collide.
func geomInts(lo, hi float64, m int) []int {
	top := int(math.Floor(hi))
	bot := int(math.Max(1, math.Min(math.Ceil(lo), float64(top))))
	if m <= 0 {
		return nil
	}
	if m == 1 || top == bot {
		return []int{top}
	}
	var out []int
	ratio := float64(top) / float64(bot)
	for i := range m {
		v := int(math.Round(float64(bot) * math.Pow(ratio, float64(i)/float64(m-1))))
		if len(out) > 0 && v <= out[len(out)-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

func (o SweepOptions) withDefaults() (SweepOptions, error) {
	if o.MaxJoinedRows == 0 {
		o.MaxJoinedRows = DefaultMaxJoinedRows
	}
	if o.MaxRunning == 0 {
		o.MaxRunning = DefaultMaxRunning
	}
	if o.BytesPerJoinedRow == 0 {
		o.BytesPerJoinedRow = DefaultBytesPerJoinedRow
	}
	if o.BaseBytes == 0 {
		o.BaseBytes = DefaultBaseBytes
	}
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"max joined rows", o.MaxJoinedRows}, {"max running", float64(o.MaxRunning)},
		{"bytes per joined row", o.BytesPerJoinedRow}, {"base bytes", o.BaseBytes}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("%w: %s = %v; want a finite value > 0", ErrBadSweep, f.name, f.v))
		}
	}
	if math.IsNaN(o.MaxMemory) || math.IsInf(o.MaxMemory, 0) || o.MaxMemory < 0 {
		errs = append(errs, fmt.Errorf("%w: max memory = %v; want bytes ≥ 0 (0 for no cap)", ErrBadSweep, o.MaxMemory))
	} else if o.MaxMemory > 0 && o.MaxMemory <= o.BaseBytes {
		errs = append(errs, fmt.Errorf("%w: max memory %.0f bytes is not above the empty hub's %.0f; raise the memory limit",
			ErrBadSweep, o.MaxMemory, o.BaseBytes))
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	return o, nil
}
