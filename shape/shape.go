// Package shape is the one home of a hub database's shape: what its users
// and spawner rows are, counted the same way whoever reads them (the
// database in internal/hubdb, the REST API in xk6-jupyterhub/hubapi), and
// what `hubcap check`, `hubcap replay`, the hub telemetry and the capacity
// report print.
//
// For users u with S_u spawner rows (running or stopped, the default ""
// row included), R_u of them with a server (server_id set: running or
// pending), and B_u, P_u the JSON text bytes and parsed Python bytes of
// their rows' state and user_options (B^R_u, P^R_u over the running rows):
//
//	U          = number of users
//	S          = Σ_u S_u
//	R          = Σ_u R_u
//	J          = Σ_u R_u·S_u                     rows the 5.0–5.3 init_spawners join materialises
//	LinearRows = Σ_u R_u + Σ_{u: R_u>0} S_u      rows the fixed query (≥ 5.4.3) loads
//	JB         = Σ_u (R_u·B_u + S_u·B^R_u)       JSON text carried by the joined rows
//	JP         = Σ_u (R_u·P_u + S_u·P^R_u)       parsed JSON of the joined rows
//	LP         = Σ_u P^R_u + Σ_{u: R_u>0} P_u    parsed JSON of the linear query
//
// Counts are integers: a Shape is what one database holds. Package models
// turns it into the float feature vector its regressions are fitted on
// (models.FromShape), and builds hypothetical shapes there. This package
// imports nothing else of the module.
package shape

import (
	"cmp"
	"slices"
)

// User is one user's spawner rows: S rows in total (including the default
// "" row if it exists), R of them with a server, J = R·S rows in the
// 5.0–5.3 start-up join, and what the rows carry (state plus
// user_options): Bytes of JSON text over the S rows and RunBytes over the R
// running ones, Py and RunPy the same for the Python objects they parse
// into (models.PyJSONSize). Content left at 0 means unknown or empty.
type User struct {
	Name     string `json:"name"`
	S        int64  `json:"spawners"`
	R        int64  `json:"running"`
	J        int64  `json:"joined_rows"`
	Bytes    int64  `json:"state_bytes,omitempty"`
	RunBytes int64  `json:"running_state_bytes,omitempty"`
	Py       int64  `json:"pybytes,omitempty"`
	RunPy    int64  `json:"running_pybytes,omitempty"`
}

// Shape is a database's shape: the totals of the package documentation
// and, when known, every user's rows.
type Shape struct {
	U          int64 `json:"users"`
	S          int64 `json:"spawner_rows"`
	R          int64 `json:"running"`
	J          int64 `json:"joined_rows"`
	LinearRows int64 `json:"linear_rows"`
	JB         int64 `json:"joined_bytes"`
	JP         int64 `json:"joined_pybytes"`
	LP         int64 `json:"linear_pybytes"`
	// Users are sorted by J descending (each user's share of J is J_u/J),
	// then S descending, then name; nil when only the totals are kept.
	Users []User `json:"per_user,omitempty"`
}

// New computes the shape of users: each user's J = R·S and the totals. It
// sorts users in place (J descending, then S descending, then name) and
// keeps the slice as Shape.Users. Every user counts towards U, whatever
// its rows; names are not checked for duplicates.
func New(users []User) Shape {
	var s Shape
	for i := range users {
		u := &users[i]
		u.J = u.R * u.S
		s.U++
		s.S += u.S
		s.R += u.R
		s.J += u.J
		s.LinearRows += u.R
		if u.R > 0 {
			s.LinearRows += u.S
			s.LP += u.RunPy + u.Py
		}
		s.JB += u.R*u.Bytes + u.S*u.RunBytes
		s.JP += u.R*u.Py + u.S*u.RunPy
	}
	slices.SortFunc(users, Compare)
	s.Users = users
	return s
}

// Compare orders users as Shape.Users are: J descending, then S
// descending, then name.
func Compare(a, b User) int {
	return cmp.Or(cmp.Compare(b.J, a.J), cmp.Compare(b.S, a.S), cmp.Compare(a.Name, b.Name))
}

// Totals returns s without its users.
func (s Shape) Totals() Shape {
	s.Users = nil
	return s
}
