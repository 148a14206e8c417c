package kernel

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeKernel is an in-process stand-in for jupyter_server's kernel channels
// websocket with an ipykernel-like message sequence, for unit tests of the
// client's dispatch and error paths. Its "kernel" understands a few codes:
//
//	print(6*7)      stream stdout "42\n"
//	1+1             execute_result text/plain "2"
//	1/0             error ZeroDivisionError, reply status error
//	echo:<text>     stream stdout <text>
//	sleep:<ms>:<t>  waits <ms> then stream stdout <t> (requests run concurrently)
//	display:<t>     display_data text/plain <t>, with a buffer (binary frame)
//	hang            status busy, then nothing
//	drop            status busy, then close code 1011 "kernel crashed"
//	cut             status busy, then the TCP connection is cut (no close frame)
//	restart         busy, then a parentless status "restarting"
//	big:<n>         stream stdout of n bytes
//	garbage         a frame that does not decode, then as print(6*7)
type fakeKernel struct {
	t testing.TB
	// selectV1: the server selects SubprotocolV1 when offered.
	selectV1 bool
	// ignoreInfo: how many kernel_info_requests to drop before answering.
	ignoreInfo int
	// noPong: do not read after the upgrade, so pings are never answered.
	noPong bool
	// status: answer the upgrade with this HTTP status instead.
	status int

	mu        sync.Mutex
	reqHeader http.Header
	query     string
	sentBytes map[string]int64 // parent msg_id -> payload bytes sent
	execCount int
	srv       *httptest.Server
	stop      chan struct{}
}

func newFakeKernel(t testing.TB, selectV1 bool) *fakeKernel {
	return startFakeKernel(t, selectV1, httptest.NewServer)
}

// newFakeKernelTLS serves wss:// with httptest's self-signed certificate.
func newFakeKernelTLS(t testing.TB) *fakeKernel {
	return startFakeKernel(t, true, httptest.NewTLSServer)
}

func startFakeKernel(t testing.TB, selectV1 bool, start func(http.Handler) *httptest.Server) *fakeKernel {
	f := &fakeKernel{t: t, selectV1: selectV1, sentBytes: map[string]int64{}, stop: make(chan struct{})}
	f.srv = start(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.stop) })
	return f
}

func (f *fakeKernel) url() string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/api/kernels/k1/channels"
}

func (f *fakeKernel) bytesFor(parent string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sentBytes[parent]
}

type fakeSession struct {
	f    *fakeKernel
	ws   *websocket.Conn
	v1   bool
	wmu  sync.Mutex
	wg   sync.WaitGroup
	info int
}

func (f *fakeKernel) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqHeader = r.Header.Clone()
	f.query = r.URL.RawQuery
	status := f.status
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "nope", status)
		return
	}
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
	if f.selectV1 {
		up.Subprotocols = []string{SubprotocolV1}
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	s := &fakeSession{f: f, ws: ws, v1: ws.Subprotocol() == SubprotocolV1}
	defer s.wg.Wait()
	if f.noPong {
		<-f.stop
		return
	}
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m Message
		switch {
		case s.v1 && typ == websocket.BinaryMessage:
			m, err = DecodeV1(data)
		case !s.v1 && typ == websocket.TextMessage:
			m, err = DecodeJSON(data)
		default:
			f.t.Errorf("fake kernel: frame type %d on protocol v1=%v", typ, s.v1)
			return
		}
		if err != nil {
			f.t.Errorf("fake kernel: bad frame from client: %v", err)
			return
		}
		if !s.handle(m) {
			return
		}
	}
}

// send writes a message with parent req on channel.
func (s *fakeSession) send(req Message, channel, msgType string, content any, buffers ...[]byte) {
	m := NewMessage(channel, msgType, "kernel-session", "kernel", content)
	if req.Header.MsgID != "" {
		m.ParentHeader, _ = json.Marshal(req.Header)
	}
	m.Buffers = buffers
	var frame []byte
	var err error
	typ := websocket.BinaryMessage
	switch {
	case s.v1:
		frame, err = EncodeV1(m)
	case len(buffers) > 0:
		frame, err = EncodeLegacyBinary(m)
	default:
		frame, err = EncodeJSON(m)
		typ = websocket.TextMessage
	}
	if err != nil {
		s.f.t.Errorf("fake kernel encode: %v", err)
		return
	}
	s.f.mu.Lock()
	s.f.sentBytes[req.Header.MsgID] += int64(len(frame))
	s.f.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.ws.WriteMessage(typ, frame)
}

