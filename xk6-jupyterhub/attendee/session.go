package attendee

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/hubapi"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Errors of a session's flow. Phase errors wrap one of these, a
// *hubapi.APIError (the HTTP answer), a kernel error, or the context's error.
var (
	// ErrLoginFailed: the hub refused the username or password.
	ErrLoginFailed = errors.New("login failed")
	// ErrXSRF: the hub rejected the request's xsrf token.
	ErrXSRF = errors.New("xsrf check failed")
	// ErrNotLoggedIn: the hub sent the attendee to the login page.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrSpawnFailed is hubapi.ErrSpawnFailed.
	ErrSpawnFailed = hubapi.ErrSpawnFailed
	// ErrOAuth: the redirect chain to the single-user server did not end
	// with its cookie.
	ErrOAuth = errors.New("oauth login to the single-user server failed")
	// ErrRedirect: a redirect left the hub's host, looped, or had no Location.
	ErrRedirect = errors.New("bad redirect")
	// ErrNoKernel: a kernel call came before StartKernel / ConnectKernel.
	ErrNoKernel = errors.New("no kernel")
	// ErrCheck: executed code did not print what was expected.
	ErrCheck = errors.New("check failed")
)

// PhaseError is the error of a failed phase.
type PhaseError struct {
	Attendee string
	Phase    Phase
	Err      error
}

// Error returns "attendee alice: login: …".
func (e *PhaseError) Error() string {
	return fmt.Sprintf("attendee %s: %s: %v", e.Attendee, e.Phase, e.Err)
}

// Unwrap returns the cause.
func (e *PhaseError) Unwrap() error { return e.Err }

// Session is one browser-like attendee: its own cookie jar, stable
// User-Agent, and the state of its server and kernel. A session is driven by
// one goroutine (as a k6 VU drives one); only Close may be called from another.
type Session struct {
	cfg  Config
	t    *hubapi.Transport
	jar  *cookiejar.Jar
	base *url.URL // public URL, without trailing slash
	rnd  *rand.Rand

	userEsc, serverEsc string
	nbPath             string
	token              string // API-mode token (a secret; scrubbed from errors)
	next               *url.URL

	version *hubapi.HubVersion

	kernelID, sessionID string
	connMu              sync.Mutex
	conn                *kernel.Conn
}

// String describes the session without secrets.
func (s *Session) String() string {
	return fmt.Sprintf("attendee.Session{%s server=%q}", s.cfg.Username, s.cfg.Server)
}

