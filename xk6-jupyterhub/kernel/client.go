package kernel

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// Errors of the client. Every error returned by Conn's methods wraps one of
// these, or the context's error.
var (
	// ErrConnectionLost: the websocket ended while calls were pending or
	// before a new call; the error text carries the close code and reason.
	ErrConnectionLost = errors.New("kernel: websocket connection lost")
	// ErrClosed: the connection was closed by Close.
	ErrClosed = errors.New("kernel: connection closed")
	// ErrHandshake: the websocket upgrade of the channels URL failed.
	ErrHandshake = errors.New("kernel: websocket handshake failed")
	// ErrProtocol: ProtocolV1 was required and the server did not select it.
	ErrProtocol = errors.New("kernel: websocket subprotocol not supported by the server")
	// ErrNoReply: the kernel did not answer kernel_info_request in time.
	ErrNoReply = errors.New("kernel: no reply from the kernel")
	// ErrKernelRestarted: the server reported the kernel restarting or dead
	// while a call was pending; its reply will never come.
	ErrKernelRestarted = errors.New("kernel: kernel restarted or died")
	// ErrExecution is wrapped by ExecResult.Err when the code failed.
	ErrExecution = errors.New("kernel: execution failed")
)

// Protocol selects the kernel websocket message framing.
type Protocol int

const (
	// ProtocolAuto offers SubprotocolV1 and falls back to the legacy JSON
	// protocol when the server does not select it (jupyter_server < 2.0,
	// or kernel_ws_protocol set to "").
	ProtocolAuto Protocol = iota
	// ProtocolV1 requires the binary v1 subprotocol; Dial fails with
	// ErrProtocol when the server does not select it.
	ProtocolV1
	// ProtocolLegacy offers no subprotocol: JSON text frames (and binary
	// frames for messages with buffers).
	ProtocolLegacy
)

// String returns "auto", "v1" or "legacy".
func (p Protocol) String() string {
	switch p {
	case ProtocolAuto:
		return "auto"
	case ProtocolV1:
		return "v1"
	case ProtocolLegacy:
		return "legacy"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// ParseProtocol parses "auto" (or ""), "v1" or "legacy".
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "", "auto":
		return ProtocolAuto, nil
	case "v1", SubprotocolV1:
		return ProtocolV1, nil
	case "legacy":
		return ProtocolLegacy, nil
	}
	return 0, fmt.Errorf("kernel: unknown protocol %q; use auto, v1 or legacy", s)
}

// Defaults of DialOptions.
const (
	DefaultTimeout            = 30 * time.Second
	DefaultBufferSize         = 4096
	DefaultMaxMessageSize     = 32 << 20
	DefaultMaxOutputBytes     = 1 << 20
	DefaultKernelInfoInterval = time.Second
	DefaultUsername           = "hubcap"
)

// DialOptions configures Dial. The zero value is usable.
type DialOptions struct {
	// Header is sent with the upgrade request: Authorization, Cookie,
	// X-XSRFToken, User-Agent, Origin as the caller needs.
	Header http.Header
	// Jar, if set, supplies and receives cookies for the upgrade request.
	Jar http.CookieJar
	// Protocol: ProtocolAuto (default), ProtocolV1 or ProtocolLegacy.
	Protocol Protocol
	// TLSConfig for wss:// URLs; InsecureSkipVerify skips certificate
	// verification (on a clone of TLSConfig).
	TLSConfig          *tls.Config
	InsecureSkipVerify bool
	// Username goes into message headers; default DefaultUsername.
	Username string
	// Session is the client session id: the session_id query parameter
	// (unless the URL has one) and the session of message headers. Default:
	// the URL's session_id, else a random UUID.
	Session string
	// Timeout bounds the handshake and each write; default DefaultTimeout.
	Timeout time.Duration
	// PingInterval > 0 sends websocket pings that often and declares the
	// connection lost when nothing (not even a pong) arrives for
	// PingInterval+Timeout. 0 disables keepalive.
	PingInterval time.Duration
	// MaxMessageSize bounds one received frame; default DefaultMaxMessageSize.
	MaxMessageSize int64
	// MaxOutputBytes bounds the stdout, stderr, result and display text
	// kept per Execute; beyond it output is counted but dropped and
	// ExecResult.Truncated is set. Default DefaultMaxOutputBytes.
	MaxOutputBytes int
	// KernelInfoInterval is the first wait before KernelInfo resends its
	// request; it doubles up to 4 times that. Default DefaultKernelInfoInterval.
	KernelInfoInterval time.Duration
	// ReadBufferSize and WriteBufferSize of the websocket; default
	// DefaultBufferSize. Write buffers come from a shared pool.
	ReadBufferSize, WriteBufferSize int
}

