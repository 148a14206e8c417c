package fleet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// Sentinel errors.
var (
	// ErrConfig is wrapped by the errors of Config.Validate.
	ErrConfig = errors.New("fleet: invalid config")
	// ErrStateFile is wrapped by errors reading or writing Config.StateFile.
	ErrStateFile = errors.New("fleet: state file")
	// ErrRegistration is wrapped by Register's errors about a bad registration.
	ErrRegistration = errors.New("fleet: invalid registration")
	// ErrFleetFull is returned by Register when Config.MaxServers are registered.
	ErrFleetFull = errors.New("fleet: fleet is full")
)

// ExecTime is a distribution of durations: uniform in
// [Mean-Jitter, Mean+Jitter], clamped at 0. The zero value is always 0.
type ExecTime struct {
	Mean   time.Duration
	Jitter time.Duration
}

// Sample maps u in [0, 1) to a duration of the distribution:
// max(0, Mean + Jitter*(2u-1)). It is pure; the server draws u from
// Config.Rand.
func (e ExecTime) Sample(u float64) time.Duration {
	d := e.Mean + time.Duration(float64(e.Jitter)*(2*u-1))
	if d < 0 {
		return 0
	}
	return d
}

// Config configures a fleet. Zero fields take the defaults noted.
type Config struct {
	// Secret is the bearer token of the control API (/_fleet/); the hub
	// gets it through HUBCAP_FLEET_SECRET. Required.
	Secret string
	// URL is the base URL the hub and the proxy use to reach the fleet,
	// returned by PUT /_fleet/servers/...; "" = http://<Host of the PUT>.
	URL string
	// ExecTime is the compute time of every execute_request, added to any
	// time.sleep the cell asks for.
	ExecTime ExecTime
	// KernelStartTime delays POST /api/kernels and new sessions, as a
	// kernel process start would.
	KernelStartTime ExecTime
	// Rand is the source of the ExecTime samples. nil = a PCG seeded from
	// the clock.
	Rand mrand.Source
	// LabPageBytes is the size of the /lab and /tree pages. 0 = 64 KiB.
	LabPageBytes int
	// StateFile, when set, keeps registrations across fleet restarts (an
	// append-only JSON-lines journal, compacted on open; it holds the
	// servers' API tokens, so it is created with mode 0600).
	StateFile string
	// Logger receives operational messages (never tokens). nil = discard.
	Logger *slog.Logger
	// HubClient makes the requests to the hub (token checks, OAuth token
	// exchange). nil = a client with a 10 s timeout.
	HubClient *http.Client
	// AuthCacheTTL is how long a hub answer about a token is cached, as
	// HubAuth.cache_max_age. 0 = 300 s.
	AuthCacheTTL time.Duration
	// AuthCacheSize bounds the cached hub answers (LRU). 0 = 50,000.
	AuthCacheSize int
	// MaxServers bounds the registered servers. 0 = 100,000.
	MaxServers int
	// MaxKernelsPerServer bounds the kernels of one server. 0 = 16.
	MaxKernelsPerServer int
	// MaxBodyBytes bounds request bodies (contents saves). 0 = 8 MiB.
	MaxBodyBytes int64
	// MaxContentsBytes bounds the bytes one server's files may hold. 0 = 32 MiB.
	MaxContentsBytes int64
	// MaxMessageBytes bounds one websocket message from a client. 0 = 1 MiB.
	MaxMessageBytes int64
	// MaxSleep caps time.sleep in cells. 0 = 60 s.
	MaxSleep time.Duration
	// ActivityInterval is how often each server reports its last activity
	// to the hub (JUPYTERHUB_ACTIVITY_INTERVAL, ±10 % jitter; the first
	// report follows the registration). 0 = 300 s; negative = never.
	ActivityInterval time.Duration
}

