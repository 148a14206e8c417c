package hubapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

// DefaultUserAgent is sent when no UserAgent is configured.
const DefaultUserAgent = "hubcap/0.1 (+https://github.com/hubcap-dev/hubcap)"

// DefaultMaxBody bounds how many bytes of one response body are read.
const DefaultMaxBody = 256 << 20

// TransportOptions configures a Transport.
type TransportOptions struct {
	// HTTP is the client used; nil builds one (no redirects followed, TLS
	// verified unless InsecureSkipVerify). A supplied client is copied and its
	// CheckRedirect replaced so that redirects are returned, never followed.
	HTTP *http.Client
	// InsecureSkipVerify disables TLS verification of the built client
	// (ignored when HTTP is given). Default false: certificates are verified.
	InsecureSkipVerify bool
	Sink               samples.Sink // nil: samples.Discard
	UserAgent          string       // "": DefaultUserAgent
	// Timeout bounds one attempt of a call (default 30 s; negative: none).
	Timeout time.Duration
	Retry   RetryPolicy
	// Tags are added to every sample.
	Tags map[string]string
	// DurationMetric names the per-request trend (default MetricAPIDuration).
	DurationMetric string
	// Secrets are scrubbed from error messages (tokens, passwords).
	Secrets []string
	// Rand is the source of retry jitter; nil seeds one from the clock.
	Rand rand.Source
	// Now and Sleep replace the clock in tests; nil means the real ones.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxBody bounds a response body (default DefaultMaxBody).
	MaxBody int64
	// NoErrorSamples leaves MetricErrors to the caller (attendee sessions
	// count one error per failed phase instead of one per failed request).
	NoErrorSamples bool
}

// Transport is the HTTP plumbing shared by the admin client and the attendee
// sessions: per-attempt timeouts, bounded retries with backoff, 429 handling
// with Retry-After, typed errors, and samples for every request. It is safe
// for concurrent use.
//
// Retry rules. A 429 answer means the hub refused the request before acting on
// it, so every request is retried after the Retry-After delay (plus jitter,
// capped by RetryPolicy.MaxWait) for as long as the hub answers 429, within
// RetryPolicy.ThrottleBudget and the context's deadline (ThrottleGiveUp); every
// 429 is counted in MetricThrottled, only a given-up one in MetricErrors. 5xx
// answers other than 501 and connection errors are retried with backoff up to
// RetryPolicy.MaxRetries times for idempotent methods (GET, HEAD, PUT, DELETE,
// OPTIONS). POST and PATCH are retried after connection errors only when the
// connection could not be made (the request was never sent), unless the
// request says Retry: RetryAlways (the caller asserts repeating is safe).
type Transport struct {
	http     *http.Client
	sink     samples.Sink
	ua       string
	timeout  time.Duration
	retry    RetryPolicy
	tags     map[string]string
	metric   string
	secrets  []string
	rnd      *lockedRand
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	maxBody  int64
	noErrs   bool
	secretMu sync.RWMutex
}

// NewTransport builds a Transport.
func NewTransport(o TransportOptions) *Transport {
	t := &Transport{
		sink:    o.Sink,
		ua:      o.UserAgent,
		timeout: o.Timeout,
		retry:   o.Retry.withDefaults(),
		metric:  o.DurationMetric,
		rnd:     newLockedRand(o.Rand),
		now:     o.Now,
		sleep:   o.Sleep,
		maxBody: o.MaxBody,
		noErrs:  o.NoErrorSamples,
	}
	if o.HTTP != nil {
		c := *o.HTTP
		c.CheckRedirect = noRedirect
		t.http = &c
	} else {
		t.http = NewHTTPClient(o.InsecureSkipVerify, nil)
	}
	if t.sink == nil {
		t.sink = samples.Discard
	}
	if t.ua == "" {
		t.ua = DefaultUserAgent
	}
	if t.timeout == 0 {
		t.timeout = 30 * time.Second
	}
	if t.metric == "" {
		t.metric = MetricAPIDuration
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.sleep == nil {
		t.sleep = sleepCtx
	}
	if t.maxBody <= 0 {
		t.maxBody = DefaultMaxBody
	}
	t.tags = make(map[string]string, len(o.Tags))
	for k, v := range o.Tags {
		t.tags[k] = v
	}
	for _, s := range o.Secrets {
		t.AddSecret(s)
	}
	return t
}

// NewHTTPClient builds the client hubcap uses: a cloned default transport with
// keep-alive pools sized for load tests, TLS verified unless insecure, the
// given cookie jar (nil for none) and redirects returned instead of followed.
func NewHTTPClient(insecure bool, jar http.CookieJar) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.MaxIdleConns = 256
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in for self-signed test hubs
	}
	return &http.Client{Transport: tr, Jar: jar, CheckRedirect: noRedirect}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// HTTPClient returns the underlying client (redirects are not followed).