func (o DialOptions) withDefaults() DialOptions {
	if o.Username == "" {
		o.Username = DefaultUsername
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.KernelInfoInterval <= 0 {
		o.KernelInfoInterval = DefaultKernelInfoInterval
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = DefaultBufferSize
	}
	if o.WriteBufferSize <= 0 {
		o.WriteBufferSize = DefaultBufferSize
	}
	return o
}

// writeBufferPool is shared by all connections, so an idle connection holds
// no write buffer.
var writeBufferPool = &sync.Pool{}

// Stats are a connection's counters since Dial.
type Stats struct {
	// BytesSent and BytesReceived count bytes on the TCP connection:
	// handshake, websocket framing and TLS included (k6's data_sent and
	// data_received).
	BytesSent, BytesReceived int64
	// MessagesSent and MessagesReceived count kernel messages.
	MessagesSent, MessagesReceived int64
	// Unmatched counts received messages whose parent is no pending call
	// (broadcasts, replies to cancelled calls, other clients' messages).
	Unmatched int64
	// BadFrames counts received frames that did not decode.
	BadFrames int64
}

// Conn is a client connection to a kernel's channels websocket. Its
// methods are safe for concurrent use; replies are dispatched by the
// msg_id of their parent header.
type Conn struct {
	ws       *websocket.Conn
	proto    Protocol
	session  string
	username string
	opts     DialOptions

	wmu  sync.Mutex // serialises data frame writes
	wbuf []byte     // sendExecute's frame buffer, reused; guarded by wmu

	mu        sync.Mutex
	pending   map[string]*call
	afterDone []func() // run when the reader ends (AfterDone)

	done      chan struct{} // closed when the reader ends
	err       error         // why; written before done is closed
	closing   atomic.Bool
	closeOnce sync.Once
	ping      *time.Timer

	wireSent, wireRecv   atomic.Int64
	msgsSent, msgsRecv   atomic.Int64
	unmatched, badFrames atomic.Int64
}

// call is a pending request. handle runs in the reader goroutine with
// Conn.mu held and returns true when the call is complete.
type call struct {
	ids      []string
	finished bool // done is closed; guarded by Conn.mu
	done     chan struct{}
	err      error // set with done when the call failed as a whole
	handle   func(m Message, size int, at time.Time) bool
}

// Dial opens the channels websocket of a kernel, e.g.
// ws://127.0.0.1:8888/user/alice/api/kernels/<id>/channels. Authentication
// is the caller's: opts.Header (Authorization: token …, or cookies and
// X-XSRFToken) or opts.Jar. http(s) URLs are accepted as ws(s).
//
// Dial only opens the socket: call KernelInfo before Execute to wait until
// the kernel answers. Close the Conn when done.
func Dial(ctx context.Context, wsURL string, opts DialOptions) (*Conn, error) {
	opts = opts.withDefaults()
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, fmt.Errorf("%w: bad URL: %v", ErrHandshake, redactErr(err))
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("%w: URL scheme %q: use ws:// or wss://", ErrHandshake, u.Scheme)
	}
	q := u.Query()
	if opts.Session == "" {
		opts.Session = q.Get("session_id")
	}
	if opts.Session == "" {
		opts.Session = uuid.NewString()
	}
	if q.Get("session_id") == "" {
		q.Set("session_id", opts.Session)
		u.RawQuery = q.Encode()
	}

	c := &Conn{
		session:  opts.Session,
		username: opts.Username,
		opts:     opts,
		pending:  make(map[string]*call),
		done:     make(chan struct{}),
	}
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			nc, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: nc, sent: &c.wireSent, recv: &c.wireRecv}, nil
		},
		HandshakeTimeout: opts.Timeout,
		ReadBufferSize:   opts.ReadBufferSize,
		WriteBufferSize:  opts.WriteBufferSize,
		WriteBufferPool:  writeBufferPool,
		Jar:              opts.Jar,
	}
	if opts.TLSConfig != nil || opts.InsecureSkipVerify {
		cfg := &tls.Config{}
		if opts.TLSConfig != nil {
			cfg = opts.TLSConfig.Clone()
		}
		if opts.InsecureSkipVerify {
			cfg.InsecureSkipVerify = true
		}
		d.TLSClientConfig = cfg
	}
	if opts.Protocol != ProtocolLegacy {
		d.Subprotocols = []string{SubprotocolV1}
	}
	ws, resp, err := d.DialContext(ctx, u.String(), opts.Header)
	if err != nil {
		where := redactURL(u)
		if resp != nil {
			return nil, fmt.Errorf("%w: %s: HTTP %d%s", ErrHandshake, where, resp.StatusCode, handshakeHint(resp.StatusCode))
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrHandshake, where, ctxErr)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrHandshake, where, redactErr(err))
	}
	c.ws = ws
	switch sel := ws.Subprotocol(); {
	case sel == SubprotocolV1:
		c.proto = ProtocolV1
	case opts.Protocol == ProtocolV1:
		ws.Close()
		return nil, fmt.Errorf("%w: the server did not select %s (it answered %q); use the legacy protocol (ProtocolLegacy or ProtocolAuto)", ErrProtocol, SubprotocolV1, sel)
	default:
		c.proto = ProtocolLegacy
	}
	ws.SetReadLimit(opts.MaxMessageSize)
	if opts.PingInterval > 0 {
		ws.SetPongHandler(func(string) error {
			return ws.SetReadDeadline(time.Now().Add(opts.PingInterval + opts.Timeout))
		})
		c.ping = time.AfterFunc(time.Hour, c.sendPing) // armed once c.ping is set
		c.ping.Reset(opts.PingInterval)
	}
	go c.readLoop()
	return c, nil
}

