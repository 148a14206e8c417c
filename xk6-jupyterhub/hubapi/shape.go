package hubapi

import (
	"context"
	"fmt"

	"github.com/hubcap-dev/hubcap/shape"
)

// ShapeFromUsers computes the shape (package shape: U, S, R, J, LinearRows
// and each user's S_u, R_u, J_u; no row content) from user models. It is only complete for
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
// Users with the same name are counted once (the first). Users are sorted as
// shape.New sorts them (J descending, then S, then name).
func ShapeFromUsers(users []User) shape.Shape {
	var per []shape.User
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if seen[u.Name] {
			continue
		}
		seen[u.Name] = true
		us := shape.User{Name: u.Name, S: int64(len(u.Servers))}
		for _, s := range u.Servers {
			if s.Active() {
				us.R++
			}
		}
		per = append(per, us)
	}
	return shape.New(per)
}

// Shape lists every user with include_stopped_servers and computes the shape
// (see ShapeFromUsers for what is counted and the listing's side effects). It
// needs list:users and read:servers; ErrMissingServers when models come back
// without "servers".
func (c *Client) Shape(ctx context.Context) (shape.Shape, error) {
	users, err := c.ListUsers(ctx, ListOptions{IncludeStoppedServers: true})
	if err != nil {
		return shape.Shape{}, err
	}
	for _, u := range users {
		if u.Servers == nil {
			return shape.Shape{}, fmt.Errorf("hubapi: user %q: %w; create a token with scopes list:users and read:servers (or admin:servers)", u.Name, ErrMissingServers)
		}
	}
	return ShapeFromUsers(users), nil
}
