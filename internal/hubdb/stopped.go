package hubdb

import (
	"context"
	"fmt"
	"slices"
)

// StoppedServers returns, for the given users, the names of their stopped
// named servers: spawner rows with a non-empty name and no server (the
// rows `DELETE /hub/api/users/NAME/servers/SERVER {"remove": true}` would
// remove). Users with none are absent from the map; names are sorted. It
// reads in one read-only transaction.
func (db *DB) StoppedServers(ctx context.Context, users []string) (map[string][]string, error) {
	if db.be == nil {
		return nil, fmt.Errorf("%w: the database is closed", ErrRead)
	}
	want := make(map[string]bool, len(users))
	for _, u := range users {
		want[u] = true
	}
	out := map[string][]string{}
	err := db.be.ReadTx(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT u.name, s.name FROM spawners s JOIN users u ON u.id = s.user_id
WHERE s.server_id IS NULL AND s.name <> ''`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var user, server string
			if err := rows.Scan(&user, &server); err != nil {
				return err
			}
			if want[user] {
				out[user] = append(out[user], server)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.readErr("stopped servers", err)
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out, nil
}
