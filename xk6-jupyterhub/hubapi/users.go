package hubapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Timestamp is a JupyterHub ISO-8601 time ("2024-05-01T12:00:00.123456Z"); a
// null or unparsable value decodes to the zero time rather than failing the
// whole model.
type Timestamp struct{ time.Time }

// UnmarshalJSON decodes null, RFC 3339, or a zone-less ISO time taken as UTC.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil || s == nil {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, *s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	t.Time = time.Time{}
	return nil
}

// MarshalJSON encodes the zero time as null.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// Server is a server model (JupyterHub's server_model).
type Server struct {
	Name         string    `json:"name"`
	DisplayName  string    `json:"display_name,omitempty"` // 6.x
	FullName     string    `json:"full_name"`
	LastActivity Timestamp `json:"last_activity"`
	Started      Timestamp `json:"started"`
	// Pending is "spawn", "stop", "check" or "" (JSON null).
	Pending string `json:"pending"`
	Ready   bool   `json:"ready"`
	// Stopped is false while the server is active (ready or pending); nil when
	// the hub does not send the field.
	Stopped     *bool          `json:"stopped"`
	URL         string         `json:"url"`
	ProgressURL string         `json:"progress_url"`
	UserOptions map[string]any `json:"user_options"`
	// State is the spawner's state, sent only to tokens with scope
	// admin:server_state (nil otherwise).
	State json.RawMessage `json:"state,omitempty"`
}

// Active reports whether the hub counts the server as running: ready or with
// a pending action, i.e. not stopped. On the hub this is Spawner.active, and it
// holds exactly while the spawner's server_id is set in the database, except
// for the instant between a spawn request and the creation of its servers row.
func (s Server) Active() bool {
	if s.Stopped != nil {
		return !*s.Stopped
	}
	return s.Ready || s.Pending != ""
}

// User is a user model (JupyterHub's user_model).
type User struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	Admin  bool     `json:"admin"`
	Roles  []string `json:"roles"`
	Groups []string `json:"groups"`
	// Server is the default server's URL when it is ready, else "".
	Server       string    `json:"server"`
	Pending      string    `json:"pending"`
	Created      Timestamp `json:"created"`
	LastActivity Timestamp `json:"last_activity"`
	// Servers maps server name ("" is the default server) to its model. Nil
	// when the answer had no "servers" field (the token lacks read:servers).
	Servers map[string]Server `json:"servers"`
}

// CreateUsers creates users with POST /hub/api/users in batches of 200 and
// returns the users the hub created; names that already exist are skipped
// (the hub answers 409 when a whole batch exists, which is not an error here).
// The hub normalises names (lower case); created users are recorded in the
// Tracker. POST is not retried after 5xx: a lost answer would leave users
// created but untracked.
func (c *Client) CreateUsers(ctx context.Context, usernames ...string) ([]User, error) {
	var created []User
	for start := 0; start < len(usernames); start += 200 {
		batch := usernames[start:min(start+200, len(usernames))]
		var got []User
		resp, err := c.call(ctx, &Request{Method: http.MethodPost, URL: c.apiURL(nil, "users"), Endpoint: "/hub/api/users",
			Phase: "create_users", Expect: Statuses(http.StatusCreated, http.StatusConflict)},
			map[string]any{"usernames": batch}, nil)
		if err != nil {
			return created, err
		}
		if resp.Status == http.StatusCreated {
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				return created, fmt.Errorf("POST /hub/api/users: %w: %v", ErrBadResponse, err)
			}
		}
		for _, u := range got {
			c.tracker.addUser(u.Name)
		}
		created = append(created, got...)
	}
	return created, nil
}

// User returns GET /hub/api/users/:name?include_stopped_servers=1: every
// server of the user, stopped ones with Stopped=true.
func (c *Client) User(ctx context.Context, name string) (User, error) {
	var u User
	q := url.Values{"include_stopped_servers": {"1"}}
	_, err := c.call(ctx, &Request{Method: http.MethodGet, URL: c.apiURL(q, "users", name), Endpoint: "/hub/api/users/:name", Phase: "get_user"}, nil, &u)
	return u, err
}

// ListOptions selects users for ListUsers.
type ListOptions struct {
	// State is "", "active", "inactive" or "ready" (hub ≥ 2.0).
	State string
	// IncludeStoppedServers lists every spawner row of each user, not only
	// active servers. Note: the hub then builds (and keeps) a User wrapper for
	// every listed user, which also creates the default '' spawner row of users
	// that had none.
	IncludeStoppedServers bool
	// PageSize is the page limit (default 200, the hub's default maximum).
	PageSize int
	// NameFilter keeps users whose name contains it (hub ≥ 5.0, "name_filter").
	NameFilter string
}