func (t *Transport) HTTPClient() *http.Client { return t.http }

// UserAgent returns the User-Agent sent with every request.
func (t *Transport) UserAgent() string { return t.ua }

// Sink returns where samples go.
func (t *Transport) Sink() samples.Sink { return t.sink }

// Now returns the transport's clock reading.
func (t *Transport) Now() time.Time { return t.now() }

// Sleep waits d or until ctx is done, with the transport's clock.
func (t *Transport) Sleep(ctx context.Context, d time.Duration) error { return t.sleep(ctx, d) }

// Jitter returns a uniform value in [0,1) from the transport's rand source.
func (t *Transport) Jitter() float64 { return t.rnd.Float64() }

// RetryPolicy returns the effective policy.
func (t *Transport) RetryPolicy() RetryPolicy { return t.retry }

// AddSecret registers a value to scrub from error messages.
func (t *Transport) AddSecret(s string) {
	if len(s) < 4 {
		return // scrubbing tiny strings would mangle messages
	}
	t.secretMu.Lock()
	t.secrets = append(t.secrets, s)
	t.secretMu.Unlock()
}

// Scrub replaces registered secrets in s.
func (t *Transport) Scrub(s string) string {
	t.secretMu.RLock()
	defer t.secretMu.RUnlock()
	for _, sec := range t.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// RetryMode says which failures a request may be repeated after.
type RetryMode int

const (
	// RetryDefault retries idempotent methods after 5xx and connection errors,
	// other methods only when the connection could not be made.
	RetryDefault RetryMode = iota
	// RetryAlways treats the request as idempotent (the caller asserts it).
	RetryAlways
	// RetryNever does not retry 5xx or connection errors (429 still honoured
	// unless NoThrottleRetry).
	RetryNever
)

// Request is one call through a Transport.
type Request struct {
	Method string
	URL    string // absolute
	// Endpoint is the path template used as a tag, e.g. /hub/api/users/:name.
	Endpoint string
	// Phase tags errors (e.g. "create_users", "login").
	Phase  string
	Header http.Header
	Body   []byte
	// ContentType of Body (default application/json when Body is set).
	ContentType string
	Retry       RetryMode
	// NoThrottleRetry returns 429 answers to the caller instead of waiting.
	NoThrottleRetry bool
	// Timeout overrides the transport's per-attempt timeout; negative: none.
	Timeout time.Duration
	// Stream leaves the body of a successful answer open in Response.Stream.
	Stream bool
	// Expect says which statuses are success; nil means 2xx.
	Expect func(status int) bool
	// Tags are added to this request's samples.
	Tags map[string]string
	// Metric overrides the transport's DurationMetric for this request.
	Metric string
}

// Statuses returns an Expect function accepting exactly the given statuses.
func Statuses(codes ...int) func(int) bool {
	return func(s int) bool {
		for _, c := range codes {
			if s == c {
				return true
			}
		}
		return false
	}
}

// AnyStatus accepts every answer (the caller inspects the status).
func AnyStatus(int) bool { return true }

// Response is an answer, after retries.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte        // nil when the request asked for Stream
	Stream    io.ReadCloser // only when Stream; the caller must Close it
	URL       *url.URL      // the request URL
	Attempts  int           // 1 + retries
	Throttled int           // 429 answers waited out
	Duration  time.Duration // of the last attempt, until the body was read (or headers, for streams)
}

// Location returns the resolved Location header of a redirect, or nil.
func (r *Response) Location() *url.URL {
	loc := r.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil
	}
	if r.URL != nil {
		u = r.URL.ResolveReference(u)
	}
	return u
}

