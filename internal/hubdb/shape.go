package hubdb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Shape is what a hub database holds that drives the hub's start-up cost
// (field names as in package models and the REST-API shape in hubapi):
//
//	U = number of users rows
//	S = Σ_u S_u, S_u = spawner rows of user u, running or stopped, including the default "" row
//	R = Σ_u R_u, R_u = spawner rows of u whose server_id is set (running or pending)
//	J = Σ_u R_u·S_u, the rows JupyterHub 5.0.0b1–5.3.0 materialise at start-up
//
// PerUser has one entry per user, sorted by J descending (each user's share
// of J is J_u/J), then S descending, then name.
type Shape struct {
	U int64 `json:"users"`
	S int64 `json:"spawner_rows"`
	R int64 `json:"running"`
	J int64 `json:"joined_rows"`

	PerUser []UserShape `json:"per_user"`

	// Spawners counts every spawners row, including rows without a user
	// (which S leaves out); Servers counts every servers row (services'
	// servers and rows no spawner points at included).
	Spawners int64 `json:"spawners_total"`
	Servers  int64 `json:"servers_total"`

	// State summarises the JSON columns every joined row carries.
	State StateStats `json:"state"`
}

// UserShape is one user's counts: S spawner rows (including the default ""
// row if it exists), R of them with a server, J = R·S joined rows, and
// Bytes = the bytes of state and user_options over the user's S rows (so the
// 5.0–5.3 join copies R·Bytes bytes of them for this user).
type UserShape struct {
	Name  string `json:"name"`
	S     int64  `json:"spawners"`
	R     int64  `json:"running"`
	J     int64  `json:"joined_rows"`
	Bytes int64  `json:"state_bytes"`
}

// StateStats are sizes, in bytes, of the spawners.state and
// spawners.user_options columns (JSON text; NULL counts as 0 bytes). Every
// byte is multiplied in the 5.0–5.3 join: JoinedBytes = Σ_u R_u·Bytes_u.
type StateStats struct {
	Rows                int64   `json:"rows"`
	AvgStateBytes       float64 `json:"avg_state_bytes"`
	MaxStateBytes       int64   `json:"max_state_bytes"`
	AvgUserOptionsBytes float64 `json:"avg_user_options_bytes"`
	MaxUserOptionsBytes int64   `json:"max_user_options_bytes"`
	JoinedBytes         int64   `json:"joined_bytes"`
}

// Shape reads the shape of the database in one read-only transaction: one
// GROUP BY over spawners joined to users, and one pass of totals.
func (db *DB) Shape(ctx context.Context) (Shape, error) {
	if db.be == nil {
		return Shape{}, fmt.Errorf("%w: the database is closed", ErrRead)
	}
	var sh Shape
	err := db.be.ReadTx(ctx, func(q querier) error {
		var err error
		sh, err = db.shape(ctx, q)
		return err
	})
	if err != nil {
		return Shape{}, db.readErr("shape", err)
	}
	return sh, nil
}

func (db *DB) shape(ctx context.Context, q querier) (Shape, error) {
	st, uo := db.dia.byteLen("s.state"), db.dia.byteLen("s.user_options")
	// Aggregate spawners per user first (one scan, no per-user lookups),
	// then attach names; users without spawners keep S = R = 0.
	perUser := `SELECT COALESCE(u.name, ''), COALESCE(a.s, 0), COALESCE(a.r, 0), COALESCE(a.b, 0)
FROM users u LEFT JOIN (
	SELECT s.user_id AS user_id, COUNT(*) AS s, COUNT(s.server_id) AS r, SUM(` + st + ` + ` + uo + `) AS b
	FROM spawners s WHERE s.user_id IS NOT NULL GROUP BY s.user_id
) a ON a.user_id = u.id`
	rows, err := q.Query(ctx, perUser)
	if err != nil {
		return Shape{}, err
	}
	var sh Shape
	for rows.Next() {
		var u UserShape
		if err := rows.Scan(&u.Name, &u.S, &u.R, &u.Bytes); err != nil {
			rows.Close()
			return Shape{}, err
		}
		u.J = u.R * u.S
		sh.U++
		sh.S += u.S
		sh.R += u.R
		sh.J += u.J
		sh.State.JoinedBytes += u.R * u.Bytes
		sh.PerUser = append(sh.PerUser, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Shape{}, err
	}
	slices.SortFunc(sh.PerUser, func(a, b UserShape) int {
		return cmp.Or(cmp.Compare(b.J, a.J), cmp.Compare(b.S, a.S), cmp.Compare(a.Name, b.Name))
	})

	totals := `SELECT COUNT(*), COALESCE(SUM(` + st + `), 0), COALESCE(MAX(` + st + `), 0),
	COALESCE(SUM(` + uo + `), 0), COALESCE(MAX(` + uo + `), 0),
	(SELECT COUNT(*) FROM servers)
FROM spawners s`
	rows, err = q.Query(ctx, totals)
	if err != nil {
		return Shape{}, err
	}
	defer rows.Close()
	var sumState, sumUO int64
	for rows.Next() {
		if err := rows.Scan(&sh.Spawners, &sumState, &sh.State.MaxStateBytes, &sumUO, &sh.State.MaxUserOptionsBytes, &sh.Servers); err != nil {
			return Shape{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return Shape{}, err
	}
	sh.State.Rows = sh.Spawners
	if sh.Spawners > 0 {
		sh.State.AvgStateBytes = float64(sumState) / float64(sh.Spawners)
		sh.State.AvgUserOptionsBytes = float64(sumUO) / float64(sh.Spawners)
	}
	return sh, nil
}
