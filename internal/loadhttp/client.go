// Package loadhttp makes the HTTP requests of load-test scripts and measures
// them the way k6's k6/http module does: one client per virtual user (its
// own connection pool and cookie jar), redirects followed hop by hop with
// one set of samples per hop, k6's timings (blocked, connecting,
// tls_handshaking, sending, waiting, receiving, duration), k6's error codes,
// expected statuses and the builtin metrics http_reqs, http_req_duration,
// http_req_* and http_req_failed with k6's system tags.
//
// It is plain Go: the k6/http JavaScript binding (internal/jshttp) converts
// values and calls it.
package loadhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// Names of k6's builtin HTTP metrics.
const (
	MetricReqs           = "http_reqs"
	MetricDuration       = "http_req_duration"
	MetricBlocked        = "http_req_blocked"
	MetricConnecting     = "http_req_connecting"
	MetricTLSHandshaking = "http_req_tls_handshaking"
	MetricSending        = "http_req_sending"
	MetricWaiting        = "http_req_waiting"
	MetricReceiving      = "http_req_receiving"
	MetricFailed         = "http_req_failed"
)

// Metrics are k6's builtin HTTP metrics; a run declares them always, so that
// thresholds on them are valid whatever the script imports.
func Metrics() []samples.Metric {
	t := func(n string) samples.Metric {
		return samples.Metric{Name: n, Kind: samples.Trend, Contains: samples.Time}
	}
	return []samples.Metric{
		{Name: MetricReqs, Kind: samples.Counter},
		t(MetricDuration), t(MetricBlocked), t(MetricConnecting), t(MetricTLSHandshaking),
		t(MetricSending), t(MetricWaiting), t(MetricReceiving),
		{Name: MetricFailed, Kind: samples.Rate},
	}
}

// DefaultUserAgent is sent when neither the options nor the request set one.
const DefaultUserAgent = "hubcap/1 (k6-compatible; https://github.com/hubcap-dev/hubcap)"

// Config is the per-run HTTP configuration (k6's http-related options).
type Config struct {
	UserAgent             string
	MaxRedirects          int // default 10; 0 follows none
	InsecureSkipTLSVerify bool
	NoConnectionReuse     bool
	DiscardResponseBodies bool
	// Hosts maps host names (or host:port) to addresses, as options.hosts.
	Hosts map[string]string
	// Batch and BatchPerHost bound http.batch's parallelism (20 and 6).
	Batch, BatchPerHost int
	// Jar is the VU's cookie jar (nil: a new one).
	Jar *Jar
	// TLSMinVersion, TLSMaxVersion and CipherSuites restrict TLS (k6's
	// tlsVersion and tlsCipherSuites); zero values keep Go's defaults.
	TLSMinVersion, TLSMaxVersion uint16
	CipherSuites                 []uint16
}

// Client is one virtual user's HTTP client.
type Client struct {
	cfg       Config
	transport *http.Transport
	jar       *Jar
	sent      atomic.Int64
	recv      atomic.Int64
	hostSems  sync.Map // host → chan struct{} for batchPerHost
}

// NewClient returns a client with its own connection pool and cookie jar.
func NewClient(cfg Config) *Client {
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	if cfg.BatchPerHost <= 0 {
		cfg.BatchPerHost = 6
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	c := &Client{cfg: cfg, jar: cfg.Jar}
	if c.jar == nil {
		c.jar = NewJar()
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	c.transport = &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if mapped, ok := c.mapHost(addr); ok {
				addr = mapped
			}
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, c: c}, nil
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: cfg.InsecureSkipTLSVerify, //nolint:gosec // options.insecureSkipTLSVerify, as k6
			MinVersion: cfg.TLSMinVersion, MaxVersion: cfg.TLSMaxVersion, CipherSuites: cfg.CipherSuites},
		// HTTP/2 forbids most cipher suites a script may choose: with
		// tlsCipherSuites, speak HTTP/1.1.
		ForceAttemptHTTP2:     len(cfg.CipherSuites) == 0,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   cfg.BatchPerHost + 4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableKeepAlives:     cfg.NoConnectionReuse,
		DisableCompression:    false,
	}
	return c
}

