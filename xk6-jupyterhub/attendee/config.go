package attendee

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Phase is one timed step of an attendee's session.
type Phase string

// The phases, in the order of a workshop attendee's session.
const (
	PhaseLogin          Phase = "login"
	PhaseSpawn          Phase = "spawn"
	PhaseOAuth          Phase = "oauth"
	PhaseLabLoad        Phase = "lab_load"
	PhaseListContents   Phase = "list_contents"
	PhaseOpenNotebook   Phase = "open_notebook"
	PhaseSaveNotebook   Phase = "save_notebook"
	PhaseStartKernel    Phase = "start_kernel"
	PhaseConnectKernel  Phase = "connect_kernel"
	PhaseExecute        Phase = "execute"
	PhaseShutdownKernel Phase = "shutdown_kernel"
	PhaseStopServer     Phase = "stop_server"
	PhaseLogout         Phase = "logout"
)

// Phases lists every phase in session order.
var Phases = []Phase{PhaseLogin, PhaseSpawn, PhaseOAuth, PhaseLabLoad, PhaseListContents, PhaseOpenNotebook,
	PhaseSaveNotebook, PhaseStartKernel, PhaseConnectKernel, PhaseExecute, PhaseShutdownKernel, PhaseStopServer, PhaseLogout}

// DefaultPhaseTimeouts bound each phase when Config.PhaseTimeouts has no entry.
var DefaultPhaseTimeouts = map[Phase]time.Duration{
	PhaseLogin:          30 * time.Second,
	PhaseSpawn:          5 * time.Minute, // image pulls and node scale-ups take minutes on real hubs
	PhaseOAuth:          30 * time.Second,
	PhaseLabLoad:        60 * time.Second,
	PhaseListContents:   30 * time.Second,
	PhaseOpenNotebook:   30 * time.Second,
	PhaseSaveNotebook:   30 * time.Second,
	PhaseStartKernel:    60 * time.Second,
	PhaseConnectKernel:  30 * time.Second,
	PhaseExecute:        60 * time.Second,
	PhaseShutdownKernel: 30 * time.Second,
	PhaseStopServer:     2 * time.Minute,
	PhaseLogout:         30 * time.Second,
}

// SpawnMode selects how the attendee starts its server.
type SpawnMode int

const (
	// SpawnBrowser: GET /hub/spawn/:name/:server, the spawn-pending page and
	// its progress event stream, until the hub redirects to /user/:name/:server/.
	SpawnBrowser SpawnMode = iota
	// SpawnAPI: the attendee makes itself an API token through the hub (with
	// its cookies), POSTs …/servers/:server with it and follows the progress
	// stream, as JupyterLab's hub extension or a script would.
	SpawnAPI
)

// Config configures one attendee. Password is never printed: Config
// implements fmt.Formatter, String and GoString with it redacted.
type Config struct {
	// HubURL is the hub's public URL, e.g. http://127.0.0.1:8000.
	HubURL   string
	Username string
	Password string
	// Server is the named server to use; "" is the default server.
	Server string
	// InsecureSkipVerify disables TLS verification (default: verified).
	InsecureSkipVerify bool
	Sink               samples.Sink // nil: discard
	// PhaseTimeouts override DefaultPhaseTimeouts per phase.
	PhaseTimeouts map[Phase]time.Duration
	// KernelProtocol: kernel.ProtocolAuto (default, offers the v1
	// subprotocol), kernel.ProtocolV1 or kernel.ProtocolLegacy.
	KernelProtocol kernel.Protocol
	// KernelName is the kernelspec to start (default "python3").
	KernelName string
	// UserAgent is sent with every request and must stay the same for the
	// whole session (the hub's anonymous xsrf id hashes IP and User-Agent).
	// Default: a browser-like string with a stable id derived from Username.
	UserAgent string
	// Rand drives session ids and retry jitter; nil seeds from the clock.
	Rand rand.Source
	// Spawn selects the browser way (default) or the API way.
	Spawn SpawnMode
	// RemoveServer deletes the named server's spawner row on StopServer.
	RemoveServer bool
	// LabPath is the page LabLoad fetches under the server URL (default "lab").
	LabPath string
	// NotebookPath is the notebook saved and opened (default "hubcap-<id>.ipynb").
	NotebookPath string
	// Retry bounds HTTP retries and 429 waits (hubapi defaults).
	Retry hubapi.RetryPolicy
	// RequestTimeout bounds one HTTP request (default 30 s; streams use the
	// phase timeout).
	RequestTimeout time.Duration
	// PollInterval is the first interval of spawn-pending and stop polling
	// (default 500 ms, growing to 3 s).
	PollInterval time.Duration
	// RoundTripper, if set, is shared HTTP connection pooling (cookies stay
	// per attendee). Default: a transport per attendee.
	RoundTripper http.RoundTripper
	// Tags are added to every sample (e.g. the VU id).
	Tags map[string]string
	// Now and Sleep replace the clock in tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// String describes the config with the password redacted.
func (c Config) String() string {
	pw := "<none>"
	if c.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("attendee.Config{HubURL:%q Username:%q Password:%s Server:%q Spawn:%d KernelProtocol:%s UserAgent:%q}",
		c.HubURL, c.Username, pw, c.Server, c.Spawn, c.KernelProtocol, c.UserAgent)
}

// GoString is String.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// Validate reports every problem at once.
func (c Config) Validate() []error {
	var errs []error
	if u, err := url.Parse(c.HubURL); c.HubURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("HubURL must be the hub's public http(s) URL, e.g. http://127.0.0.1:8000"))
	} else if u.RawQuery != "" || u.User != nil || strings.Contains(u.Path, "/hub") || strings.Contains(u.Path, "/user/") {
		errs = append(errs, fmt.Errorf("HubURL %q must be the public URL without /hub, /user/…, credentials or query", u.Redacted()))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("Username is empty"))
	}
	if strings.ContainsAny(c.Server, "/?#") {
		errs = append(errs, fmt.Errorf("server name %q must not contain '/', '?' or '#'", c.Server))
	}
	for p, d := range c.PhaseTimeouts {
		if _, ok := DefaultPhaseTimeouts[p]; !ok {
			errs = append(errs, fmt.Errorf("PhaseTimeouts: unknown phase %q", p))
		} else if d < 0 {
			errs = append(errs, fmt.Errorf("PhaseTimeouts[%s] is negative", p))
		}
	}
	if c.Spawn != SpawnBrowser && c.Spawn != SpawnAPI {
		errs = append(errs, fmt.Errorf("Spawn mode %d unknown", c.Spawn))
	}
	if strings.HasPrefix(c.NotebookPath, "/") || strings.Contains(c.NotebookPath, "..") {
		errs = append(errs, fmt.Errorf("NotebookPath %q must be relative, without ..", c.NotebookPath))
	}
	return errs
}

// DefaultUserAgent is the browser-like User-Agent of an attendee: stable
// for a username, different between attendees.
func DefaultUserAgent(username string) string {
	h := fnv.New32a()
	h.Write([]byte(username))
	return fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) hubcap-attendee/0.1 (id %08x)", h.Sum32())
}

func (c Config) timeout(p Phase) time.Duration {
	if d, ok := c.PhaseTimeouts[p]; ok {
		return d
	}
	return DefaultPhaseTimeouts[p]
}