// Do sends req, retrying as the rules on Transport say. It returns a
// *APIError (with the Response) when the final status is not expected, and a
// wrapped network or context error when no answer came.
func (t *Transport) Do(ctx context.Context, req *Request) (*Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("hubapi: bad URL for %s: %w", req.Endpoint, errors.Unwrap(err))
	}
	expect := req.Expect
	if expect == nil {
		expect = func(s int) bool { return s >= 200 && s < 300 }
	}
	retries, throttled := 0, 0
	var waitedOut time.Duration // time spent waiting out 429 answers
	for attempt := 1; ; attempt++ {
		resp, err := t.once(ctx, req, u)
		if err != nil {
			if ctx.Err() == nil && retries < t.retry.MaxRetries && t.mayRetryConn(req, err) {
				retries++
				t.count(MetricRetries, req, map[string]string{"status": "0", "endpoint": req.Endpoint})
				if serr := t.sleep(ctx, Backoff(retries-1, t.retry, t.rnd.Float64())); serr == nil {
					continue
				}
			}
			t.count(MetricErrors, req, map[string]string{"status": "0"})
			return nil, t.connError(req, u, err)
		}
		resp.Attempts = attempt
		resp.Throttled = throttled
		if resp.Status == http.StatusTooManyRequests && !expect(resp.Status) {
			t.count(MetricThrottled, req, map[string]string{"endpoint": req.Endpoint})
			if !req.NoThrottleRetry {
				ra, has := ParseRetryAfter(resp.Header.Get("Retry-After"), t.now())
				wait := ThrottleWait(ra, has, throttled, t.retry, t.rnd.Float64())
				var remaining time.Duration
				dl, hasDeadline := ctx.Deadline()
				if hasDeadline {
					remaining = time.Until(dl) // context deadlines are wall-clock time
				}
				if why := ThrottleGiveUp(t.retry, throttled, waitedOut, wait, remaining, hasDeadline); why != "" {
					closeStream(resp)
					t.count(MetricErrors, req, map[string]string{"status": "429"})
					return resp, fmt.Errorf("%w (%s)", t.apiError(req, u, resp), why)
				}
				throttled++
				waitedOut += wait
				closeStream(resp)
				if serr := t.sleep(ctx, wait); serr == nil {
					continue
				}
				t.count(MetricErrors, req, map[string]string{"status": "429"})
				return resp, t.connError(req, u, ctx.Err())
			}
		} else if retryableStatus(resp.Status) && !expect(resp.Status) && retries < t.retry.MaxRetries && t.idempotent(req) {
			retries++
			t.count(MetricRetries, req, map[string]string{"status": strconv.Itoa(resp.Status), "endpoint": req.Endpoint})
			closeStream(resp)
			if serr := t.sleep(ctx, Backoff(retries-1, t.retry, t.rnd.Float64())); serr == nil {
				continue
			}
			t.count(MetricErrors, req, map[string]string{"status": strconv.Itoa(resp.Status)})
			return resp, t.connError(req, u, ctx.Err())
		}
		if expect(resp.Status) {
			return resp, nil
		}
		closeStream(resp)
		t.count(MetricErrors, req, map[string]string{"status": strconv.Itoa(resp.Status)})
		return resp, t.apiError(req, u, resp)
	}
}

func closeStream(r *Response) {
	if r.Stream != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Stream, 64<<10))
		r.Stream.Close()
		r.Stream = nil
	}
}

func retryableStatus(s int) bool {
	return s >= 500 && s != http.StatusNotImplemented
}

