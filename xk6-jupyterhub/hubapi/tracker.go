package hubapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ServerRef names a server of a user ("" is the default server).
type ServerRef struct{ User, Server string }

// Tracker records the users and servers a Client created, so that Cleanup
// removes those and nothing else. It is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	users   map[string]bool
	servers map[ServerRef]bool
}

func (t *Tracker) addUser(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		t.users = map[string]bool{}
	}
	t.users[name] = true
}

func (t *Tracker) forgetUser(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.users, name)
	for ref := range t.servers {
		if ref.User == name {
			delete(t.servers, ref)
		}
	}
}

func (t *Tracker) addServer(user, server string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.servers == nil {
		t.servers = map[ServerRef]bool{}
	}
	t.servers[ServerRef{user, server}] = true
}

func (t *Tracker) forgetServer(user, server string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.servers, ServerRef{user, server})
}

// Users returns the tracked user names, sorted.
func (t *Tracker) Users() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.users))
	for u := range t.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// Servers returns the tracked servers, sorted.
func (t *Tracker) Servers() []ServerRef {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ServerRef, 0, len(t.servers))
	for s := range t.servers {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Server < out[j].Server
	})
	return out
}

// Cleanup removes what this client created: it stops and removes the tracked
// servers (named ones are removed, default ones stopped), then deletes the
// tracked users. Names without Config.NamePrefix are refused (ErrGuard) and
// left in place; servers and users already gone count as removed. It goes on
// after failures and returns them joined.
func (c *Client) Cleanup(ctx context.Context) error {
	var errs []error
	for _, ref := range c.tracker.Servers() {
		if err := c.guard(ref.User, ref.Server); err != nil {
			errs = append(errs, err)
			continue
		}
		err := c.StopServer(ctx, ref.User, ref.Server, true)
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("cleanup server %s: %w", qualName(ref.User, ref.Server), err))
			continue
		}
		c.tracker.forgetServer(ref.User, ref.Server)
	}
	for _, name := range c.tracker.Users() {
		if err := c.guard(name, ""); err != nil {
			errs = append(errs, err)
			continue
		}
		err := c.DeleteUser(ctx, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("cleanup user %q: %w", name, err))
			continue
		}
		c.tracker.forgetUser(name)
	}
	return errors.Join(errs...)
}