func handshakeHint(code int) string {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return " (not authorised: send Authorization: token <token>, or the single-user server's cookies and X-XSRFToken)"
	case http.StatusNotFound:
		return " (no such kernel or server: check the kernel id and the /user/<name>/ prefix)"
	case http.StatusBadRequest:
		return " (not a websocket endpoint? the path must end in /channels)"
	}
	return ""
}

// redactURL keeps scheme, host and path: queries may hold tokens.
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// redactErr drops URLs from errors, which may carry a token in the query.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %v", ue.Op, ue.Err)
	}
	return err
}

// Protocol returns the negotiated framing: ProtocolV1 or ProtocolLegacy.
func (c *Conn) Protocol() Protocol { return c.proto }

// Session returns the client session id used in headers and session_id.
func (c *Conn) Session() string { return c.session }

// Done is closed when the connection has ended (lost or closed).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is open, then an error wrapping
// ErrConnectionLost or ErrClosed.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	return Stats{
		BytesSent:        c.wireSent.Load(),
		BytesReceived:    c.wireRecv.Load(),
		MessagesSent:     c.msgsSent.Load(),
		MessagesReceived: c.msgsRecv.Load(),
		Unmatched:        c.unmatched.Load(),
		BadFrames:        c.badFrames.Load(),
	}
}

// Close closes the connection: pending calls fail with ErrClosed. It is
// idempotent and always returns nil.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		if c.ping != nil {
			c.ping.Stop()
		}
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = c.ws.Close()
		<-c.done
	})
	return nil
}

func (c *Conn) sendPing() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.Timeout))
	c.ping.Reset(c.opts.PingInterval)
}

