package models

import (
	"errors"
	"fmt"
	"math"
)

// Shape is the part of a hub database that drives start-up cost, as the four
// features the memory and time models are fitted on:
//
//	U = number of users
//	S = Σ_u S_u, all spawner rows (running or stopped, including each user's default "" row)
//	R = Σ_u R_u, spawner rows whose server_id is set ("running" in the DB, pending spawns included)
//	J = Σ_u R_u·S_u, the rows materialised by the 5.0–5.3 init_spawners query
//
// Fields are float64 so that very large hypothetical shapes (J grows
// quadratically) stay exact up to 2^53 and feed the regression directly.
// A consistent Shape satisfies 0 ≤ R ≤ S, R ≤ J ≤ R·S and U ≥ 1 when S > 0
// (see Shape.Validate).
type Shape struct {
	U float64 `json:"users"`
	S float64 `json:"spawner_rows"`
	R float64 `json:"running"`
	J float64 `json:"joined_rows"`
}

// UserShape is one user's row counts: S spawner rows in total (including the
// default "" row if it exists) of which R have a server row.
type UserShape struct {
	Name string `json:"name"`
	S    int    `json:"spawners"`
	R    int    `json:"running"`
}

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
		sh.U++
		sh.S += float64(u.S)
		sh.R += float64(u.R)
		sh.J += float64(u.R) * float64(u.S)
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
	sh, err := ShapeOf(base)
	if err != nil {
		return nil, err
	}
	var sx, rx float64
	found := false
	for _, u := range base {
		if u.Name == user {
			sx += float64(u.S)
			rx += float64(u.R)
			found = true
		}
	}
	if !found {
		sh.U++
		sh.S++
		sx = 1
	}
	j0 := sh.J - rx*sx
	return func(k int) Shape {
		if k < 0 {
			panic(fmt.Sprintf("models: Plus family called with k = %d; k must be ≥ 0", k))
		}
		f := float64(k)
		return Shape{U: sh.U, S: sh.S + f, R: sh.R + f, J: j0 + (rx+f)*(sx+f)}
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
	}{{"users", s.U}, {"spawner_rows", s.S}, {"running", s.R}, {"joined_rows", s.J}} {
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
	}
	panic(fmt.Sprintf("models: unknown term %d", int(t)))
}

// atMost reports whether every feature of s is ≤ the same feature of t.
func (s Shape) atMost(t Shape) bool {
	return s.U <= t.U && s.S <= t.S && s.R <= t.R && s.J <= t.J
}
