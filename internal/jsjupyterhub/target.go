package jsjupyterhub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/hubcap-dev/hubcap/internal/loadhttp"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/attendee"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Sentinel errors of the binding's run target.
var (
	// ErrNoHub: the script talks to the hub but the run has no target.
	ErrNoHub = errors.New("no hub to talk to")
	// ErrNoToken: an admin call without an API token.
	ErrNoToken = errors.New("no admin token")
	// ErrBound: Bind while another run is bound in this process.
	ErrBound = errors.New("another run is bound to k6/x/jupyterhub")
)

// Target is the hub a run talks to. Its Token is never printed.
type Target struct {
	// HubURL is the hub's public URL (the proxy), e.g. http://127.0.0.1:8000.
	HubURL string
	// Token is the admin API token (a service token with admin:users,
	// admin:servers, tokens, list:users, read:servers...); "" allows only
	// attendee traffic.
	Token string
	// InsecureSkipVerify disables TLS verification for every client.
	InsecureSkipVerify bool
	// NamePrefix guards removals (users and servers without it are never
	// removed) and selects what Cleanup looks at. "" refuses every removal.
	NamePrefix string
}

// String describes the target without its token.
func (t Target) String() string {
	tok := "none"
	if t.Token != "" {
		tok = "set"
	}
	return fmt.Sprintf("hub %s (token %s, prefix %q, insecure %t)", t.HubURL, tok, t.NamePrefix, t.InsecureSkipVerify)
}

// GoString is String, so %#v never shows the token.
func (t Target) GoString() string { return t.String() }

// Binding is a run's target bound to the module: the admin client shared
// by every VU (hubapi.Client is safe for concurrent use), the attendee
// sessions the script made (closed by Close) and the users that existed
// before the run (for Cleanup).
type Binding struct {
	target Target
	admin  *hubapi.Client // nil without a hub
	// sink forwards the admin client's samples to the run's stream, which
	// the first VU of the run hands over.
	sink forwardSink

	mu sync.Mutex
	// sessions are weak so that attendees a script dropped (one per
	// iteration, say) are not kept alive until the end of the run.
	sessions []weak.Pointer[attendee.Session]
	baseline map[string]map[string]bool // user → server → active, nil: none taken
}

// current is the binding of the run in progress (nil: none).
var current atomic.Pointer[Binding]

// Bind makes t the target of scripts run until Close. Runs in one process
// are sequential: binding while another binding is open fails with
// ErrBound. A zero Target binds "no hub" (hub calls throw ErrNoHub).
func Bind(t Target) (*Binding, error) {
	b := &Binding{target: t}
	if t.HubURL != "" {
		c, err := hubapi.New(hubapi.Config{BaseURL: t.HubURL, Token: t.Token, InsecureSkipVerify: t.InsecureSkipVerify,
			NamePrefix: t.NamePrefix, Sink: &b.sink})
		if err != nil {
			return nil, err
		}
		b.admin = c
	}
	if !current.CompareAndSwap(nil, b) {
		return nil, ErrBound
	}
	return b, nil
}

// Target returns the bound target.
func (b *Binding) Target() Target { return b.target }

// Admin returns the shared admin client (nil without a hub).
func (b *Binding) Admin() *hubapi.Client { return b.admin }

// Close closes the attendee sessions' websockets and unbinds. It is safe
// to call more than once.
func (b *Binding) Close() {
	b.mu.Lock()
	sessions := b.sessions
	b.sessions = nil
	b.mu.Unlock()
	for _, w := range sessions {
		if s := w.Value(); s != nil {
			_ = s.Close()
		}
	}
	current.CompareAndSwap(b, nil)
}

// track remembers s so that Close closes its kernel websocket. Collected
// sessions are dropped from the list as it grows.
func (b *Binding) track(s *attendee.Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sessions) == cap(b.sessions) && len(b.sessions) >= 64 {
		b.compactLocked()
	}
	b.sessions = append(b.sessions, weak.Make(s))
}

func (b *Binding) compactLocked() {
	b.sessions = slices.DeleteFunc(b.sessions, func(w weak.Pointer[attendee.Session]) bool { return w.Value() == nil })
}

// adminClient returns the admin client or why there is none.
func (b *Binding) adminClient() (*hubapi.Client, error) {
	switch {
	case b == nil || b.admin == nil:
		return nil, noHubError()
	case b.target.Token == "":
		return nil, fmt.Errorf("%w: set HUBCAP_TOKEN or pass --token-file with a token of the hub's admin or of a service with admin:users, admin:servers and list:users", ErrNoToken)
	}
	return b.admin, nil
}

func noHubError() error {
	return fmt.Errorf("%w: run with --hub URL (token from HUBCAP_TOKEN or --token-file) or --hub local:5.5.1", ErrNoHub)
}

// Baseline records the users with the name prefix, and their servers, as
// they are before the run, so that Cleanup removes only what the run
// added. It lists users with stopped servers, which makes the hub create
// the default server row of listed users that had none (prefixed users
// only, with hubs ≥ 5.0 that honour name_filter).
func (b *Binding) Baseline(ctx context.Context) error {
	c, err := b.adminClient()
	if err != nil {
		return err
	}
	users, err := b.listPrefixed(ctx, c)
	if err != nil {
		return err
	}
	base := map[string]map[string]bool{}
	for _, u := range users {
		srv := map[string]bool{}
		for name, s := range u.Servers {
			srv[name] = s.Active()
		}
		base[u.Name] = srv
	}
	b.mu.Lock()
	b.baseline = base
	b.mu.Unlock()
	return nil
}

