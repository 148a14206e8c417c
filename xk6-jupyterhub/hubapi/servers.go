package hubapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// serverPath returns the URL segments and endpoint template of a server
// resource: /users/:name/server for the default server, else
// /users/:name/servers/:server.
func serverPath(user, server string, extra ...string) (segs []string, endpoint string) {
	if server == "" {
		segs = []string{"users", user, "server"}
		endpoint = "/hub/api/users/:name/server"
	} else {
		segs = []string{"users", user, "servers", server}
		endpoint = "/hub/api/users/:name/servers/:server"
	}
	for _, e := range extra {
		segs = append(segs, e)
		endpoint += "/" + e
	}
	return segs, endpoint
}

// StartResult is the hub's answer to a start request.
type StartResult struct {
	Status int // 201 or 202 (or 400 for AlreadyRunning)
	// Ready: the server was up within the hub's slow_spawn_timeout (201).
	Ready bool
	// Pending: the spawn goes on (202); call WaitReady.
	Pending bool
	// AlreadyRunning: the hub answered 400 "… is already running".
	AlreadyRunning bool
}

// StartBody returns the request body of POST …/servers/:server for hub
// version v: the user_options object itself before 6.0, and
// {"user_options": …} from 6.0 on (6.x also accepts "display_name"; a body
// without either key is still read as user_options, so the old form only
// breaks when the options themselves have a key named "user_options" or
// "display_name").
func StartBody(v HubVersion, userOptions map[string]any) any {
	if userOptions == nil {
		userOptions = map[string]any{}
	}
	if v.Major >= 6 {
		return map[string]any{"user_options": userOptions}
	}
	return userOptions
}

// StartServer asks the hub to start a server (POST
// /hub/api/users/:name/servers/:server, or …/server for ""). 201 means ready,
// 202 pending. A 429 (concurrent_spawn_limit, active_server_limit) is waited
// out per Retry-After and counted; the POST is not repeated after 5xx. The
// server is recorded in the Tracker.
func (c *Client) StartServer(ctx context.Context, user, server string, userOptions map[string]any) (StartResult, error) {
	v, err := c.hubVersion(ctx)
	if err != nil {
		return StartResult{}, err
	}
	segs, ep := serverPath(user, server)
	resp, err := c.call(ctx, &Request{Method: http.MethodPost, URL: c.apiURL(nil, segs...), Endpoint: ep, Phase: "start_server",
		Expect: Statuses(http.StatusCreated, http.StatusAccepted)}, StartBody(v, userOptions), nil)
	if err != nil {
		if ae, ok := errorsAsAPI(err); ok && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "already running") {
			c.tracker.addServer(user, server)
			return StartResult{Status: ae.Status, Ready: true, AlreadyRunning: true}, nil
		}
		return StartResult{}, err
	}
	c.tracker.addServer(user, server)
	return StartResult{Status: resp.Status, Ready: resp.Status == http.StatusCreated, Pending: resp.Status == http.StatusAccepted}, nil
}

// WaitReady follows the spawn's progress event stream until the ready event,
// and falls back to polling the user model when the stream ends early or is
// refused (400 "not starting", 404). It returns ErrSpawnFailed on a failed
// event or when the server stops before it is ready. Bound it with ctx.
func (c *Client) WaitReady(ctx context.Context, user, server string) (ProgressEvent, error) {
	segs, ep := serverPath(user, server, "progress")
	resp, err := c.call(ctx, &Request{Method: http.MethodGet, URL: c.apiURL(nil, segs...), Endpoint: ep, Phase: "progress",
		Header: http.Header{"Accept": {"text/event-stream"}}, Stream: true, Timeout: -1}, nil, nil)
	if err == nil {
		ev, done, serr := FollowProgress(resp.Stream)
		resp.Stream.Close()
		if done || serr != nil && errors.Is(serr, ErrSpawnFailed) {
			return ev, serr
		}
		if ctx.Err() != nil {
			return ProgressEvent{}, ctx.Err()
		}
	} else if ctx.Err() != nil {
		return ProgressEvent{}, err
	} else if ae, ok := errorsAsAPI(err); !ok || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusNotFound) {
		return ProgressEvent{}, err
	}
	return c.PollReady(ctx, user, server)
}

// FollowProgress reads a progress event stream until the ready or failed
// event. done is true when one of them came; a failed event returns an error
// wrapping ErrSpawnFailed with the hub's message.
func FollowProgress(r io.Reader) (last ProgressEvent, done bool, err error) {
	sr := NewSSEReader(r, 0)
	for {
		ev, err := sr.Next()
		if err != nil {
			if err == io.EOF {
				return last, false, nil
			}
			return last, false, err
		}
		p, perr := ParseProgress(ev.Data)
		if perr != nil {
			continue // tolerate a bad event; the next may be fine
		}
		last = p
		if p.Failed {
			return p, true, fmt.Errorf("%w: %s", ErrSpawnFailed, truncate(p.Message, 300))
		}
		if p.Ready {
			return p, true, nil
		}
	}
}

