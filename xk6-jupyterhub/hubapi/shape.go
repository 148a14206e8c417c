package hubapi

import (
	"context"
	"fmt"
	"sort"
)

// UserShape is one user's part of the database shape.
type UserShape struct {
	Name string
	// S is the number of the user's spawner rows: every server listed with
	// include_stopped_servers, running or stopped, the default '' row included.
	S int64
	// R is the number of active servers: listed as not stopped (ready or with a
	// pending spawn, stop or check), which is when the row's server_id is set.
	R int64
	// J = R·S, the rows the 5.0–5.3 init_spawners join materialises for the user.
	J int64
}

// Shape is the database shape that drives the hub's start-up cost.
//
//	U = number of users
//	S = Σ_u S_u   (rows of the spawners table)
//	R = Σ_u R_u   (spawners rows with server_id set)
//	J = Σ_u R_u·S_u
//
// JupyterHub 5.0.0b1 … 5.3.0 load J joined rows in init_spawners (quadratic for
// users with many servers); 3.x–4.1 and ≥ 5.4.3 load about R (+ Σ_{u:R_u>0} S_u).
type Shape struct {
	U, S, R, J int64
	PerUser    []UserShape // sorted by name
}

// LinearRows is Σ_u R_u + Σ_{u: R_u>0} S_u, the rows the fixed query
// (≥ 5.4.3) loads: the running spawners plus every spawner of their users.
func (s Shape) LinearRows() int64 {
	var n int64
	for _, u := range s.PerUser {
		n += u.R
		if u.R > 0 {
			n += u.S
		}
	}
	return n
}

// ShapeFromUsers computes the shape from user models. It is only complete for
// models listed with include_stopped_servers (otherwise S_u counts active
// servers only). What is counted, against the hub's code (4.1 … 6.x,
// APIHandler.user_model): with include_stopped_servers the "servers" map holds
// one entry per row of user.orm_spawners, i.e. per row of the spawners table
// with that user_id (names are unique per user), plus active in-memory
// spawners, which always have a row. Every User wrapper the hub builds creates
// the default ” row if missing (5.x User.__init__), and listing with
// include_stopped_servers builds one for every listed user, so after such a
// listing each user's S_u includes the ” row and equals the database count.
// R_u counts entries with stopped=false (Server.Active).
//
// Users with the same name are counted once (the first).
func ShapeFromUsers(users []User) Shape {
	var sh Shape
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if seen[u.Name] {
			continue
		}
		seen[u.Name] = true
		us := UserShape{Name: u.Name, S: int64(len(u.Servers))}
		for _, s := range u.Servers {
			if s.Active() {
				us.R++
			}
		}
		us.J = us.R * us.S
		sh.U++
		sh.S += us.S
		sh.R += us.R
		sh.J += us.J
		sh.PerUser = append(sh.PerUser, us)
	}
	sort.Slice(sh.PerUser, func(i, j int) bool { return sh.PerUser[i].Name < sh.PerUser[j].Name })
	return sh
}

// Shape lists every user with include_stopped_servers and computes the shape
// (see ShapeFromUsers for what is counted and the listing's side effects). It
// needs list:users and read:servers; ErrMissingServers when models come back
// without "servers".
func (c *Client) Shape(ctx context.Context) (Shape, error) {
	users, err := c.ListUsers(ctx, ListOptions{IncludeStoppedServers: true})
	if err != nil {
		return Shape{}, err
	}
	for _, u := range users {
		if u.Servers == nil {
			return Shape{}, fmt.Errorf("hubapi: user %q: %w; create a token with scopes list:users and read:servers (or admin:servers)", u.Name, ErrMissingServers)
		}
	}
	return ShapeFromUsers(users), nil
}
