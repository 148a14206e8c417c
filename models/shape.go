package models

import (
	"errors"
	"fmt"
	"math"

	"github.com/hubcap-dev/hubcap/shape"
)

// Shape is the feature vector the memory and time models are fitted on and
// predict from: the part of a hub database that drives start-up cost. A
// real database's shape has its one home in package shape (integer counts,
// per-user rows, what hubcap check and replay print); FromShape turns it
// into these features at the edge. Shape stays here, as floats, for the
// regressions and for the hypothetical shapes of this package (Even, Plus,
// RowContent.Users). Its features are four counts:
//
//	U = number of users
//	S = Σ_u S_u, all spawner rows (running or stopped, including each user's default "" row)
//	R = Σ_u R_u, spawner rows whose server_id is set ("running" in the DB, pending spawns included)
//	J = Σ_u R_u·S_u, the rows materialised by the 5.0–5.3 init_spawners query
//
// and three features of what the rows carry (see "Row content" in the
// package documentation), with B(s) the JSON text bytes of spawner s's
// state and user_options columns and P(s) the bytes of the Python objects
// they parse into (PyJSONSize):
//
//	JB = Σ_u (R_u·B_u + S_u·B^R_u)   JSON text carried by the joined rows
//	JP = Σ_u (R_u·P_u + S_u·P^R_u)   parsed JSON of the joined rows
//	LP = Σ_u P^R_u + Σ_{u: R_u>0} P_u  parsed JSON of the linear query
//
// where B_u, P_u sum over all of u's rows and B^R_u, P^R_u over its running
// ones. A Shape built from counts alone has JB = JP = LP = 0 (content
// unknown): models whose terms include them then predict from the counts.
//
// Fields are float64 so that very large hypothetical shapes (J grows
// quadratically) stay exact up to 2^53 and feed the regression directly.
// A consistent Shape satisfies 0 ≤ R ≤ S, R ≤ J ≤ R·S and U ≥ 1 when S > 0
// (see Shape.Validate).
type Shape struct {
	U  float64 `json:"users"`
	S  float64 `json:"spawner_rows"`
	R  float64 `json:"running"`
	J  float64 `json:"joined_rows"`
	JB float64 `json:"joined_bytes,omitempty"`
	JP float64 `json:"joined_pybytes,omitempty"`
	LP float64 `json:"linear_pybytes,omitempty"`
}

// FromShape is the feature vector of a database's shape: its totals as
// floats (U, S, R, J, JB, JP, LP; LinearRows is no feature).
func FromShape(s shape.Shape) Shape {
	return Shape{U: float64(s.U), S: float64(s.S), R: float64(s.R), J: float64(s.J),
		JB: float64(s.JB), JP: float64(s.JP), LP: float64(s.LP)}
}

// UserShape is one user's rows in a hypothetical shape (ShapeOf, Plus:
// content may be fractional, an average per row; a database's users are
// shape.User): S spawner rows in total (including the
// default "" row if it exists) of which R have a server row, and what
// they carry: Bytes and Py over all S rows, RunBytes and RunPy over the R
// running ones (JSON text bytes and parsed Python bytes of state and
// user_options; see Shape).
type UserShape struct {
	Name     string  `json:"name"`
	S        int     `json:"spawners"`
	R        int     `json:"running"`
	Bytes    float64 `json:"state_bytes,omitempty"`
	RunBytes float64 `json:"running_state_bytes,omitempty"`
	Py       float64 `json:"pybytes,omitempty"`
	RunPy    float64 `json:"running_pybytes,omitempty"`
}

// add adds user u's rows to s.
func (s *Shape) add(u UserShape) {
	r, n := float64(u.R), float64(u.S)
	s.U++
	s.S += n
	s.R += r
	s.J += r * n
	s.JB += r*u.Bytes + n*u.RunBytes
	s.JP += r*u.Py + n*u.RunPy
	if u.R > 0 {
		s.LP += u.RunPy + u.Py
	}
}

// RowContent is what each spawner row of a hypothetical shape carries:
// JSON text bytes and parsed Python bytes (PyJSONSize) of state plus
// user_options, for a running row and for a stopped one (a stopped row keeps
// its user_options; its state is what the spawner's clear_state left).
type RowContent struct {
	RunBytes     float64 `json:"running_bytes"`
	RunPy        float64 `json:"running_pybytes"`
	StoppedBytes float64 `json:"stopped_bytes"`
	StoppedPy    float64 `json:"stopped_pybytes"`
}

// User returns the UserShape of a user with s rows of which r run, every
// row carrying c.
func (c RowContent) User(name string, s, r int) UserShape {
	st := float64(s - r)
	rf := float64(r)
	return UserShape{Name: name, S: s, R: r,
		Bytes: rf*c.RunBytes + st*c.StoppedBytes, RunBytes: rf * c.RunBytes,
		Py: rf*c.RunPy + st*c.StoppedPy, RunPy: rf * c.RunPy}
}