// PollReady polls the user model until the server is ready; ErrSpawnFailed if
// it stops (or vanishes) before that.
func (c *Client) PollReady(ctx context.Context, user, server string) (ProgressEvent, error) {
	interval := c.cfg.PollInterval
	for {
		u, err := c.User(ctx, user)
		if err != nil {
			return ProgressEvent{}, err
		}
		s, ok := u.Servers[server]
		switch {
		case ok && s.Ready:
			return ProgressEvent{Progress: 100, Ready: true, URL: s.URL, Message: "Server ready at " + s.URL}, nil
		case !ok || !s.Active():
			return ProgressEvent{Failed: true}, fmt.Errorf("%w: %s stopped before it was ready", ErrSpawnFailed, qualName(user, server))
		}
		if err := c.t.sleep(ctx, interval); err != nil {
			return ProgressEvent{}, err
		}
		interval = min(interval*3/2, 2*time.Second)
	}
}

// StopServer stops a server (DELETE /hub/api/users/:name/servers/:server) and
// waits until it is stopped when the hub answers 202. With remove, the named
// server's spawner row is deleted too ({"remove": true}); that is refused with
// ErrGuard unless the user or server name starts with Config.NamePrefix. The
// default server cannot be removed (only stopped): remove is ignored for "".
func (c *Client) StopServer(ctx context.Context, user, server string, remove bool) error {
	remove = remove && server != ""
	if remove {
		if err := c.guard(user, server); err != nil {
			return err
		}
	}
	var body any
	if remove {
		body = map[string]any{"remove": true}
	}
	segs, ep := serverPath(user, server)
	resp, err := c.call(ctx, &Request{Method: http.MethodDelete, URL: c.apiURL(nil, segs...), Endpoint: ep, Phase: "stop_server",
		Expect: Statuses(http.StatusNoContent, http.StatusAccepted)}, body, nil)
	if err != nil {
		return err
	}
	if resp.Status == http.StatusAccepted {
		if err := c.waitStopped(ctx, user, server, remove); err != nil {
			return err
		}
	}
	if remove {
		c.tracker.forgetServer(user, server)
	}
	return nil
}

// waitStopped polls until the server is stopped (and gone, with remove).
func (c *Client) waitStopped(ctx context.Context, user, server string, remove bool) error {
	interval := c.cfg.PollInterval
	for {
		u, err := c.User(ctx, user)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		s, ok := u.Servers[server]
		if !ok || (!remove && !s.Active()) {
			return nil
		}
		if err := c.t.sleep(ctx, interval); err != nil {
			return fmt.Errorf("hubapi: waiting for %s to stop: %w", qualName(user, server), err)
		}
		interval = min(interval*3/2, 2*time.Second)
	}
}

// Token is a created API token. Its value is never printed by fmt.
type Token struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	User      string    `json:"user"`
	Note      string    `json:"note"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt Timestamp `json:"expires_at"`
}

// String describes the token without its value.
func (t Token) String() string {
	return fmt.Sprintf("hubapi.Token{ID:%q User:%q Note:%q Scopes:%q Token:[redacted]}", t.ID, t.User, t.Note, t.Scopes)
}

// GoString is String.
func (t Token) GoString() string { return t.String() }

// Format prints String for every verb.
func (t Token) Format(f fmt.State, verb rune) { fmt.Fprint(f, t.String()) }

// CreateToken creates an API token for user (POST /hub/api/users/:name/tokens)
// with a note, a lifetime (0: the hub's default) and scopes (nil: the hub's
// default, the owner's own permissions). The token value is scrubbed from
// later error messages.
func (c *Client) CreateToken(ctx context.Context, user, note string, expiresIn time.Duration, scopes []string) (Token, error) {
	body := map[string]any{"note": note}
	if expiresIn > 0 {
		body["expires_in"] = int64(expiresIn.Round(time.Second) / time.Second)
	}
	if scopes != nil {
		body["scopes"] = scopes
	}
	var tok Token
	_, err := c.call(ctx, &Request{Method: http.MethodPost, URL: c.apiURL(nil, "users", user, "tokens"), Endpoint: "/hub/api/users/:name/tokens",
		Phase: "create_token", Expect: Statuses(http.StatusCreated, http.StatusOK)}, body, &tok)
	if err != nil {
		return Token{}, err
	}
	c.t.AddSecret(tok.Token)
	return tok, nil
}