func (c *Client) mapHost(addr string) (string, bool) {
	if len(c.cfg.Hosts) == 0 {
		return "", false
	}
	if to, ok := c.cfg.Hosts[addr]; ok {
		return to, true
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	to, ok := c.cfg.Hosts[host]
	if !ok {
		return "", false
	}
	if _, _, err := net.SplitHostPort(to); err == nil {
		return to, true
	}
	return net.JoinHostPort(to, port), true
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// Jar returns the VU's cookie jar.
func (c *Client) Jar() *Jar { return c.jar }

// TakeData returns the bytes sent and received on the wire since the last
// call (data_sent and data_received).
func (c *Client) TakeData() (sent, received int64) { return c.sent.Swap(0), c.recv.Swap(0) }

// CloseIdle closes the client's idle connections.
func (c *Client) CloseIdle() { c.transport.CloseIdleConnections() }

type countingConn struct {
	net.Conn
	c *Client
}

func (cc *countingConn) Read(b []byte) (int, error) {
	n, err := cc.Conn.Read(b)
	cc.c.recv.Add(int64(n))
	return n, err
}

func (cc *countingConn) Write(b []byte) (int, error) {
	n, err := cc.Conn.Write(b)
	cc.c.sent.Add(int64(n))
	return n, err
}

// ResponseType says what Response.Body holds.
type ResponseType int

const (
	ResponseText   ResponseType = iota // body as text (default)
	ResponseBinary                     // body as bytes
	ResponseNone                       // body read and discarded
)

// ParseResponseType reads k6's responseType ("text", "binary", "none").
func ParseResponseType(s string) (ResponseType, error) {
	switch s {
	case "text":
		return ResponseText, nil
	case "binary":
		return ResponseBinary, nil
	case "none":
		return ResponseNone, nil
	}
	return 0, fmt.Errorf("responseType %q: use text, binary or none", s)
}

// RequestCookie is a cookie given in a request's params.
type RequestCookie struct {
	Name, Value string
	Replace     bool // replaces a jar cookie of the same name
}

// Request is one request of a script.
type Request struct {
	Method  string
	URL     string
	Header  http.Header
	Body    []byte
	HasBody bool
	// Timeout bounds the whole request (default 60s).
	Timeout time.Duration
	// Redirects is how many redirects to follow (nil: the client's).
	Redirects *int
	// ResponseType, nil: text unless discardResponseBodies.
	ResponseType *ResponseType
	// Jar is the cookie jar to use (nil: the VU's); NoJar disables cookies.
	Jar   *Jar
	NoJar bool
	// Cookies are added to the request.
	Cookies []RequestCookie
	// Auth is "", "basic" or "digest"; credentials come from the URL.
	Auth string
	// Tags are the request's tags (params.tags; "name" names the URL).
	Tags map[string]string
	// Expected decides http_req_failed and the expected_response tag; nil
	// means no response callback (neither is emitted).
	Expected *ExpectedStatuses
}

// Timings are a request's phases in milliseconds, as k6's response.timings.
type Timings struct {
	Blocked, Connecting, TLSHandshaking, Sending, Waiting, Receiving, Duration float64
}

// Cookie is a response cookie.
type Cookie struct {
	Name, Value, Domain, Path string
	HTTPOnly, Secure          bool
	MaxAge                    int
	Expires                   int64 // ms since the epoch, 0 if unset
}

// RequestInfo is what was sent (response.request).
type RequestInfo struct {
	Method  string
	URL     string
	Headers map[string][]string
	Body    []byte
	Cookies map[string][]RequestCookie
}

// Response is k6's response object in Go.
type Response struct {
	Status         int
	StatusText     string
	Proto          string
	URL            string
	Headers        map[string]string
	Body           []byte
	Type           ResponseType
	Timings        Timings
	Cookies        map[string][]Cookie
	Error          string
	ErrorCode      int
	RemoteIP       string
	RemotePort     int
	TLSVersion     string
	TLSCipherSuite string
	Request        RequestInfo
}

// Emit receives the samples of a request; the binding adds the VU's tags.
type Emit func(metric string, at time.Time, value float64, tags map[string]string)

// Do sends req, following redirects, and emits the metrics of every hop.
// Network errors do not come back as errors: they are in Response.Error and
// ErrorCode, as in k6; the error return is for requests that could not be
// built (bad method, bad URL).
func (c *Client) Do(ctx context.Context, req *Request, emit Emit) (*Response, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	u, err := url.Parse(req.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		msg := fmt.Sprintf("invalid URL %q", req.URL)
		if err != nil {
			msg = err.Error()
		}
		return &Response{Error: msg, ErrorCode: CodeInvalidURL, URL: req.URL, Headers: map[string]string{}, Cookies: map[string][]Cookie{}}, nil
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &Response{Error: fmt.Sprintf("unsupported protocol scheme %q", u.Scheme), ErrorCode: CodeInvalidURL,
			URL: req.URL, Headers: map[string]string{}, Cookies: map[string][]Cookie{}}, nil
	}
	maxRedirects := c.cfg.MaxRedirects
	if req.Redirects != nil {
		maxRedirects = *req.Redirects
	}
	rtype := ResponseText
	if c.cfg.DiscardResponseBodies {
		rtype = ResponseNone
	}
	if req.ResponseType != nil {
		rtype = *req.ResponseType
	}
	jar := c.jar
	if req.Jar != nil {
		jar = req.Jar
	}
	if req.NoJar {
		jar = nil
	}
	method := strings.ToUpper(req.Method)
	body, hasBody := req.Body, req.HasBody
	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("User-Agent") == "" && c.cfg.UserAgent != "" {
		header.Set("User-Agent", c.cfg.UserAgent)
	}
	nameTag := req.Tags["name"]
	var digestTried bool
	for hop := 0; ; hop++ {
		res, hreq, hres := c.roundTrip(ctx, method, u, header, body, hasBody, jar, req.Cookies, rtype, req.Auth)
		if hres == nil {
			c.emitHop(res, req, nameTag, emit, false)
			return res, nil
		}
		// Digest authentication: answer the challenge once; the challenge's
		// 401 is expected.
		if res.Status == http.StatusUnauthorized && req.Auth == "digest" && !digestTried && u.User != nil {
			if auth, ok := digestAuthorization(hres.Header.Get("WWW-Authenticate"), method, u, hreq.URL.RequestURI()); ok {
				c.emitHop(res, req, nameTag, emit, true)
				digestTried = true
				header = header.Clone()
				header.Set("Authorization", auth)
				continue
			}
		}
		c.emitHop(res, req, nameTag, emit, false)
		loc := hres.Header.Get("Location")
		if !isRedirect(res.Status) || loc == "" || hop >= maxRedirects {
			if isRedirect(res.Status) && loc != "" && maxRedirects > 0 && hop >= maxRedirects {
				res.Error = fmt.Sprintf("stopped after %d redirects", maxRedirects)
				res.ErrorCode = CodeGeneric
			}
			return res, nil
		}
		next, err := u.Parse(loc)
		if err != nil {
			res.Error = fmt.Sprintf("bad redirect location %q: %v", loc, err)
			res.ErrorCode = CodeInvalidURL
			return res, nil
		}
		if res.Status == 301 || res.Status == 302 || res.Status == 303 {
			if method != http.MethodHead {
				method = http.MethodGet
			}
			body, hasBody = nil, false
			header = header.Clone()
			header.Del("Content-Type")
			header.Del("Content-Length")
		}
		if next.Host != u.Host {
			header = header.Clone()
			header.Del("Authorization")
		}
		u = next
	}
}

func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// tracer collects the httptrace events of one round trip.
type tracer struct {
	mu                                           sync.Mutex
	start, getConn, gotConn, connStart, connDone time.Time
	tlsStart, tlsDone, wrote, firstByte          time.Time
	remote                                       string
}

func (t *tracer) set(dst *time.Time) {
	now := time.Now()
	t.mu.Lock()
	if dst.IsZero() {
		*dst = now
	}
	t.mu.Unlock()
}

func (t *tracer) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:      func(string) { t.set(&t.getConn) },
		ConnectStart: func(string, string) { t.set(&t.connStart) },
		ConnectDone:  func(string, string, error) { t.set(&t.connDone) },
		TLSHandshakeStart: func() {
			t.set(&t.tlsStart)
		},
		TLSHandshakeDone: func(tls.ConnectionState, error) { t.set(&t.tlsDone) },
		GotConn: func(info httptrace.GotConnInfo) {
			t.set(&t.gotConn)
			t.mu.Lock()
			if info.Conn != nil {
				t.remote = info.Conn.RemoteAddr().String()
			}
			t.mu.Unlock()
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.set(&t.wrote) },
		GotFirstResponseByte: func() { t.set(&t.firstByte) },
	}
}

