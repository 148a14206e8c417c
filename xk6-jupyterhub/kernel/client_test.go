package kernel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func dial(t *testing.T, f *fakeKernel, opts DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, f.url(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The negotiation matrix: what the client asks, what the server supports.
func TestProtocolNegotiationAndExecute(t *testing.T) {
	cases := []struct {
		name     string
		serverV1 bool
		ask      Protocol
		want     Protocol
	}{
		{"auto picks v1 when the server selects it", true, ProtocolAuto, ProtocolV1},
		{"auto falls back to legacy when the server does not select v1", false, ProtocolAuto, ProtocolLegacy},
		{"forced legacy stays legacy on a v1 server", true, ProtocolLegacy, ProtocolLegacy},
		{"forced v1 on a v1 server", true, ProtocolV1, ProtocolV1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeKernel(t, tc.serverV1)
			c := dial(t, f, DialOptions{Protocol: tc.ask})
			if c.Protocol() != tc.want {
				t.Fatalf("Protocol() = %v, want %v", c.Protocol(), tc.want)
			}
			ctx := testCtx(t)
			info, err := c.KernelInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.ProtocolVersion != "5.3" || info.LanguageInfo.Name != "python" || info.Attempts != 1 {
				t.Errorf("KernelInfo = %+v", info)
			}

			r, err := c.Execute(ctx, "print(6*7)")
			if err != nil {
				t.Fatal(err)
			}
			if r.Stdout != "42\n" || r.Status != "ok" || r.Err() != nil || r.Result != "" {
				t.Errorf("print(6*7): %+v", r)
			}
			if r.ReplyAfter <= 0 || r.IdleAfter <= 0 || r.BusyAfter <= 0 || r.Duration() < r.ReplyAfter {
				t.Errorf("timings %v %v %v", r.BusyAfter, r.ReplyAfter, r.IdleAfter)
			}

			r, err = c.Execute(ctx, "1+1")
			if err != nil {
				t.Fatal(err)
			}
			if r.Result != "2" || r.Stdout != "" || r.ExecutionCount != 2 {
				t.Errorf("1+1: %+v", r)
			}

			r, err = c.Execute(ctx, "1/0")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != "error" || r.Error == nil || r.Error.EName != "ZeroDivisionError" || r.Error.EValue != "division by zero" || len(r.Error.Traceback) != 2 {
				t.Errorf("1/0: %+v %+v", r, r.Error)
			}
			if err := r.Err(); !errors.Is(err, ErrExecution) || !strings.Contains(err.Error(), "ZeroDivisionError") {
				t.Errorf("Err() = %v", err)
			}

			// Binary frames with buffers (v1 always; legacy for display data with buffers).
			r, err = c.Execute(ctx, "display:a plot")
			if err != nil {
				t.Fatal(err)
			}
			if len(r.DisplayData) != 1 || r.DisplayData[0] != "a plot" {
				t.Errorf("display: %+v", r)
			}
			if st := c.Stats(); st.BadFrames != 0 || st.Unmatched == 0 {
				t.Errorf("stats %+v: want no bad frames and the other client's output unmatched", st)
			}
		})
	}
}

func TestForcedV1FailsOnLegacyServer(t *testing.T) {
	f := newFakeKernel(t, false)
	c, err := Dial(testCtx(t), f.url(), DialOptions{Protocol: ProtocolV1})
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("Dial = %v, %v; want ErrProtocol", c, err)
	}
}

func TestDialSendsHeadersAndSession(t *testing.T) {
	f := newFakeKernel(t, true)
	h := http.Header{"Authorization": {"token s3cret"}}
	c := dial(t, f, DialOptions{Header: h, Username: "alice"})
	f.mu.Lock()
	got, q := f.reqHeader.Get("Authorization"), f.query
	f.mu.Unlock()
	if got != "token s3cret" {
		t.Errorf("Authorization = %q", got)
	}
	v, _ := url.ParseQuery(q)
	if v.Get("session_id") == "" || v.Get("session_id") != c.Session() {
		t.Errorf("session_id %q, Session() %q", v.Get("session_id"), c.Session())
	}

	// A session id in the URL is kept and used.
	c2, err := Dial(testCtx(t), f.url()+"?session_id=fixed-1", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Session() != "fixed-1" {
		t.Errorf("Session() = %q, want the URL's fixed-1", c2.Session())
	}
}

func TestHandshakeErrorHidesToken(t *testing.T) {
	f := newFakeKernel(t, true)
	f.status = http.StatusForbidden
	_, err := Dial(testCtx(t), f.url()+"?token=s3cret", DialOptions{})
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v, want ErrHandshake with 403", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the token: %v", err)
	}
	if _, err := Dial(testCtx(t), "ftp://x/", DialOptions{}); !errors.Is(err, ErrHandshake) {
		t.Errorf("ftp URL: %v", err)
	}
}