func (t *Transport) idempotent(req *Request) bool {
	switch req.Retry {
	case RetryAlways:
		return true
	case RetryNever:
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

func (t *Transport) mayRetryConn(req *Request, err error) bool {
	if req.Retry == RetryNever {
		return false
	}
	if t.idempotent(req) {
		return true
	}
	// the request was never sent when the connection could not be made
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// connError wraps a transport error without the URL (its query may hold tokens).
func (t *Transport) connError(req *Request, u *url.URL, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) && t.timeout > 0 {
		return fmt.Errorf("%s %s: no answer within %s: %w", methodOf(req), u.Path, t.attemptTimeout(req), err)
	}
	return fmt.Errorf("%s %s: %w", methodOf(req), u.Path, err)
}

func (t *Transport) apiError(req *Request, u *url.URL, resp *Response) *APIError {
	msg := t.Scrub(errorMessage(resp.Header.Get("Content-Type"), resp.Body))
	if resp.Status >= 300 && resp.Status < 400 {
		if loc := resp.Location(); loc != nil {
			loc.RawQuery, loc.Fragment, loc.User = "", "", nil
			msg = "redirected to " + loc.String()
		}
	}
	scopes, _ := ParseScopeMessage(msg)
	hint := hintFor(resp.Status, msg, scopes)
	if resp.Status >= 300 && resp.Status < 400 {
		hint = "pass the hub's public URL the redirect points to"
	}
	return &APIError{
		Method:   methodOf(req),
		Path:     u.Path,
		Endpoint: req.Endpoint,
		Status:   resp.Status,
		Message:  msg,
		Scopes:   scopes,
		Hint:     hint,
	}
}

func methodOf(req *Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

func (t *Transport) attemptTimeout(req *Request) time.Duration {
	if req.Timeout != 0 {
		return req.Timeout
	}
	return t.timeout
}

// once performs one attempt.
func (t *Transport) once(ctx context.Context, req *Request, u *url.URL) (*Response, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if to := t.attemptTimeout(req); to > 0 {
		actx, cancel = context.WithTimeout(ctx, to)
	}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(actx, methodOf(req), u.String(), body)
	if err != nil {
		cancel()
		return nil, err
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", t.ua)
	}
	if req.Body != nil && hreq.Header.Get("Content-Type") == "" {
		ct := req.ContentType
		if ct == "" {
			ct = "application/json"
		}
		hreq.Header.Set("Content-Type", ct)
	}
	start := t.now()
	hresp, err := t.http.Do(hreq)
	if err != nil {
		cancel()
		t.emitData(req, requestSize(hreq, len(req.Body)), 0)
		return nil, err
	}
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header, URL: u}
	sent := requestSize(hreq, len(req.Body))
	headBytes := responseHeadSize(hresp)
	if req.Stream && (req.Expect == nil && hresp.StatusCode/100 == 2 || req.Expect != nil && req.Expect(hresp.StatusCode)) {
		resp.Duration = t.now().Sub(start)
		t.emitDuration(req, resp.Status, resp.Duration, start)
		t.emitData(req, sent, headBytes)
		resp.Stream = &countingBody{rc: hresp.Body, cancel: cancel, done: func(n int64) { t.emitData(req, 0, n) }}
		return resp, nil
	}
	defer cancel()
	b, rerr := io.ReadAll(io.LimitReader(hresp.Body, t.maxBody+1))
	hresp.Body.Close()
	resp.Duration = t.now().Sub(start)
	t.emitData(req, sent, headBytes+int64(len(b)))
	if rerr != nil {
		return nil, rerr
	}
	if int64(len(b)) > t.maxBody {
		return nil, fmt.Errorf("response body larger than %d bytes", t.maxBody)
	}
	resp.Body = b
	t.emitDuration(req, resp.Status, resp.Duration, start)
	return resp, nil
}

// countingBody counts bytes of a streamed body and reports them on Close.
type countingBody struct {
	rc     io.ReadCloser
	n      int64
	cancel context.CancelFunc
	done   func(int64)
	once   sync.Once
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error {
	err := c.rc.Close()
	c.once.Do(func() {
		c.cancel()
		c.done(c.n)
	})
	return err
}

func (t *Transport) tagsFor(req *Request, extra map[string]string) map[string]string {
	m := make(map[string]string, len(t.tags)+len(req.Tags)+len(extra))
	for k, v := range t.tags {
		m[k] = v
	}
	for k, v := range req.Tags {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func (t *Transport) emitDuration(req *Request, status int, d time.Duration, at time.Time) {
	metric := t.metric
	if req.Metric != "" {
		metric = req.Metric
	}
	t.sink.AddSample(samples.Sample{
		Metric: metric,
		Time:   at,
		Value:  float64(d) / float64(time.Millisecond),
		Tags: t.tagsFor(req, map[string]string{
			"method":   methodOf(req),
			"endpoint": req.Endpoint,
			"status":   strconv.Itoa(status),
		}),
	})
}

func (t *Transport) emitData(req *Request, sent, received int64) {
	now := t.now()
	if sent > 0 {
		t.sink.AddSample(samples.Sample{Metric: MetricDataSent, Time: now, Value: float64(sent), Tags: t.tagsFor(req, nil)})
	}
	if received > 0 {
		t.sink.AddSample(samples.Sample{Metric: MetricDataReceived, Time: now, Value: float64(received), Tags: t.tagsFor(req, nil)})
	}
}

func (t *Transport) count(metric string, req *Request, extra map[string]string) {
	if metric == MetricErrors && t.noErrs {
		return
	}
	tags := t.tagsFor(req, extra)
	if metric == MetricErrors || metric == MetricThrottled {
		tags["phase"] = req.Phase
	}
	t.sink.AddSample(samples.Sample{Metric: metric, Time: t.now(), Value: 1, Tags: tags})
}

// Emit sends a sample with the transport's tags added.
func (t *Transport) Emit(metric string, value float64, tags map[string]string) {
	m := make(map[string]string, len(t.tags)+len(tags))
	for k, v := range t.tags {
		m[k] = v
	}
	for k, v := range tags {
		m[k] = v
	}
	t.sink.AddSample(samples.Sample{Metric: metric, Time: t.now(), Value: value, Tags: m})
}

// requestSize estimates the HTTP/1.1 bytes of a request: request line, headers
// (including Host and the cookies the jar adds) and body. TLS and HTTP/2 framing
// are not counted.
func requestSize(r *http.Request, body int) int64 {
	n := len(r.Method) + 1 + len(r.URL.RequestURI()) + len(" HTTP/1.1\r\n")
	n += len("Host: \r\n") + len(r.URL.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if body > 0 {
		n += len("Content-Length: \r\n") + len(strconv.Itoa(body))
	}
	return int64(n + 2 + body)
}

func responseHeadSize(r *http.Response) int64 {
	n := len("HTTP/1.1 200 \r\n") + len(http.StatusText(r.StatusCode))
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return int64(n + 2)
}

// ErrorFor builds the *APIError for an answer the caller did not expect
// (with Expect: AnyStatus the transport accepts every status; browser flows
// then decide): message from the body, scopes, hint, path without query.
func (t *Transport) ErrorFor(req *Request, resp *Response) *APIError {
	u := resp.URL
	if u == nil {
		u, _ = url.Parse(req.URL)
		if u == nil {
			u = &url.URL{}
		}
	}
	return t.apiError(req, u, resp)
}

// String describes the transport without its secrets.
func (t *Transport) String() string {
	return fmt.Sprintf("hubapi.Transport{UserAgent:%q Timeout:%s Retry:%+v}", t.ua, t.timeout, t.retry)
}

// GoString is String.
func (t *Transport) GoString() string { return t.String() }

// Format prints String for every verb: no verb reveals the secrets.
func (t *Transport) Format(f fmt.State, verb rune) { fmt.Fprint(f, t.String()) }

// String describes the request without headers, body or query (which may
// carry tokens, cookies or passwords).
func (r *Request) String() string {
	path := "<unparsable>"
	if u, err := url.Parse(r.URL); err == nil {
		path = u.Path
	}
	return fmt.Sprintf("hubapi.Request{%s %s endpoint=%s phase=%s body=%dB}", methodOf(r), path, r.Endpoint, r.Phase, len(r.Body))
}

// GoString is String.
func (r *Request) GoString() string { return r.String() }

// Format prints String for every verb.
func (r *Request) Format(f fmt.State, verb rune) { fmt.Fprint(f, r.String()) }

// String describes the response without headers (Set-Cookie) or body.
func (r *Response) String() string {
	path := ""
	if r.URL != nil {
		path = r.URL.Path
	}
	return fmt.Sprintf("hubapi.Response{%d %s attempts=%d body=%dB}", r.Status, path, r.Attempts, len(r.Body))
}

// GoString is String.
func (r *Response) GoString() string { return r.String() }

// Format prints String for every verb.
func (r *Response) Format(f fmt.State, verb rune) { fmt.Fprint(f, r.String()) }