func ms(a, b time.Time) float64 {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return float64(b.Sub(a)) / float64(time.Millisecond)
}

// timings computes k6's phases: blocked from the start to the connection
// (minus connecting and TLS), connecting and tls_handshaking of a new
// connection, sending to the end of the request, waiting to the first byte,
// receiving to the end of the body.
func (t *tracer) timings(end time.Time) Timings {
	t.mu.Lock()
	defer t.mu.Unlock()
	var tm Timings
	connected := t.gotConn
	if connected.IsZero() {
		connected = t.wrote
	}
	tm.Connecting = ms(t.connStart, t.connDone)
	tm.TLSHandshaking = ms(t.tlsStart, t.tlsDone)
	tm.Blocked = ms(t.start, connected) - tm.Connecting - tm.TLSHandshaking
	if tm.Blocked < 0 {
		tm.Blocked = 0
	}
	tm.Sending = ms(connected, t.wrote)
	tm.Waiting = ms(t.wrote, t.firstByte)
	tm.Receiving = ms(t.firstByte, end)
	tm.Duration = tm.Sending + tm.Waiting + tm.Receiving
	return tm
}

// roundTrip sends one request (no redirects) and reads its answer.
func (c *Client) roundTrip(ctx context.Context, method string, u *url.URL, header http.Header, body []byte, hasBody bool,
	jar *Jar, cookies []RequestCookie, rtype ResponseType, auth string) (*Response, *http.Request, *http.Response) {
	res := &Response{URL: u.String(), Headers: map[string]string{}, Cookies: map[string][]Cookie{}, Type: rtype}
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		res.Error, res.ErrorCode = err.Error(), CodeInvalidURL
		return res, nil, nil
	}
	for k, vs := range header {
		hreq.Header[k] = append([]string(nil), vs...)
	}
	if h := header.Get("Host"); h != "" {
		hreq.Host = h
	}
	if u.User != nil && auth != "digest" && hreq.Header.Get("Authorization") == "" {
		pw, _ := u.User.Password()
		hreq.SetBasicAuth(u.User.Username(), pw)
	}
	sentCookies := applyCookies(hreq, jar, cookies)
	res.Request = RequestInfo{Method: method, URL: u.String(), Headers: map[string][]string(hreq.Header.Clone()), Body: body, Cookies: sentCookies}
	tr := &tracer{start: time.Now()}
	hreq = hreq.WithContext(httptrace.WithClientTrace(ctx, tr.trace()))
	hres, err := c.transport.RoundTrip(hreq)
	if err != nil {
		end := time.Now()
		res.Timings = tr.timings(end)
		res.Error, res.ErrorCode = describe(err, ctx)
		res.Request.Headers = map[string][]string(hreq.Header.Clone())
		return res, nil, nil
	}
	var b []byte
	if rtype == ResponseNone {
		_, err = io.Copy(io.Discard, hres.Body)
	} else {
		b, err = io.ReadAll(hres.Body)
	}
	hres.Body.Close()
	end := time.Now()
	res.Timings = tr.timings(end)
	res.Status = hres.StatusCode
	res.StatusText = hres.Status
	res.Proto = hres.Proto
	res.Body = b
	for k, vs := range hres.Header {
		res.Headers[k] = strings.Join(vs, ", ")
	}
	for _, ck := range hres.Cookies() {
		res.Cookies[ck.Name] = append(res.Cookies[ck.Name], fromHTTPCookie(ck))
	}
	if jar != nil {
		jar.jar.SetCookies(u, hres.Cookies())
	}
	if host, port, err := net.SplitHostPort(tr.remote); err == nil {
		res.RemoteIP = host
		res.RemotePort, _ = strconv.Atoi(port)
	}
	if hres.TLS != nil {
		res.TLSVersion = tlsVersion(hres.TLS.Version)
		res.TLSCipherSuite = tls.CipherSuiteName(hres.TLS.CipherSuite)
	}
	if err != nil {
		res.Error, res.ErrorCode = describe(err, ctx)
	} else if res.Status >= 400 && res.Status < 600 {
		res.ErrorCode = 1000 + res.Status
	}
	return res, hreq, hres
}