// GoString is String.
func (s *Session) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Session) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// New validates cfg and builds a session (no request is made).
func New(cfg Config) (*Session, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("attendee: %w", errors.Join(errs...))
	}
	base, _ := url.Parse(strings.TrimRight(cfg.HubURL, "/"))
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent(cfg.Username)
	}
	if cfg.KernelName == "" {
		cfg.KernelName = "python3"
	}
	if cfg.LabPath == "" {
		cfg.LabPath = "lab"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.Sink == nil {
		cfg.Sink = samples.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	src := cfg.Rand
	if src == nil {
		src = rand.NewPCG(uint64(time.Now().UnixNano()), 0xda942042e4dd58b5)
	}
	rnd := rand.New(src)
	jar, err := cookiejar.New(nil) // RFC 6265 domain and path rules
	if err != nil {
		return nil, err
	}
	var hc *http.Client
	if cfg.RoundTripper != nil {
		hc = &http.Client{Transport: cfg.RoundTripper, Jar: jar}
	} else {
		hc = hubapi.NewHTTPClient(cfg.InsecureSkipVerify, jar)
	}
	tags := map[string]string{}
	for k, v := range cfg.Tags {
		tags[k] = v
	}
	t := hubapi.NewTransport(hubapi.TransportOptions{
		HTTP:           hc,
		Sink:           cfg.Sink,
		UserAgent:      cfg.UserAgent,
		Timeout:        cfg.RequestTimeout,
		Retry:          cfg.Retry,
		Tags:           tags,
		DurationMetric: MetricHTTPDuration,
		Secrets:        []string{cfg.Password},
		Rand:           rand.NewPCG(rnd.Uint64(), rnd.Uint64()),
		Now:            cfg.Now,
		Sleep:          cfg.Sleep,
		NoErrorSamples: true,
	})
	s := &Session{cfg: cfg, t: t, jar: jar, base: base, rnd: rnd,
		userEsc: escapePath(cfg.Username), serverEsc: escapePath(cfg.Server)}
	s.nbPath = cfg.NotebookPath
	if s.nbPath == "" {
		s.nbPath = fmt.Sprintf("hubcap-%08x.ipynb", rnd.Uint32())
	}
	return s, nil
}

// Username returns the attendee's name.
func (s *Session) Username() string { return s.cfg.Username }

// Server returns the server name ("" for the default server).
func (s *Session) Server() string { return s.cfg.Server }

// NotebookPath returns the notebook the session saves and opens.
func (s *Session) NotebookPath() string { return s.nbPath }

// KernelID returns the started kernel's id ("" before StartKernel).
func (s *Session) KernelID() string { return s.kernelID }

// Jar returns the session's cookie jar.
func (s *Session) Jar() http.CookieJar { return s.jar }

// escapePath escapes a name as JupyterHub's url_escape_path does
// (urllib.parse.quote with safe="@~"): everything but ASCII letters, digits,
// "_.-~" and "@" is percent-encoded.
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~@", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// at builds a URL under the public base from an already escaped path.
func (s *Session) at(escapedPath string, query url.Values) *url.URL {
	u := *s.base
	raw := strings.TrimRight(s.base.EscapedPath(), "/") + escapedPath
	p, err := url.PathUnescape(raw)
	if err != nil {
		p = raw
	}
	u.Path, u.RawPath = p, raw
	if query != nil {
		u.RawQuery = query.Encode()
	}
	return &u
}

// hubURL is /hub/<p> (p escaped).
func (s *Session) hubURL(p string, q url.Values) *url.URL { return s.at("/hub/"+p, q) }

// serverPrefix is the escaped /user/<name>/[<server>/] path.
func (s *Session) serverPrefix() string {
	p := "/user/" + s.userEsc + "/"
	if s.cfg.Server != "" {
		p += s.serverEsc + "/"
	}
	return p
}

// serverURL is a URL under the single-user server (p escaped).
func (s *Session) serverURL(p string, q url.Values) *url.URL { return s.at(s.serverPrefix()+p, q) }

// serverAPIPath is /hub/api/users/<name>/server[s/<server>] plus extra.
func (s *Session) serverAPIPath(extra string) string {
	p := "api/users/" + s.userEsc + "/server"
	if s.cfg.Server != "" {
		p += "s/" + s.serverEsc
	}
	return p + extra
}

// cookie returns the value of the named cookie the jar sends to u (the
// most specific path first), "" if none.
func (s *Session) cookie(u *url.URL, name string) string {
	for _, c := range s.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (s *Session) hubXSRF() string    { return s.cookie(s.hubURL("", nil), "_xsrf") }
func (s *Session) serverXSRF() string { return s.cookie(s.serverURL("", nil), "_xsrf") }

// template turns a request path into the endpoint tag: the attendee's name
// and server become :name and :server, contents paths :path, session and
// kernel ids :id. Queries are never part of it.
func (s *Session) template(u *url.URL) string {
	p := u.EscapedPath()
	if bp := strings.TrimRight(s.base.EscapedPath(), "/"); bp != "" {
		p = strings.TrimPrefix(p, bp)
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		prev := ""
		if len(out) > 0 {
			prev = out[len(out)-1]
		}
		switch {
		case seg == s.userEsc && seg != "" && (prev == "user" || prev == "users" || prev == "spawn" || prev == "spawn-pending"):
			seg = ":name"
		case seg == s.serverEsc && seg != "" && (prev == ":name" || prev == "servers"):
			seg = ":server"
		case prev == "contents" && i >= 2 && (out[len(out)-2] == "api"):
			out = append(out, ":path")
			i = len(segs)
			continue
		case (prev == "sessions" || prev == "kernels") && seg != "" && i >= 2 && out[len(out)-2] == "api":
			seg = ":id"
		}
		out = append(out, seg)
	}
	return strings.Join(out, "/")
}

// browserExpect accepts every answer a browser flow inspects itself, except
// 429 and retryable 5xx, which the transport waits out or retries first (a
// user reloading the page after the hub's suggested wait).
func browserExpect(status int) bool {
	return status != http.StatusTooManyRequests && (status < 500 || status == http.StatusNotImplemented)
}

// reqKind selects the browser headers of a request.
type reqKind int

const (
	kindPage   reqKind = iota // a navigation: Sec-Fetch-Mode navigate
	kindXHR                   // fetch from a page: cors, X-XSRFToken
	kindStream                // EventSource
)

type call struct {
	method  string
	u       *url.URL
	kind    reqKind
	body    []byte
	ctype   string
	token   bool // send the API-mode token instead of relying on cookies
	expect  func(int) bool
	retry   hubapi.RetryMode
	stream  bool
	phase   Phase
	timeout time.Duration
}

// send performs one request with browser-like headers.
func (s *Session) send(ctx context.Context, c call) (*hubapi.Response, *hubapi.Request, error) {
	h := http.Header{}
	origin := s.base.Scheme + "://" + s.base.Host
	switch c.kind {
	case kindPage:
		h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		h.Set("Sec-Fetch-Mode", "navigate")
		h.Set("Sec-Fetch-Dest", "document")
		h.Set("Sec-Fetch-Site", "same-origin")
	case kindXHR, kindStream:
		if c.kind == kindStream {
			h.Set("Accept", "text/event-stream")
		} else {
			h.Set("Accept", "application/json")
		}
		h.Set("Sec-Fetch-Mode", "cors")
		h.Set("Sec-Fetch-Dest", "empty")
		h.Set("Sec-Fetch-Site", "same-origin")
		var x string
		if strings.HasPrefix(c.u.EscapedPath(), strings.TrimRight(s.base.EscapedPath(), "/")+"/hub/") {
			x = s.hubXSRF()
		} else {
			x = s.serverXSRF()
		}
		if x != "" && !c.token {
			h.Set("X-XSRFToken", x)
		}
	}
	if c.method != http.MethodGet && c.method != http.MethodHead {
		h.Set("Origin", origin)
	}
	if c.token && s.token != "" {
		h.Set("Authorization", "token "+s.token)
	}
	metric := MetricHTTPDuration
	if strings.Contains(c.u.EscapedPath(), "/hub/api/") {
		metric = hubapi.MetricAPIDuration
	}
	req := &hubapi.Request{
		Method: c.method, URL: c.u.String(), Endpoint: s.template(c.u), Phase: string(c.phase),
		Header: h, Body: c.body, ContentType: c.ctype, Retry: c.retry, Stream: c.stream,
		Expect: c.expect, Metric: metric, Timeout: c.timeout,
	}
	resp, err := s.t.Do(ctx, req)
	return resp, req, err
}

// sameHost reports whether u points at the hub's public host.
func (s *Session) sameHost(u *url.URL) bool {
	return u != nil && strings.EqualFold(u.Scheme, s.base.Scheme) && strings.EqualFold(u.Host, s.base.Host)
}

// redactedPath is a URL for messages: path only.
func redactedPath(u *url.URL) string {
	if u == nil {
		return "<none>"
	}
	return u.EscapedPath()
}

// phase times f under the phase's timeout and emits its samples.
func (s *Session) phase(ctx context.Context, p Phase, f func(ctx context.Context) error) error {
	if d := s.cfg.timeout(p); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	start := s.cfg.Now()
	err := f(ctx)
	d := s.cfg.Now().Sub(start)
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.t.Emit(PhaseMetric[p], float64(d)/float64(time.Millisecond), map[string]string{"result": result})
	if err == nil {
		return nil
	}
	status, kind := classify(err)
	s.t.Emit(MetricErrors, 1, map[string]string{"phase": string(p), "status": status, "error": kind})
	return &PhaseError{Attendee: s.cfg.Username, Phase: p, Err: err}
}

// classify gives an error's status tag and kind tag.
func classify(err error) (status, kind string) {
	var ae *hubapi.APIError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		return strconv.Itoa(ae.Status), "http"
	case errors.Is(err, context.DeadlineExceeded):
		return "0", "timeout"
	case errors.Is(err, kernel.ErrExecution):
		return "0", "kernel"
	case errors.Is(err, ErrCheck):
		return "0", "check"
	case errors.Is(err, kernel.ErrConnectionLost), errors.Is(err, kernel.ErrHandshake), errors.Is(err, kernel.ErrProtocol),
		errors.Is(err, kernel.ErrNoReply), errors.Is(err, kernel.ErrKernelRestarted):
		return "0", "websocket"
	case errors.As(err, &ne):
		return "0", "network"
	case errors.Is(err, context.Canceled):
		return "0", "canceled"
	}
	return "0", "flow"
}

// Close closes the kernel websocket, if any. It makes no request.
func (s *Session) Close() error {
	s.connMu.Lock()
	c := s.conn
	s.conn = nil
	s.connMu.Unlock()
	if c != nil {
		return c.Close()
	}
	return nil
}

func (s *Session) sleep(ctx context.Context, d time.Duration) error { return s.t.Sleep(ctx, d) }