// Users is the shape of n identical users, each with s rows of which r
// run, every row carrying c. n, s and r may be fractional (families drawn
// over a continuous size); no row is added for the default server.
func (c RowContent) Users(n, s, r float64) Shape {
	st := s - r
	b, br := r*c.RunBytes+st*c.StoppedBytes, r*c.RunBytes
	p, pr := r*c.RunPy+st*c.StoppedPy, r*c.RunPy
	sh := Shape{U: n, S: n * s, R: n * r, J: n * r * s, JB: n * (r*b + s*br), JP: n * (r*p + s*pr)}
	if r > 0 {
		sh.LP = n * (pr + p)
	}
	return sh
}

// IsZero reports whether c carries nothing (content unknown).
func (c RowContent) IsZero() bool { return c == RowContent{} }

// ErrInvalidShape reports counts that no hub database can have (negative
// counts, more running servers than spawner rows, mismatched lists).
var ErrInvalidShape = errors.New("models: invalid shape")

// ShapeOf sums a per-user breakdown into a Shape. Every user counts towards U,
// whatever its rows. It fails with ErrInvalidShape when a user has negative
// counts or R > S.
func ShapeOf(users []UserShape) (Shape, error) {
	var sh Shape
	for i, u := range users {
		if u.S < 0 || u.R < 0 || u.R > u.S {
			return Shape{}, fmt.Errorf("%w: user %d (%q) has %d spawner rows and %d running; need 0 ≤ running ≤ spawners",
				ErrInvalidShape, i, u.Name, u.S, u.R)
		}
		if !(u.Bytes >= 0 && u.RunBytes >= 0 && u.Py >= 0 && u.RunPy >= 0) || u.RunBytes > u.Bytes || u.RunPy > u.Py {
			return Shape{}, fmt.Errorf("%w: user %d (%q) has content bytes %v (running %v), Python bytes %v (running %v); need 0 ≤ running ≤ all",
				ErrInvalidShape, i, u.Name, u.Bytes, u.RunBytes, u.Py, u.RunPy)
		}
		sh.add(u)
	}
	return sh, nil
}

// ShapeFromCounts is ShapeOf for two parallel lists: s[i] spawner rows and
// r[i] running servers of user i.
func ShapeFromCounts(s, r []int) (Shape, error) {
	if len(s) != len(r) {
		return Shape{}, fmt.Errorf("%w: %d spawner counts but %d running counts; give one of each per user",
			ErrInvalidShape, len(s), len(r))
	}
	users := make([]UserShape, len(s))
	for i := range s {
		users[i] = UserShape{S: s[i], R: r[i]}
	}
	return ShapeOf(users)
}

// OneUser is one user with k named servers, all running, plus the default ""
// row, stopped: U = 1, S = k+1, R = k, J = k(k+1). It panics if k < 0.
//
// OneUser is itself a family for Threshold: "how many servers can one user
// hold before a restart no longer fits?".
func OneUser(k int) Shape {
	if k < 0 {
		panic(fmt.Sprintf("models: OneUser(%d): k must be ≥ 0", k))
	}
	f := float64(k)
	return Shape{U: 1, S: f + 1, R: f, J: f * (f + 1)}
}

// OneUserWith is OneUser(k) with every row carrying c.
func OneUserWith(k int, c RowContent) Shape {
	if k < 0 {
		panic(fmt.Sprintf("models: OneUserWith(%d): k must be ≥ 0", k))
	}
	return c.Users(1, float64(k+1), float64(k))
}

// EvenWith is Even(n, s) with every row carrying c.
func EvenWith(n, s int, c RowContent) Shape {
	if n < 0 || s < 0 {
		panic(fmt.Sprintf("models: EvenWith(%d, %d): counts must be ≥ 0", n, s))
	}
	var sh Shape
	u := c.User("", s, s)
	sh.add(u)
	nf := float64(n)
	return Shape{U: nf, S: nf * sh.S, R: nf * sh.R, J: nf * sh.J, JB: nf * sh.JB, JP: nf * sh.JP, LP: nf * sh.LP}
}

// Even is n users each with s spawner rows, all running (the default row is
// one of the s): U = n, S = R = n·s, J = n·s². The facts note's
// "1 user × 1000 spawners" is Even(1, 1000), "10 × 300" is Even(10, 300).
// It panics if n or s is negative.
func Even(n, s int) Shape {
	if n < 0 || s < 0 {
		panic(fmt.Sprintf("models: Even(%d, %d): counts must be ≥ 0", n, s))
	}
	nf, sf := float64(n), float64(s)
	return Shape{U: nf, S: nf * sf, R: nf * sf, J: nf * sf * sf}
}

// EvenUsers is the family k ↦ Even(k, s): more users of the same kind.
func EvenUsers(s int) func(k int) Shape {
	return func(k int) Shape { return Even(k, s) }
}

// EvenServers is the family k ↦ Even(n, k): the same users, more servers each.
func EvenServers(n int) func(k int) Shape {
	return func(k int) Shape { return Even(n, k) }
}

