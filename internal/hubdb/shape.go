package hubdb

import (
	"context"
	"fmt"

	"github.com/hubcap-dev/hubcap/models"
	"github.com/hubcap-dev/hubcap/shape"
)

// Shape is what a hub database holds that drives the hub's start-up cost:
// the database's shape (package shape: U, S, R, J, LinearRows, the
// row-content totals JB, JP, LP and every user's rows, sorted by J
// descending) and what only the database knows besides.
type Shape struct {
	shape.Shape

	// Spawners counts every spawners row, including rows without a user
	// (which S leaves out); Servers counts every servers row (services'
	// servers and rows no spawner points at included).
	Spawners int64 `json:"spawners_total"`
	Servers  int64 `json:"servers_total"`

	// State summarises the JSON columns every joined row carries.
	State StateStats `json:"state"`
}

// StateStats are sizes, in bytes, of the spawners.state and
// spawners.user_options columns (JSON text; NULL counts as 0 bytes) over
// every spawners row. What the joined rows carry (JB, JP, LP) is in
// shape.Shape. BadJSON counts columns that are not JSON (counted as text only).
type StateStats struct {
	Rows                int64   `json:"rows"`
	AvgStateBytes       float64 `json:"avg_state_bytes"`
	MaxStateBytes       int64   `json:"max_state_bytes"`
	AvgUserOptionsBytes float64 `json:"avg_user_options_bytes"`
	MaxUserOptionsBytes int64   `json:"max_user_options_bytes"`
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
	var users []shape.User
	byID := map[int64]int{}
	for rows.Next() {
		var id int64
		var u shape.User
		if err := rows.Scan(&id, &u.Name); err != nil {
			rows.Close()
			return Shape{}, err
		}
		byID[id] = len(users)
		users = append(users, u)
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
		u := &users[i]
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
	sh.Shape = shape.New(users)

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