// broadcast sends a parentless iopub message, as jupyter_server does for
// kernel restarts.
func (s *fakeSession) broadcast(msgType string, content any) {
	s.send(Message{}, "iopub", msgType, content)
}

func (s *fakeSession) handle(req Message) bool {
	switch req.Header.MsgType {
	case "kernel_info_request":
		s.f.mu.Lock()
		drop := s.info < s.f.ignoreInfo
		s.info++
		s.f.mu.Unlock()
		if drop {
			return true
		}
		s.send(req, "iopub", "status", map[string]string{"execution_state": "busy"})
		s.send(req, "shell", "kernel_info_reply", map[string]any{
			"status": "ok", "protocol_version": "5.3", "implementation": "fake", "implementation_version": "0",
			"language_info": map[string]string{"name": "python", "version": "3.11"}, "banner": "fake kernel",
		})
		s.send(req, "iopub", "status", map[string]string{"execution_state": "idle"})
		return true
	case "execute_request":
		var c struct{ Code string }
		_ = json.Unmarshal(req.Content, &c)
		switch c.Code {
		case "drop":
			s.send(req, "iopub", "status", map[string]string{"execution_state": "busy"})
			s.wmu.Lock()
			_ = s.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "kernel crashed"))
			s.wmu.Unlock()
			return false
		case "cut":
			s.send(req, "iopub", "status", map[string]string{"execution_state": "busy"})
			_ = s.ws.NetConn().Close()
			return false
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.execute(req, c.Code)
		}()
		return true
	}
	return true
}

func (s *fakeSession) execute(req Message, code string) {
	// Unrelated traffic a real server interleaves: another client's output.
	s.send(Message{Header: Header{MsgID: "someone-else"}}, "iopub", "stream", map[string]string{"name": "stdout", "text": "not yours"})
	s.send(req, "iopub", "status", map[string]string{"execution_state": "busy"})
	s.f.mu.Lock()
	s.f.execCount++
	n := s.f.execCount
	s.f.mu.Unlock()
	s.send(req, "iopub", "execute_input", map[string]any{"code": code, "execution_count": n})
	status := "ok"
	reply := map[string]any{"execution_count": n, "user_expressions": map[string]any{}, "payload": []any{}}
	switch {
	case code == "garbage":
		s.wmu.Lock()
		_ = s.ws.WriteMessage(websocket.BinaryMessage, []byte("\x07not a frame"))
		_ = s.ws.WriteMessage(websocket.TextMessage, []byte("{not json"))
		s.wmu.Unlock()
		fallthrough
	case code == "print(6*7)":
		s.send(req, "iopub", "stream", map[string]string{"name": "stdout", "text": "42\n"})
	case code == "1+1":
		s.send(req, "iopub", "execute_result", map[string]any{"data": map[string]string{"text/plain": "2"}, "metadata": map[string]any{}, "execution_count": n})
	case code == "1/0":
		status = "error"
		e := map[string]any{"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": []string{"Traceback", "ZeroDivisionError: division by zero"}}
		s.send(req, "iopub", "error", e)
		for k, v := range e {
			reply[k] = v
		}
	case strings.HasPrefix(code, "echo:"):
		s.send(req, "iopub", "stream", map[string]string{"name": "stdout", "text": strings.TrimPrefix(code, "echo:")})
	case strings.HasPrefix(code, "sleep:"):
		parts := strings.SplitN(code, ":", 3)
		ms, _ := strconv.Atoi(parts[1])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		s.send(req, "iopub", "stream", map[string]string{"name": "stdout", "text": parts[2]})
	case strings.HasPrefix(code, "display:"):
		s.send(req, "iopub", "display_data", map[string]any{"data": map[string]string{"text/plain": strings.TrimPrefix(code, "display:")}, "metadata": map[string]any{}}, []byte{1, 2, 3})
	case strings.HasPrefix(code, "big:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(code, "big:"))
		s.send(req, "iopub", "stream", map[string]string{"name": "stdout", "text": strings.Repeat("x", n)})
	case code == "hang":
		return
	case code == "restart":
		s.broadcast("status", map[string]string{"execution_state": "restarting"})
		return
	}
	reply["status"] = status
	s.send(req, "shell", "execute_reply", reply)
	s.send(req, "iopub", "status", map[string]string{"execution_state": "idle"})
}