// Plus is "today's database plus k more running servers for user": the named
// user gains k spawner rows that are all running (S_u += k, R_u += k). A user
// not in base is added with a stopped default row and k running named
// servers, as OneUser(k). It fails with ErrInvalidShape if base is
// inconsistent or k < 0.
func Plus(base []UserShape, user string, k int) (Shape, error) {
	f, err := PlusFamily(base, user)
	if err != nil {
		return Shape{}, err
	}
	if k < 0 {
		return Shape{}, fmt.Errorf("%w: Plus with k = %d; k must be ≥ 0", ErrInvalidShape, k)
	}
	return f(k), nil
}

// PlusFamily returns the family k ↦ Plus(base, user, k), with base summed
// once so that each call is O(1). The family panics if k < 0.
//
// With S_x, R_x the user's current counts (0, 0 and U+1 if new, in which case
// the default row is added: S_x = 1):
//
//	J(k) = J − R_x·S_x + (R_x+k)(S_x+k)
func PlusFamily(base []UserShape, user string) (func(k int) Shape, error) {
	return PlusFamilyWith(base, user, RowContent{})
}

// PlusFamilyWith is PlusFamily where each added running server carries c
// (c's running figures; a new user's default row carries c's stopped ones).
// The content features of the other users are kept as they are.
func PlusFamilyWith(base []UserShape, user string, c RowContent) (func(k int) Shape, error) {
	sh, err := ShapeOf(base)
	if err != nil {
		return nil, err
	}
	x := UserShape{Name: user}
	found := false
	for _, u := range base {
		if u.Name == user {
			x.S += u.S
			x.R += u.R
			x.Bytes += u.Bytes
			x.RunBytes += u.RunBytes
			x.Py += u.Py
			x.RunPy += u.RunPy
			found = true
		}
	}
	var rest Shape
	if found {
		var xs Shape
		xs.add(x)
		rest = Shape{U: sh.U - 1, S: sh.S - xs.S, R: sh.R - xs.R, J: sh.J - xs.J, JB: sh.JB - xs.JB, JP: sh.JP - xs.JP, LP: sh.LP - xs.LP}
	} else {
		rest = sh
		x = c.User(user, 1, 0)
	}
	return func(k int) Shape {
		if k < 0 {
			panic(fmt.Sprintf("models: Plus family called with k = %d; k must be ≥ 0", k))
		}
		f := float64(k)
		u := x
		u.S += k
		u.R += k
		u.Bytes += f * c.RunBytes
		u.RunBytes += f * c.RunBytes
		u.Py += f * c.RunPy
		u.RunPy += f * c.RunPy
		out := rest
		out.add(u)
		return out
	}, nil
}

// Validate reports every inconsistency of the aggregate counts at once: a
// negative or non-finite field, R > S, J outside [R, R·S] (each running
// server's user has at least that one row, and no user has more than S rows),
// or rows without users. Nil means the shape could come from a database.
func (s Shape) Validate() []error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"users", s.U}, {"spawner_rows", s.S}, {"running", s.R}, {"joined_rows", s.J},
		{"joined_bytes", s.JB}, {"joined_pybytes", s.JP}, {"linear_pybytes", s.LP}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s = %v, want a finite count ≥ 0", ErrInvalidShape, f.name, f.v))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if s.R > s.S {
		errs = append(errs, fmt.Errorf("%w: running = %v > spawner_rows = %v", ErrInvalidShape, s.R, s.S))
	}
	// Relative slack: the bounds are exact for integer counts, but J may have
	// been rounded when it exceeds 2^53.
	slack := 1e-12 * math.Max(1, s.R*s.S)
	if s.J < s.R-slack || s.J > s.R*s.S+slack {
		errs = append(errs, fmt.Errorf("%w: joined_rows = %v outside [running, running×spawner_rows] = [%v, %v]; J must be Σ R_u·S_u",
			ErrInvalidShape, s.J, s.R, s.R*s.S))
	}
	if s.S > 0 && s.U < 1 {
		errs = append(errs, fmt.Errorf("%w: %v spawner rows but no users", ErrInvalidShape, s.S))
	}
	return errs
}

// Value returns the feature a term stands for: 1 for the constant.
func (s Shape) Value(t Term) float64 {
	switch t {
	case TermConst:
		return 1
	case TermU:
		return s.U
	case TermS:
		return s.S
	case TermR:
		return s.R
	case TermJ:
		return s.J
	case TermJB:
		return s.JB
	case TermJP:
		return s.JP
	case TermLP:
		return s.LP
	}
	panic(fmt.Sprintf("models: unknown term %d", int(t)))
}

// atMost reports whether every feature of s is ≤ the same feature of t.
func (s Shape) atMost(t Shape) bool {
	return s.U <= t.U && s.S <= t.S && s.R <= t.R && s.J <= t.J &&
		s.JB <= t.JB && s.JP <= t.JP && s.LP <= t.LP
}

// HasContent reports whether s carries row-content features.
func (s Shape) HasContent() bool { return s.JB > 0 || s.JP > 0 || s.LP > 0 }