// readLoop is the single reader: it decodes frames and dispatches them to
// pending calls by parent msg_id.
func (c *Conn) readLoop() {
	var err error
	for {
		if c.opts.PingInterval > 0 {
			_ = c.ws.SetReadDeadline(time.Now().Add(c.opts.PingInterval + c.opts.Timeout))
		}
		var typ int
		var r io.Reader
		typ, r, err = c.ws.NextReader()
		if err != nil {
			break
		}
		// The frame is read into a pooled buffer: handlers consume a
		// message before dispatch returns and keep no slice of it, and an
		// idle connection holds no buffer.
		buf := frameBuffers.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(r)
		if err != nil {
			putFrameBuffer(buf)
			break
		}
		at := time.Now()
		data := buf.Bytes()
		if typ == websocket.TextMessage {
			// the usual frames: routed without decoding the message
			if r, ok := routeLegacy(data); ok {
				c.msgsRecv.Add(1)
				c.deliver(r.channel, r.msgType, r.parentID, r.content, nil, len(data), at)
				putFrameBuffer(buf)
				continue
			}
		}
		m, derr := c.decode(typ, data)
		if derr != nil {
			c.badFrames.Add(1)
		} else {
			c.msgsRecv.Add(1)
			c.dispatch(m, len(data), at)
		}
		putFrameBuffer(buf)
	}
	c.finish(err)
}

var frameBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putFrameBuffer returns buf to the pool unless a large frame grew it.
func putFrameBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		frameBuffers.Put(buf)
	}
}

func (c *Conn) decode(typ int, data []byte) (Message, error) {
	switch {
	case typ == websocket.TextMessage:
		return decodeReceived(data)
	case c.proto == ProtocolV1:
		return DecodeV1(data)
	default:
		return DecodeLegacyBinary(data)
	}
}

// parentID is ParentMsgID on the hot path: the parent header's msg_id read
// directly when it is a plain string.
func parentID(m Message) string {
	if id, ok := stringField(m.ParentHeader, "msg_id"); ok {
		return id
	}
	return m.ParentMsgID()
}

func (c *Conn) dispatch(m Message, size int, at time.Time) {
	c.deliver(m.Channel, m.Header.MsgType, []byte(parentID(m)), m.Content, &m, size, at)
}

// deliver hands a received message to the pending call whose request is
// its parent. m is the decoded message, or nil when only its route was
// read: the call's handler then gets channel, msg_type and content.
func (c *Conn) deliver(channel, msgType string, pid []byte, content []byte, m *Message, size int, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(pid) == 0 {
		// jupyter_server broadcasts kernel restarts as parentless status.
		if channel == "iopub" && msgType == "status" {
			if st := executionState(content); st == "restarting" || st == "dead" {
				for _, cl := range c.pending {
					c.failLocked(cl, fmt.Errorf("%w: the server reported execution_state %q (did the kernel run out of memory?)", ErrKernelRestarted, st))
				}
			}
		}
		c.unmatched.Add(1)
		return
	}
	cl := c.pending[string(pid)]
	if cl == nil {
		c.unmatched.Add(1)
		return
	}
	if cl.finished {
		return
	}
	var msg Message
	if m != nil {
		msg = *m
	} else {
		msg = Message{Channel: channel, Header: Header{MsgType: msgType}, Content: content}
	}
	if cl.handle(msg, size, at) {
		c.completeLocked(cl, nil)
	}
}

// completeLocked removes cl and closes its done channel, once.
func (c *Conn) completeLocked(cl *call, err error) {
	c.removeLocked(cl)
	if cl.finished {
		return
	}
	cl.finished = true
	cl.err = err
	close(cl.done)
}

func (c *Conn) failLocked(cl *call, err error) { c.completeLocked(cl, err) }

func (c *Conn) removeLocked(cl *call) {
	for _, id := range cl.ids {
		delete(c.pending, id)
	}
}

func (c *Conn) finish(err error) {
	if c.closing.Load() {
		c.err = fmt.Errorf("%w", ErrClosed)
	} else {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			reason := ce.Text
			if reason == "" {
				reason = "no reason given"
			}
			c.err = fmt.Errorf("%w: the server closed the websocket with code %d (%s): %w", ErrConnectionLost, ce.Code, reason, err)
		} else {
			c.err = fmt.Errorf("%w: %w (is the single-user server or proxy still up?)", ErrConnectionLost, err)
		}
	}
	if c.ping != nil {
		c.ping.Stop()
	}
	_ = c.ws.Close()
	c.mu.Lock()
	clear(c.pending)
	close(c.done)
	after := c.afterDone
	c.afterDone = nil
	c.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// AfterDone arranges for f to run once the connection has ended (lost or