// Replies interleave across concurrent requests; each call must get only
// its own output.
func TestConcurrentExecuteDispatch(t *testing.T) {
	for _, v1 := range []bool{true, false} {
		t.Run(fmt.Sprintf("v1=%v", v1), func(t *testing.T) {
			f := newFakeKernel(t, v1)
			c := dial(t, f, DialOptions{})
			ctx := testCtx(t)
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 20
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				code := fmt.Sprintf("sleep:%d:out-%d", rng.IntN(30), i)
				wg.Go(func() {
					r, err := c.Execute(ctx, code)
					if err != nil {
						errs <- err
						return
					}
					if want := fmt.Sprintf("out-%d", i); r.Stdout != want || r.Status != "ok" {
						errs <- fmt.Errorf("call %d got %+v", i, r)
					}
					if got := f.bytesFor(r.MsgID); r.BytesReceived != got || got == 0 {
						errs <- fmt.Errorf("call %d: BytesReceived %d, server sent %d", i, r.BytesReceived, got)
					}
					if r.BytesSent == 0 || r.Messages != 5 {
						errs <- fmt.Errorf("call %d: BytesSent %d Messages %d (want busy, input, stream, reply, idle)", i, r.BytesSent, r.Messages)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			st := c.Stats()
			if st.MessagesSent != n || st.BytesSent == 0 || st.BytesReceived == 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestServerCloseMidExecute(t *testing.T) {
	f := newFakeKernel(t, true)
	c := dial(t, f, DialOptions{})
	ctx := testCtx(t)
	// Another call pending at the same time must fail too.
	hung := make(chan error, 1)
	go func() {
		_, err := c.Execute(ctx, "hang")
		hung <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_, err := c.Execute(ctx, "drop")
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("err = %v, want ErrConnectionLost", err)
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseInternalServerErr || !strings.Contains(err.Error(), "kernel crashed") {
		t.Errorf("err = %v, want close code 1011 and reason", err)
	}
	if err := <-hung; !errors.Is(err, ErrConnectionLost) {
		t.Errorf("pending call: %v", err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), ErrConnectionLost) {
		t.Errorf("Err() = %v", c.Err())
	}
	if _, err := c.Execute(ctx, "1+1"); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Execute after loss: %v", err)
	}
	if _, err := c.KernelInfo(ctx); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("KernelInfo after loss: %v", err)
	}
}

func TestTCPCutMidExecute(t *testing.T) {
	f := newFakeKernel(t, false)
	c := dial(t, f, DialOptions{})
	_, err := c.Execute(testCtx(t), "cut")
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("err = %v, want ErrConnectionLost", err)
	}
}

func TestKeepaliveDetectsDeadPeer(t *testing.T) {
	f := newFakeKernel(t, true)
	f.noPong = true
	c := dial(t, f, DialOptions{PingInterval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond})
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("a peer that answers no pings was not detected")
	}
	if !errors.Is(c.Err(), ErrConnectionLost) {
		t.Errorf("Err() = %v", c.Err())
	}
}

func TestKeepaliveKeepsIdleConnection(t *testing.T) {
	f := newFakeKernel(t, true)
	c := dial(t, f, DialOptions{PingInterval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond})
	time.Sleep(400 * time.Millisecond) // several read deadlines, extended by pongs
	if err := c.Err(); err != nil {
		t.Fatalf("idle connection with pongs ended: %v", err)
	}
	if r, err := c.Execute(testCtx(t), "1+1"); err != nil || r.Result != "2" {
		t.Fatalf("Execute after idle: %+v %v", r, err)
	}
}

func TestExecuteContextCancel(t *testing.T) {
	f := newFakeKernel(t, true)
	c := dial(t, f, DialOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Execute(ctx, "hang")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	// The connection stays usable and the abandoned call is forgotten.
	r, err := c.Execute(testCtx(t), "print(6*7)")
	if err != nil || r.Stdout != "42\n" {
		t.Fatalf("after cancel: %+v %v", r, err)
	}
	c.mu.Lock()
	n := len(c.pending)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d calls still pending", n)
	}
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c.Execute(done, "1+1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if _, err := c.KernelInfo(done); !errors.Is(err, context.Canceled) {
		t.Errorf("KernelInfo cancelled ctx: %v", err)
	}
}

func TestKernelInfoRetries(t *testing.T) {
	f := newFakeKernel(t, true)
	f.ignoreInfo = 2
	c := dial(t, f, DialOptions{KernelInfoInterval: 20 * time.Millisecond})
	info, err := c.KernelInfo(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Attempts != 3 || info.Implementation != "fake" {
		t.Errorf("KernelInfo = %+v, want an answer on the third attempt", info)
	}
}

func TestKernelInfoTimeout(t *testing.T) {
	f := newFakeKernel(t, false)
	f.ignoreInfo = 1000
	c := dial(t, f, DialOptions{KernelInfoInterval: 10 * time.Millisecond, Timeout: 150 * time.Millisecond})
	_, err := c.KernelInfo(context.Background()) // bounded by Timeout
	if !errors.Is(err, ErrNoReply) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNoReply and DeadlineExceeded", err)
	}
	if c.Err() != nil {
		t.Errorf("connection ended: %v", c.Err())
	}
}

func TestKernelRestartFailsPending(t *testing.T) {
	f := newFakeKernel(t, true)
	c := dial(t, f, DialOptions{})
	_, err := c.Execute(testCtx(t), "restart")
	if !errors.Is(err, ErrKernelRestarted) {
		t.Fatalf("err = %v, want ErrKernelRestarted", err)
	}
}

func TestCloseIsIdempotentAndFailsPending(t *testing.T) {
	f := newFakeKernel(t, true)
	c := dial(t, f, DialOptions{})
	pending := make(chan error, 1)
	go func() {
		_, err := c.Execute(context.Background(), "hang")
		pending <- err
	}()
	time.Sleep(20 * time.Millisecond)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := <-pending; !errors.Is(err, ErrClosed) {
		t.Errorf("pending Execute: %v, want ErrClosed", err)
	}
	if _, err := c.Execute(context.Background(), "1+1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Execute after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestOutputIsBounded(t *testing.T) {
	f := newFakeKernel(t, true)
	c := dial(t, f, DialOptions{MaxOutputBytes: 1000})
	r, err := c.Execute(testCtx(t), "big:5000")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Stdout) != 1000 || !r.Truncated || r.BytesReceived < 5000 {
		t.Errorf("stdout %d bytes, truncated %v, received %d", len(r.Stdout), r.Truncated, r.BytesReceived)
	}
}

func TestParseProtocol(t *testing.T) {
	for s, want := range map[string]Protocol{"": ProtocolAuto, "auto": ProtocolAuto, "v1": ProtocolV1, "legacy": ProtocolLegacy} {
		if got, err := ParseProtocol(s); err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %v, %v", s, got, err)
		}
		if want.String() == "" {
			t.Errorf("empty String for %d", want)
		}
	}
	if _, err := ParseProtocol("v2"); err == nil {
		t.Error("ParseProtocol(v2) succeeded")
	}
}

func TestBadFramesAreCountedAndSkipped(t *testing.T) {
	for _, v1 := range []bool{true, false} {
		f := newFakeKernel(t, v1)
		c := dial(t, f, DialOptions{})
		r, err := c.Execute(testCtx(t), "garbage")
		if err != nil || r.Stdout != "42\n" {
			t.Fatalf("v1=%v: %+v %v", v1, r, err)
		}
		if st := c.Stats(); st.BadFrames != 2 {
			t.Errorf("v1=%v: BadFrames = %d, want 2", v1, st.BadFrames)
		}
	}
}

func TestTLS(t *testing.T) {
	f := newFakeKernelTLS(t)
	if !strings.HasPrefix(f.url(), "wss://") {
		t.Fatalf("url %s", f.url())
	}
	if _, err := Dial(testCtx(t), f.url(), DialOptions{}); !errors.Is(err, ErrHandshake) {
		t.Errorf("self-signed certificate accepted without InsecureSkipVerify: %v", err)
	}
	c := dial(t, f, DialOptions{InsecureSkipVerify: true})
	if r, err := c.Execute(testCtx(t), "1+1"); err != nil || r.Result != "2" {
		t.Fatalf("over wss: %+v %v", r, err)
	}
	// The trust can also come from the caller's TLS config.
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	c2 := dial(t, f, DialOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if _, err := c2.KernelInfo(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestAfterDone: a function given to AfterDone runs once the connection
// ends, and at once when it has already ended.
func TestAfterDone(t *testing.T) {
	f := newFakeKernel(t, true)
	c, err := Dial(context.Background(), f.url(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 2)
	c.AfterDone(func() { ran <- c.Err() })
	select {
	case <-ran:
		t.Fatal("ran before the connection ended")
	case <-time.After(50 * time.Millisecond):
	}
	c.Close()
	select {
	case err := <-ran:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Err() in the function = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not run after Close")
	}
	c.AfterDone(func() { ran <- nil })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("did not run when registered after the end")
	}
}