func (b *Binding) listPrefixed(ctx context.Context, c *hubapi.Client) ([]hubapi.User, error) {
	if b.target.NamePrefix == "" {
		return nil, nil
	}
	users, err := c.ListUsers(ctx, hubapi.ListOptions{IncludeStoppedServers: true, NameFilter: b.target.NamePrefix})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(users, func(u hubapi.User) bool { return !strings.HasPrefix(u.Name, b.target.NamePrefix) }), nil
}

// Removed is what Cleanup removed.
type Removed struct {
	Users   []string           // deleted (their servers stopped first)
	Servers []hubapi.ServerRef // stopped, and removed when named
}

// CleanupPlan is what a cleanup does, from the users before and after.
type CleanupPlan struct {
	// DeleteUsers are prefixed users that did not exist before.
	DeleteUsers []string
	// RemoveServers are named servers of earlier users that did not exist
	// before: stopped and their rows removed.
	RemoveServers []hubapi.ServerRef
	// StopServers existed before, stopped, and are active now.
	StopServers []hubapi.ServerRef
}

// PlanCleanup decides what to remove so that the prefixed users and their
// servers are as they were before the run (before: user → server → active).
// Users without prefix are never touched. It is a pure function; the
// result is sorted.
func PlanCleanup(prefix string, before map[string]map[string]bool, after []hubapi.User) CleanupPlan {
	var p CleanupPlan
	if prefix == "" {
		return p
	}
	for _, u := range after {
		if !strings.HasPrefix(u.Name, prefix) {
			continue
		}
		old, existed := before[u.Name]
		if !existed {
			p.DeleteUsers = append(p.DeleteUsers, u.Name)
			continue
		}
		for name, s := range u.Servers {
			wasActive, had := old[name]
			switch {
			case !had && name != "":
				p.RemoveServers = append(p.RemoveServers, hubapi.ServerRef{User: u.Name, Server: name})
			case s.Active() && !wasActive:
				p.StopServers = append(p.StopServers, hubapi.ServerRef{User: u.Name, Server: name})
			}
		}
	}
	slices.Sort(p.DeleteUsers)
	byRef := func(a, b hubapi.ServerRef) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Server, b.Server)
	}
	slices.SortFunc(p.RemoveServers, byRef)
	slices.SortFunc(p.StopServers, byRef)
	return p
}

// cleanupWorkers bounds concurrent removals.
const cleanupWorkers = 8

// Cleanup removes what the run added to the hub: prefixed users that did
// not exist at Baseline (made by admin.createUsers or by attendees logging
// in), and servers that prefixed earlier users did not have. Without a
// baseline it falls back to what the admin client created itself
// (hubapi.Client.Cleanup). Samples of these calls are discarded. It goes on
// after failures and returns them joined.
func (b *Binding) Cleanup(ctx context.Context) (Removed, error) {
	c, err := b.adminClient()
	if err != nil {
		return Removed{}, err
	}
	b.mu.Lock()
	base := b.baseline
	b.mu.Unlock()
	// A client of its own so that cleanup traffic stays out of the run's
	// latency figures.
	cc, err := hubapi.New(hubapi.Config{BaseURL: b.target.HubURL, Token: b.target.Token,
		InsecureSkipVerify: b.target.InsecureSkipVerify, NamePrefix: b.target.NamePrefix, Sink: samples.Discard})
	if err != nil {
		return Removed{}, err
	}
	if base == nil {
		var r Removed
		r.Users, r.Servers = c.Tracker().Users(), c.Tracker().Servers()
		return r, c.Cleanup(ctx)
	}
	after, err := b.listPrefixed(ctx, cc)
	if err != nil {
		return Removed{}, err
	}
	plan := PlanCleanup(b.target.NamePrefix, base, after)
	var (
		mu   sync.Mutex
		r    Removed
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, cleanupWorkers)
	do := func(f func() error, done func()) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			err := f()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errors.Is(err, hubapi.ErrNotFound) {
				errs = append(errs, err)
				return
			}
			done()
		})
	}
	for _, s := range plan.RemoveServers {
		do(func() error { return cc.StopServer(ctx, s.User, s.Server, true) }, func() { r.Servers = append(r.Servers, s) })
	}
	for _, s := range plan.StopServers {
		do(func() error { return cc.StopServer(ctx, s.User, s.Server, false) }, func() { r.Servers = append(r.Servers, s) })
	}
	for _, u := range plan.DeleteUsers {
		do(func() error { return cc.DeleteUser(ctx, u) }, func() { r.Users = append(r.Users, u) })
	}
	wg.Wait()
	slices.Sort(r.Users)
	return r, errors.Join(errs...)
}

// forwardSink forwards samples to a sink set later (nil: dropped).
type forwardSink struct{ to atomic.Pointer[samples.Sink] }

func (f *forwardSink) set(s samples.Sink) { f.to.Store(&s) }

// AddSample forwards s. Each HTTP request of the hub traffic also counts
// in k6's builtin HTTP metrics (http_reqs, http_req_duration,
// http_req_failed), so that thresholds on them work on hub scenarios.
func (f *forwardSink) AddSample(s samples.Sample) {
	p := f.to.Load()
	if p == nil || *p == nil {
		return
	}
	(*p).AddSample(s)
	if s.Metric == hubapi.MetricAPIDuration || s.Metric == attendee.MetricHTTPDuration {
		for _, h := range loadhttp.FromHubRequest(s) {
			(*p).AddSample(h)
		}
	}
}
