package hubdb

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/hubcap-dev/hubcap/models"
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
// row if it exists), R of them with a server, J = R·S joined rows, and what
// the rows carry (state plus user_options): Bytes of JSON text over the S
// rows and RunBytes over the R running ones; Py and RunPy the same for the
// Python objects they parse into (models.PyJSONSize). The 5.0–5.3 join
// parses both spawners of each of its R·S rows: R·Py + S·RunPy.
type UserShape struct {
	Name     string `json:"name"`
	S        int64  `json:"spawners"`
	R        int64  `json:"running"`
	J        int64  `json:"joined_rows"`
	Bytes    int64  `json:"state_bytes"`
	RunBytes int64  `json:"running_state_bytes"`
	Py       int64  `json:"pybytes"`
	RunPy    int64  `json:"running_pybytes"`
}

// StateStats are sizes, in bytes, of the spawners.state and
// spawners.user_options columns (JSON text; NULL counts as 0 bytes) and the
// row-content features of models.Shape:
//
//	JoinedBytes   JB = Σ_u (R_u·Bytes_u + S_u·RunBytes_u)
//	JoinedPyBytes JP = Σ_u (R_u·Py_u + S_u·RunPy_u)
//	LinearPyBytes LP = Σ_u RunPy_u + Σ_{u: R_u>0} Py_u
//
// BadJSON counts columns that are not JSON (counted as text only).
type StateStats struct {
	Rows                int64   `json:"rows"`
	AvgStateBytes       float64 `json:"avg_state_bytes"`
	MaxStateBytes       int64   `json:"max_state_bytes"`
	AvgUserOptionsBytes float64 `json:"avg_user_options_bytes"`
	MaxUserOptionsBytes int64   `json:"max_user_options_bytes"`
	JoinedBytes         int64   `json:"joined_bytes"`
	JoinedPyBytes       int64   `json:"joined_pybytes"`
	LinearPyBytes       int64   `json:"linear_pybytes"`
	BadJSON             int64   `json:"bad_json,omitempty"`
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
	// Every user, then every spawner row with its JSON columns (one scan
	// each, no per-user lookups): the parsed size of each column needs its
	// text. Users without spawners keep S = R = 0.
	rows, err := q.Query(ctx, `SELECT u.id, COALESCE(u.name, '') FROM users u`)
	if err != nil {
		return Shape{}, err
	}
	var sh Shape
	byID := map[int64]int{}
	for rows.Next() {
		var id int64
		var u UserShape
		if err := rows.Scan(&id, &u.Name); err != nil {
			rows.Close()
			return Shape{}, err
		}
		byID[id] = len(sh.PerUser)
		sh.PerUser = append(sh.PerUser, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Shape{}, err
	}
	rows, err = q.Query(ctx, `SELECT s.user_id, CASE WHEN s.server_id IS NULL THEN 0 ELSE 1 END,
	COALESCE(s.state, ''), COALESCE(s.user_options, '')
FROM spawners s WHERE s.user_id IS NOT NULL`)
	if err != nil {
		return Shape{}, err
	}
	for rows.Next() {
		var uid, running int64
		var state, opts []byte
		if err := rows.Scan(&uid, &running, &state, &opts); err != nil {
			rows.Close()
			return Shape{}, err
		}
		i, ok := byID[uid]
		if !ok {
			continue // a spawner of a user row that vanished: not joined
		}
		u := &sh.PerUser[i]
		var b, py int64
		for _, col := range [][]byte{state, opts} {
			b += int64(len(col))
			n, err := models.PyJSONSize(col)
			if err != nil {
				sh.State.BadJSON++
				n = models.PyStrSize(string(col))
			}
			py += n
		}
		u.S++
		u.Bytes += b
		u.Py += py
		if running != 0 {
			u.R++
			u.RunBytes += b
			u.RunPy += py
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Shape{}, err
	}
	for i := range sh.PerUser {
		u := &sh.PerUser[i]
		u.J = u.R * u.S
		sh.U++
		sh.S += u.S
		sh.R += u.R
		sh.J += u.J
		sh.State.JoinedBytes += u.R*u.Bytes + u.S*u.RunBytes
		sh.State.JoinedPyBytes += u.R*u.Py + u.S*u.RunPy
		if u.R > 0 {
			sh.State.LinearPyBytes += u.RunPy + u.Py
		}
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