// ParseTLSVersion reads k6's TLS version names (tls1.0 ... tls1.3).
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "tls1.0":
		return tls.VersionTLS10, nil
	case "tls1.1":
		return tls.VersionTLS11, nil
	case "tls1.2":
		return tls.VersionTLS12, nil
	case "tls1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS version %q: use tls1.0, tls1.1, tls1.2 or tls1.3", s)
}

// ParseCipherSuite reads a cipher suite by its IANA name, as k6's
// tlsCipherSuites lists them.
func ParseCipherSuite(name string) (uint16, error) {
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, c := range list {
			if c.Name == name {
				return c.ID, nil
			}
		}
	}
	return 0, fmt.Errorf("cipher suite %q is not known to Go's TLS", name)
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "tls1.0"
	case tls.VersionTLS11:
		return "tls1.1"
	case tls.VersionTLS12:
		return "tls1.2"
	case tls.VersionTLS13:
		return "tls1.3"
	}
	return ""
}

// emitHop emits the samples of one round trip: http_reqs, the timings and,
// with a response callback, http_req_failed, tagged as k6 tags them.
func (c *Client) emitHop(res *Response, req *Request, nameTag string, emit Emit, challenge bool) {
	if emit == nil {
		return
	}
	tags := make(map[string]string, len(req.Tags)+10)
	for k, v := range req.Tags {
		tags[k] = v
	}
	tags["method"] = res.Request.Method
	if tags["method"] == "" {
		tags["method"] = strings.ToUpper(req.Method)
	}
	tags["url"] = stripUserinfo(res.URL)
	if nameTag != "" {
		tags["name"] = nameTag
	} else {
		tags["name"] = tags["url"]
	}
	tags["status"] = strconv.Itoa(res.Status)
	tags["proto"] = res.Proto
	if res.TLSVersion != "" {
		tags["tls_version"] = res.TLSVersion
	}
	if res.ErrorCode != 0 {
		tags["error_code"] = strconv.Itoa(res.ErrorCode)
	}
	if res.Error != "" {
		tags["error"] = res.Error
	}
	failed := false
	if req.Expected != nil {
		ok := challenge || req.Expected.Match(res.Status)
		failed = !ok
		tags["expected_response"] = strconv.FormatBool(ok)
	}
	now := time.Now()
	tm := res.Timings
	emit(MetricReqs, now, 1, tags)
	emit(MetricDuration, now, tm.Duration, tags)
	emit(MetricBlocked, now, tm.Blocked, tags)
	emit(MetricConnecting, now, tm.Connecting, tags)
	emit(MetricTLSHandshaking, now, tm.TLSHandshaking, tags)
	emit(MetricSending, now, tm.Sending, tags)
	emit(MetricWaiting, now, tm.Waiting, tags)
	emit(MetricReceiving, now, tm.Receiving, tags)
	if req.Expected != nil {
		v := 0.0
		if failed {
			v = 1
		}
		emit(MetricFailed, now, v, tags)
	}
}

func stripUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// ExpectedStatuses is k6's http.expectedStatuses(...): single codes and
// inclusive ranges.
type ExpectedStatuses struct {
	Codes  []int
	Ranges [][2]int
}

// DefaultExpected is k6's default response callback: 200 to 399.
func DefaultExpected() *ExpectedStatuses {
	return &ExpectedStatuses{Ranges: [][2]int{{200, 399}}}
}

// Match reports whether status is expected.
func (e *ExpectedStatuses) Match(status int) bool {
	for _, c := range e.Codes {
		if c == status {
			return true
		}
	}
	for _, r := range e.Ranges {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}

// k6's error codes (k6 documentation, "Error codes").
const (
	CodeGeneric          = 1000
	CodeNonTCPNetwork    = 1010
	CodeInvalidURL       = 1020
	CodeTimeout          = 1050
	CodeDNS              = 1100
	CodeNoIP             = 1101
	CodeTCP              = 1200
	CodeBrokenPipe       = 1201
	CodeDial             = 1210
	CodeDialTimeout      = 1211
	CodeConnRefused      = 1212
	CodeConnReset        = 1220
	CodeTLS              = 1300
	CodeUnknownAuthority = 1310
	CodeHostnameMismatch = 1311
	CodeHTTP2            = 1600
)

// describe turns a transport error into k6's error text and code.
func describe(err error, ctx context.Context) (string, int) {
	msg := err.Error()
	var uerr *url.Error
	if errors.As(err, &uerr) {
		msg = uerr.Err.Error()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "request timeout", CodeTimeout
	case errors.Is(err, context.Canceled):
		return "request canceled", CodeGeneric
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return msg, CodeNoIP
		}
		return msg, CodeDNS
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		if strings.Contains(certErr.Error(), "certificate is valid for") || strings.Contains(certErr.Error(), "doesn't contain any IP SANs") {
			return msg, CodeHostnameMismatch
		}
		return msg, CodeUnknownAuthority
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) || strings.Contains(msg, "tls:") {
		return msg, CodeTLS
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		switch {
		case opErr.Op == "dial" && opErr.Timeout():
			return msg, CodeDialTimeout
		case opErr.Op == "dial" && strings.Contains(msg, "connection refused"):
			return msg, CodeConnRefused
		case opErr.Op == "dial":
			return msg, CodeDial
		case strings.Contains(msg, "connection reset"):
			return msg, CodeConnReset
		case strings.Contains(msg, "broken pipe"):
			return msg, CodeBrokenPipe
		}
		return msg, CodeTCP
	}
	switch {
	case strings.Contains(msg, "connection reset"):
		return msg, CodeConnReset
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return msg, CodeTCP
	case strings.Contains(msg, "http2:"):
		return msg, CodeHTTP2
	}
	return msg, CodeGeneric
}