// Validate reports every problem with c at once.
func (c Config) Validate() []error {
	var errs []error
	if c.Secret == "" {
		errs = append(errs, fmt.Errorf("%w: Secret is empty; generate one and pass it to the hub as %s", ErrConfig, EnvFleetSecret))
	}
	if c.URL != "" && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, fmt.Errorf("%w: URL %q must start with http:// or https://", ErrConfig, c.URL))
	}
	for name, e := range map[string]ExecTime{"ExecTime": c.ExecTime, "KernelStartTime": c.KernelStartTime} {
		if e.Mean < 0 || e.Jitter < 0 {
			errs = append(errs, fmt.Errorf("%w: %s has a negative mean or jitter", ErrConfig, name))
		}
	}
	for name, v := range map[string]int64{
		"LabPageBytes": int64(c.LabPageBytes), "AuthCacheSize": int64(c.AuthCacheSize),
		"MaxServers": int64(c.MaxServers), "MaxKernelsPerServer": int64(c.MaxKernelsPerServer),
		"MaxBodyBytes": c.MaxBodyBytes, "MaxContentsBytes": c.MaxContentsBytes,
		"MaxMessageBytes": c.MaxMessageBytes, "AuthCacheTTL": int64(c.AuthCacheTTL), "MaxSleep": int64(c.MaxSleep),
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s is negative", ErrConfig, name))
		}
	}
	if c.LabPageBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("%w: LabPageBytes %d is over 64 MiB", ErrConfig, c.LabPageBytes))
	}
	return errs
}

func (c *Config) setDefaults() {
	if c.LabPageBytes <= 0 {
		c.LabPageBytes = 64 << 10
	}
	if c.LabPageBytes > 64<<20 {
		c.LabPageBytes = 64 << 20
	}
	if c.AuthCacheTTL <= 0 {
		c.AuthCacheTTL = 300 * time.Second
	}
	if c.AuthCacheSize <= 0 {
		c.AuthCacheSize = 50000
	}
	if c.MaxServers <= 0 {
		c.MaxServers = 100000
	}
	if c.MaxKernelsPerServer <= 0 {
		c.MaxKernelsPerServer = 16
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 8 << 20
	}
	if c.MaxContentsBytes <= 0 {
		c.MaxContentsBytes = 32 << 20
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.MaxSleep <= 0 {
		c.MaxSleep = 60 * time.Second
	}
	if c.ActivityInterval == 0 {
		c.ActivityInterval = 300 * time.Second
	}
	c.URL = strings.TrimRight(c.URL, "/")
}

// Server is the fleet: the control API and every registered single-user
// server. Create it with New or Open; it is safe for concurrent use.
type Server struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	cookieKey []byte
	hub       *http.Client
	page      *labPage
	upgrader  websocket.Upgrader

	rngMu sync.Mutex
	rng   *mrand.Rand

	mu       sync.RWMutex
	servers  map[string]*instance // by key(user, server)
	prefixes map[string]*instance // by escaped base_url
	gen      atomic.Uint64
	journal  *journal

	auth     *ttlCache[*identity]
	states   *ttlCache[oauthState]
	activity *activity // nil when reports are off

	lifeMu  sync.Mutex
	closed  bool
	https   map[*http.Server]struct{}
	conns   map[*wsConn]struct{}
	connsWG sync.WaitGroup
}

// New returns a fleet for cfg with defaults applied. When cfg.StateFile
// cannot be read or written, New logs the problem and runs without
// persistence; use Open to get the error instead.
func New(cfg Config) *Server {
	s, err := Open(cfg)
	if err != nil {
		s.log.Error("fleet: running without persistence", "err", err)
	}
	return s
}