// closed), in the goroutine that ends it, or at once in a new goroutine
// when it has already ended: a watcher of the connection without a
// goroutine of its own.
func (c *Conn) AfterDone(f func()) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		go f()
		return
	default:
	}
	c.afterDone = append(c.afterDone, f)
	c.mu.Unlock()
}

// register adds cl under id; false if cl has already completed.
func (c *Conn) register(cl *call, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.finished {
		return false
	}
	cl.ids = append(cl.ids, id)
	c.pending[id] = cl
	return true
}

// forget removes cl. It returns true when cl had already completed.
func (c *Conn) forget(cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.finished {
		return true
	}
	c.removeLocked(cl)
	return false
}

// send encodes and writes m, honouring ctx and the write timeout. It
// returns the frame size.
func (c *Conn) send(ctx context.Context, m Message) (int, error) {
	var (
		frame []byte
		err   error
		typ   = websocket.BinaryMessage
	)
	if c.proto == ProtocolV1 {
		frame, err = EncodeV1(m)
	} else if len(m.Buffers) > 0 {
		frame, err = EncodeLegacyBinary(m)
	} else {
		frame, err = EncodeJSON(m)
		typ = websocket.TextMessage
	}
	if err != nil {
		return 0, err
	}
	if err := c.writable(ctx); err != nil {
		return 0, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(ctx, typ, frame)
}

// sendExecute writes the legacy JSON frame of an execute_request (h,
// code), encoded from a template into the connection's reused buffer.
func (c *Conn) sendExecute(ctx context.Context, h Header, code string) (int, error) {
	if err := c.writable(ctx); err != nil {
		return 0, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	frame := appendExecuteRequestJSON(c.wbuf[:0], h, code)
	if cap(frame) <= 64<<10 {
		c.wbuf = frame
	} else {
		c.wbuf = nil
	}
	return c.writeLocked(ctx, websocket.TextMessage, frame)
}

// writable fails when ctx is done or the connection has ended.
func (c *Conn) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// writeLocked writes one frame under c.wmu, honouring ctx and the write
// timeout. It returns the frame size.
func (c *Conn) writeLocked(ctx context.Context, typ int, frame []byte) (int, error) {
	deadline := time.Now().Add(c.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.ws.SetWriteDeadline(deadline)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		// Interrupt a blocked write; gorilla then fails the connection.
		_ = c.ws.NetConn().SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	err := c.ws.WriteMessage(typ, frame)
	if !stop() {
		<-fired
	}
	if err != nil {
		// A failed or partial write leaves the stream unusable.
		_ = c.ws.Close()
		select {
		case <-c.done:
			return 0, c.err
		default:
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return 0, fmt.Errorf("%w: write interrupted: %w", ErrConnectionLost, ctxErr)
		}
		return 0, fmt.Errorf("%w: write: %w", ErrConnectionLost, err)
	}
	c.msgsSent.Add(1)
	return len(frame), nil
}

// wait blocks until cl completes, the connection ends or ctx is done.
func (c *Conn) wait(ctx context.Context, cl *call) error {
	select {
	case <-cl.done:
		return cl.err
	case <-c.done:
	case <-ctx.Done():
	}
	if c.forget(cl) { // completed meanwhile
		return cl.err
	}
	select {
	case <-c.done:
		return c.err
	default:
		return ctx.Err()
	}
}

// countingConn counts bytes on the TCP connection.
type countingConn struct {
	net.Conn
	sent, recv *atomic.Int64
}

func (cc *countingConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	cc.recv.Add(int64(n))
	return n, err
}

func (cc *countingConn) Write(p []byte) (int, error) {
	n, err := cc.Conn.Write(p)
	cc.sent.Add(int64(n))
	return n, err
}