type pagination struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	Total  int `json:"total"`
	Next   *struct {
		Offset int `json:"offset"`
		Limit  int `json:"limit"`
	} `json:"next"`
}

// ListUsers pages through GET /hub/api/users with the pagination media type
// (Accept: application/jupyterhub-pagination+json), following
// _pagination.next.offset. A hub that answers a plain list instead is paged by
// offset/limit until a page is empty or brings no new user. Users are de-duplicated by name: a listing
// taken while users are added or removed is not a snapshot.
func (c *Client) ListUsers(ctx context.Context, o ListOptions) ([]User, error) {
	limit := o.PageSize
	if limit <= 0 {
		limit = 200
	}
	seen := map[string]bool{}
	var out []User
	offset := 0
	for page := 0; ; page++ {
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
		if o.State != "" {
			q.Set("state", o.State)
		}
		if o.IncludeStoppedServers {
			q.Set("include_stopped_servers", "1")
		}
		if o.NameFilter != "" {
			q.Set("name_filter", o.NameFilter)
		}
		resp, err := c.call(ctx, &Request{Method: http.MethodGet, URL: c.apiURL(q, "users"), Endpoint: "/hub/api/users", Phase: "list_users",
			Header: http.Header{"Accept": {"application/jupyterhub-pagination+json, application/json"}}}, nil, nil)
		if err != nil {
			return out, err
		}
		body := bytes.TrimSpace(resp.Body)
		var items []User
		var next *int
		if len(body) > 0 && body[0] == '[' {
			if err := json.Unmarshal(body, &items); err != nil {
				return out, fmt.Errorf("GET /hub/api/users: %w: %v", ErrBadResponse, err)
			}
			// the hub may cap limit below what was asked: go on until a
			// page is empty or brings no new user (a hub ignoring offset)
			if len(items) > 0 {
				n := offset + len(items)
				next = &n
			}
		} else {
			var pg struct {
				Items      []User      `json:"items"`
				Pagination *pagination `json:"_pagination"`
			}
			if err := json.Unmarshal(body, &pg); err != nil || pg.Pagination == nil {
				return out, fmt.Errorf("GET /hub/api/users: %w: neither a list nor {items, _pagination}", ErrBadResponse)
			}
			items = pg.Items
			if pg.Pagination.Next != nil {
				n := pg.Pagination.Next.Offset
				next = &n
			}
		}
		fresh := 0
		for _, u := range items {
			if !seen[u.Name] {
				seen[u.Name] = true
				out = append(out, u)
				fresh++
			}
		}
		if next == nil || *next <= offset || (fresh == 0 && len(items) > 0) {
			return out, nil
		}
		offset = *next
	}
}

// DeleteUser stops the user's active servers, then deletes the user
// (DELETE /hub/api/users/:name; the hub refuses with 500 to delete spawners
// that are still active). Refused with ErrGuard unless the name starts with
// Config.NamePrefix.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	if err := c.guard(name, ""); err != nil {
		return err
	}
	u, err := c.User(ctx, name)
	if err != nil {
		return err
	}
	for sname, s := range u.Servers {
		if s.Active() {
			if err := c.StopServer(ctx, name, sname, false); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	_, err = c.call(ctx, &Request{Method: http.MethodDelete, URL: c.apiURL(nil, "users", name), Endpoint: "/hub/api/users/:name", Phase: "delete_user",
		Expect: Statuses(http.StatusNoContent, http.StatusOK)}, nil, nil)
	if err != nil {
		return err
	}
	c.tracker.forgetUser(name)
	return nil
}

// guard refuses removals of names without the configured prefix.
func (c *Client) guard(user, server string) error {
	p := c.cfg.NamePrefix
	if p == "" {
		return fmt.Errorf("hubapi: remove %s: %w: Config.NamePrefix is empty; set it (e.g. \"hubcap-\") to allow removing the users and servers hubcap made", qualName(user, server), ErrGuard)
	}
	if strings.HasPrefix(user, p) || (server != "" && strings.HasPrefix(server, p)) {
		return nil
	}
	return fmt.Errorf("hubapi: remove %s: %w: name does not start with %q; hubcap only removes what it named", qualName(user, server), ErrGuard, p)
}

func qualName(user, server string) string {
	if server == "" {
		return strconv.Quote(user)
	}
	return strconv.Quote(user + "/" + server)
}