// Open is New that reports a state file problem (wrapping ErrStateFile).
// The returned Server is usable either way; on error it has no
// persistence.
func Open(cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      time.Now,
		servers:  make(map[string]*instance),
		prefixes: make(map[string]*instance),
		https:    make(map[*http.Server]struct{}),
		conns:    make(map[*wsConn]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.cookieKey = make([]byte, 32)
	if _, err := rand.Read(s.cookieKey); err != nil {
		panic("fleet: crypto/rand failed: " + err.Error())
	}
	s.hub = cfg.HubClient
	if s.hub == nil {
		s.hub = &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil, // the hub is local; never go through an HTTP proxy
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     60 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	src := cfg.Rand
	if src == nil {
		src = mrand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15)
	}
	s.rng = mrand.New(src)
	s.auth = newTTLCache[*identity](cfg.AuthCacheSize, cfg.AuthCacheTTL)
	s.states = newTTLCache[oauthState](maxOAuthStates, oauthStateTTL)
	s.page = newLabPage(cfg.LabPageBytes)
	s.upgrader = websocket.Upgrader{
		Subprotocols:     []string{kernel.SubprotocolV1},
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
	}
	if cfg.ActivityInterval > 0 {
		s.startActivity(cfg.ActivityInterval)
	}
	var err error
	if cfg.StateFile != "" {
		err = s.openJournal(cfg.StateFile)
	}
	return s, err
}

// sample draws from e with the server's random source.
func (s *Server) sample(e ExecTime) time.Duration {
	if e.Jitter == 0 {
		return e.Sample(0.5)
	}
	s.rngMu.Lock()
	u := s.rng.Float64()
	s.rngMu.Unlock()
	return e.Sample(u)
}

// Handler returns the fleet's HTTP handler: the control API under /_fleet/
// and every registered server under its base URL.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Serve serves the fleet on ln until Close. Like http.Server.Serve it
// returns http.ErrServerClosed after Close.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    256 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.https[hs] = struct{}{}
	s.lifeMu.Unlock()
	return hs.Serve(ln)
}

// ListenAndServe listens on addr and serves until ctx is done, then closes
// the fleet. It returns nil when ctx ended it.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fleet: listen on %s: %w", addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		s.Close()
		<-errc
		return nil
	}
}

// Close stops every listener started by Serve, closes every kernel
// websocket, waits for their goroutines and closes the state file.
// Registrations stay in the state file.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return nil
	}
	s.closed = true
	hss := make([]*http.Server, 0, len(s.https))
	for hs := range s.https {
		hss = append(hss, hs)
	}
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.lifeMu.Unlock()
	var first error
	for _, hs := range hss {
		if err := hs.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, c := range conns {
		c.close()
	}
	s.connsWG.Wait()
	if s.activity != nil {
		s.activity.stop()
	}
	s.mu.Lock()
	if s.journal != nil {
		if err := s.journal.close(); err != nil && first == nil {
			first = err
		}
		s.journal = nil
	}
	s.mu.Unlock()
	return first
}

// maxPathBytes bounds request paths (longer ones get 414).
const maxPathBytes = 8 << 10

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	if len(p) > maxPathBytes {
		writeJSONError(w, http.StatusRequestURITooLong, "request path too long")
		return
	}
	if strings.HasPrefix(p, "/_fleet/") || p == "/_fleet" {
		s.serveControl(w, r, p)
		return
	}
	inst, rest, exact := s.lookup(p)
	if inst == nil {
		if strings.Contains(p, "/user/") {
			// what the proxy answers when the server is not running
			writeJSONError(w, http.StatusServiceUnavailable, "no single-user server is registered at this URL")
			return
		}
		writeJSONError(w, http.StatusNotFound, "Not Found")
		return
	}
	if exact {
		http.Redirect(w, r, withQuery(inst.reg.BaseURL, r.URL.RawQuery), http.StatusFound)
		return
	}
	s.serveInstance(w, r, inst, rest)
}

// lookup finds the instance with the longest base URL that prefixes p
// (escaped path) and returns the rest of the path after it. exact is set
// when p is a base URL without its trailing slash.
func (s *Server) lookup(p string) (inst *instance, rest string, exact bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.prefixes) == 0 {
		return nil, "", false
	}
	if !strings.HasSuffix(p, "/") {
		// /user/alice/s1 is server s1's, not /user/alice/'s (as the proxy routes it)
		if inst := s.prefixes[p+"/"]; inst != nil {
			return inst, "", true
		}
	}
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != '/' {
			continue
		}
		if inst := s.prefixes[p[:i+1]]; inst != nil {
			return inst, p[i+1:], false
		}
	}
	return nil, "", false
}

func withQuery(u, rawQuery string) string {
	if rawQuery == "" {
		return u
	}
	return u + "?" + rawQuery
}

// trackConn registers a websocket for Close; false when the fleet is closed.
func (s *Server) trackConn(c *wsConn) bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.connsWG.Add(1)
	return true
}

func (s *Server) untrackConn(c *wsConn) {
	s.lifeMu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.connsWG.Done()
	}
	s.lifeMu.Unlock()
}
