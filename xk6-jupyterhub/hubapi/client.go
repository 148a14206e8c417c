package hubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Config configures the admin client. The Token is never printed: Config
// implements fmt.Formatter, String and GoString with the token redacted.
type Config struct {
	// BaseURL is the hub's public URL (the proxy), e.g. http://127.0.0.1:8000,
	// including JupyterHub's base_url if set (http://host/jhub). Not …/hub/api.
	BaseURL string
	// Token is a service or admin API token, sent as "Authorization: token …".
	Token string
	// InsecureSkipVerify disables TLS verification (default false: verified).
	InsecureSkipVerify bool
	// Timeout bounds one attempt of a call (default 30 s).
	Timeout time.Duration
	// MaxRetries bounds retries after 5xx and connection errors (default 3,
	// negative: none). Retry refines the rest of the policy.
	MaxRetries int
	Retry      RetryPolicy
	Sink       samples.Sink // nil: discard
	// NamePrefix guards removals: DeleteUser and StopServer(remove) refuse
	// users (and servers) whose name does not start with it. Empty refuses all
	// removals.
	NamePrefix string
	UserAgent  string       // "": DefaultUserAgent
	HTTPClient *http.Client // nil: built; redirects are never followed
	// Rand is the jitter source; nil seeds from the clock.
	Rand rand.Source
	// Tags are added to every sample.
	Tags map[string]string
	// PollInterval is the first interval of WaitReady's and StopServer's
	// polling (default 250 ms, growing to 2 s).
	PollInterval time.Duration
	// Now and Sleep replace the clock in tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// String returns a description with the token redacted.
func (c Config) String() string {
	tok := "<none>"
	if c.Token != "" {
		tok = "[redacted]"
	}
	return fmt.Sprintf("hubapi.Config{BaseURL:%q Token:%s InsecureSkipVerify:%t Timeout:%s MaxRetries:%d NamePrefix:%q UserAgent:%q}",
		c.BaseURL, tok, c.InsecureSkipVerify, c.Timeout, c.MaxRetries, c.NamePrefix, c.UserAgent)
}

// GoString is String: %#v never shows the token.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so no verb reveals the token.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// Client is the admin REST client. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    *url.URL
	t       *Transport
	tracker *Tracker

	verMu   sync.Mutex
	version *HubVersion
}

// String describes the client without its token.
func (c *Client) String() string { return "hubapi.Client{" + c.cfg.String() + "}" }

// GoString is String.
func (c *Client) GoString() string { return c.String() }

// Format prints String for every verb.
func (c *Client) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// New validates cfg and builds a client. It makes no request; call Version
// to check that BaseURL is a JupyterHub.
func New(cfg Config) (*Client, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("hubapi: %w", errors.Join(errs...))
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	retry := cfg.Retry
	if cfg.MaxRetries != 0 {
		retry.MaxRetries = cfg.MaxRetries
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	t := NewTransport(TransportOptions{
		HTTP:               cfg.HTTPClient,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Sink:               cfg.Sink,
		UserAgent:          cfg.UserAgent,
		Timeout:            cfg.Timeout,
		Retry:              retry,
		Tags:               cfg.Tags,
		Secrets:            []string{cfg.Token},
		Rand:               cfg.Rand,
		Now:                cfg.Now,
		Sleep:              cfg.Sleep,
	})
	return &Client{cfg: cfg, base: base, t: t, tracker: &Tracker{}}, nil
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() []error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is empty; pass the hub's public URL, e.g. http://127.0.0.1:8000"))
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BaseURL %q is not an http(s) URL; pass the hub's public URL, e.g. http://127.0.0.1:8000", redactURL(c.BaseURL)))
	} else {
		if u.RawQuery != "" || u.User != nil {
			errs = append(errs, errors.New("BaseURL must not carry a query or credentials; pass the token in Config.Token"))
		}
		if strings.Contains(u.Path, "/hub/api") || strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/hub") {
			errs = append(errs, fmt.Errorf("BaseURL %q points inside the hub; pass the public URL without /hub or /hub/api", u.Redacted()))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("Timeout is negative"))
	}
	return errs
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		u.RawQuery = ""
		return u.Redacted()
	}
	return "<unparsable>"
}

// Transport returns the client's HTTP plumbing (for sharing with attendees).
func (c *Client) Transport() *Transport { return c.t }

// Tracker returns the record of users and servers this client created.
func (c *Client) Tracker() *Tracker { return c.tracker }

// BaseURL returns the hub's public URL without trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// apiURL joins escaped path segments under /hub/api/.
func (c *Client) apiURL(query url.Values, segments ...string) string {
	u := *c.base
	p := strings.TrimRight(u.Path, "/") + "/hub/api/"
	raw := p
	for i, s := range segments {
		if i > 0 {
			p += "/"
			raw += "/"
		}
		p += s
		raw += url.PathEscape(s)
	}
	u.Path, u.RawPath = p, raw
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return u.String()
}

func (c *Client) authHeader(h http.Header) http.Header {
	if h == nil {
		h = http.Header{}
	}
	if c.cfg.Token != "" {
		h.Set("Authorization", "token "+c.cfg.Token)
	}
	if h.Get("Accept") == "" {
		h.Set("Accept", "application/json")
	}
	return h
}

// call sends an authenticated JSON request and decodes a JSON answer into out
// (when out is not nil).
func (c *Client) call(ctx context.Context, req *Request, in, out any) (*Response, error) {
	req.Header = c.authHeader(req.Header)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("hubapi: encode %s body: %w", req.Endpoint, err)
		}
		req.Body = b
	}
	resp, err := c.t.Do(ctx, req)
	if err != nil {
		return resp, err
	}
	if out != nil && resp.Body != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp, fmt.Errorf("%s %s: %w: %v", req.Method, req.Endpoint, ErrBadResponse, err)
		}
	}
	return resp, nil
}
