// Package seed gives a hub a chosen database shape through its REST API:
// users with named servers, running or stopped, created concurrently with
// bounded workers. The spawner rows it creates are real (the hub writes them),
// so a restart afterwards loads exactly what a production hub would.
package seed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
)

// UserPlan is what one user should hold: Running named servers (started and
// left running) and Stopped named servers (started then stopped without
// removal, so their spawner rows stay).
type UserPlan struct {
	Name             string
	Running, Stopped int
}

// Plan is a list of users to seed.
type Plan []UserPlan

// OneUser is one user holding k running named servers.
func OneUser(name string, k int) Plan { return Plan{{Name: name, Running: k}} }

// Even is n users (prefix000, prefix001, …) with s running named servers each.
func Even(prefix string, n, s int) Plan {
	p := make(Plan, n)
	for i := range p {
		p[i] = UserPlan{Name: fmt.Sprintf("%s%03d", prefix, i), Running: s}
	}
	return p
}

// Servers is the number of named servers the plan creates.
func (p Plan) Servers() int {
	n := 0
	for _, u := range p {
		n += u.Running + u.Stopped
	}
	return n
}

// ServerName is the name of the i-th named server seeded for a user.
func ServerName(i int) string { return fmt.Sprintf("s%04d", i) }

// Options tune Apply.
type Options struct {
	// Workers bounds concurrent spawn requests (default 16; the hub's own
	// concurrent_spawn_limit answers 429 above it, which the client waits out).
	Workers int
	// Progress, when set, is called after every server with done and total.
	Progress func(done, total int)
}

// Result says what Apply did.
type Result struct {
	Users, Servers int
	Elapsed        time.Duration
}

// ErrSeed wraps the first failure of Apply.
var ErrSeed = errors.New("seed")

// Apply creates the plan's users (those that exist are kept) and their
// servers. It stops at the first error and reports what was done so far;
// everything it created is in c's Tracker for cleanup.
func Apply(ctx context.Context, c *hubapi.Client, p Plan, o Options) (Result, error) {
	start := time.Now()
	if o.Workers <= 0 {
		o.Workers = 16
	}
	names := make([]string, len(p))
	for i, u := range p {
		names[i] = u.Name
	}
	for i := 0; i < len(names); i += 100 {
		j := min(i+100, len(names))
		if _, err := c.CreateUsers(ctx, names[i:j]...); err != nil {
			return Result{Elapsed: time.Since(start)}, fmt.Errorf("%w: create users: %w", ErrSeed, err)
		}
	}
	type job struct {
		user, server string
		stop         bool
	}
	jobs := make(chan job)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	total := p.Servers()
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := startOne(ctx, c, j.user, j.server, j.stop); err != nil {
					fail(fmt.Errorf("%w: %s/%s: %w", ErrSeed, j.user, j.server, err))
					continue
				}
				n := int(done.Add(1))
				if o.Progress != nil {
					o.Progress(n, total)
				}
			}
		}()
	}
feed:
	for _, u := range p {
		for i := range u.Running + u.Stopped {
			select {
			case jobs <- job{u.Name, ServerName(i), i >= u.Running}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	res := Result{Users: len(p), Servers: int(done.Load()), Elapsed: time.Since(start)}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

func startOne(ctx context.Context, c *hubapi.Client, user, server string, stop bool) error {
	r, err := c.StartServer(ctx, user, server, nil)
	if err != nil {
		return err
	}
	if r.Pending {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := c.WaitReady(wctx, user, server)
		cancel()
		if err != nil {
			return err
		}
	}
	if stop {
		return c.StopServer(ctx, user, server, false)
	}
	return nil
}