// Batch runs reqs concurrently within the client's batch limits and returns
// the responses in order.
func (c *Client) Batch(ctx context.Context, reqs []*Request, emit Emit) ([]*Response, error) {
	out := make([]*Response, len(reqs))
	errs := make([]error, len(reqs))
	sem := make(chan struct{}, c.cfg.Batch)
	var wg sync.WaitGroup
	var emitMu sync.Mutex
	safeEmit := func(metric string, at time.Time, v float64, tags map[string]string) {
		emitMu.Lock()
		defer emitMu.Unlock()
		if emit != nil {
			emit(metric, at, v, tags)
		}
	}
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			host := ""
			if u, err := url.Parse(r.URL); err == nil {
				host = u.Host
			}
			hs, _ := c.hostSems.LoadOrStore(host, make(chan struct{}, c.cfg.BatchPerHost))
			hsem := hs.(chan struct{})
			hsem <- struct{}{}
			defer func() { <-hsem }()
			out[i], errs[i] = c.Do(ctx, r, safeEmit)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// FromHubRequest turns the per-request sample of the JupyterHub traffic
// module (a duration in ms tagged method, endpoint and status) into k6's
// builtin HTTP samples: http_reqs, http_req_duration and http_req_failed
// (expected statuses 200 to 399), named by the endpoint template.
func FromHubRequest(s samples.Sample) []samples.Sample {
	tags := make(map[string]string, len(s.Tags)+3)
	for k, v := range s.Tags {
		tags[k] = v
	}
	if ep := s.Tags["endpoint"]; ep != "" {
		if tags["name"] == "" {
			tags["name"] = ep
		}
		if tags["url"] == "" {
			tags["url"] = ep
		}
	}
	status, _ := strconv.Atoi(s.Tags["status"])
	ok := DefaultExpected().Match(status)
	tags["expected_response"] = strconv.FormatBool(ok)
	failed := 0.0
	if !ok {
		failed = 1
	}
	return []samples.Sample{
		{Metric: MetricReqs, Time: s.Time, Value: 1, Tags: tags},
		{Metric: MetricDuration, Time: s.Time, Value: s.Value, Tags: tags},
		{Metric: MetricFailed, Time: s.Time, Value: failed, Tags: tags},
	}
}
