package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubcap-dev/hubcap/internal/fleet/pyeval"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// The kernel websocket (/api/kernels/{id}/channels). A connection uses the
// v1.kernel.websocket.jupyter.org binary framing when the client offers it,
// else legacy JSON text frames. Two goroutines per connection: the reader
// (the handler's own), which answers control messages itself, and the
// shell loop, which runs shell messages one at a time per kernel (as
// ipykernel does) and publishes their iopub messages to the requesting
// connection. Closing the connection abandons a running cell.

const (
	wsWriteTimeout = 10 * time.Second
	shellQueueLen  = 32
	// maxConnsPerServer bounds one server's kernel websockets (each costs
	// two goroutines and its buffers).
	maxConnsPerServer = 64
)

// helpLink is one of ipykernel's help_links.
func helpLink(text, url string) map[string]any { return map[string]any{"text": text, "url": url} }

// ipykernel 6.29's kernel_info_reply (kernelbase.kernel_info_request): the
// same keys and kinds, the version strings of a Python 3.11 image.
var kernelInfoContent = map[string]any{
	"status":                 "ok",
	"protocol_version":       kernel.ProtocolVersion,
	"implementation":         "ipython",
	"implementation_version": "8.32.0",
	"language_info": map[string]any{
		"name":               "python",
		"version":            "3.11.2",
		"mimetype":           "text/x-python",
		"codemirror_mode":    map[string]any{"name": "ipython", "version": 3},
		"pygments_lexer":     "ipython3",
		"nbconvert_exporter": "python",
		"file_extension":     ".py",
	},
	"banner": "Python 3.11.2 | hubcap fleet kernel\n",
	"help_links": []any{
		helpLink("Python Reference", "https://docs.python.org/3.11"),
		helpLink("IPython Reference", "https://ipython.org/documentation.html"),
		helpLink("NumPy Reference", "https://docs.scipy.org/doc/numpy/reference/"),
		helpLink("SciPy Reference", "https://docs.scipy.org/doc/scipy/reference/"),
		helpLink("Matplotlib Reference", "https://matplotlib.org/contents.html"),
		helpLink("SymPy Reference", "http://docs.sympy.org/latest/index.html"),
		helpLink("pandas Reference", "https://pandas.pydata.org/pandas-docs/stable/"),
	},
}

type wsConn struct {
	s    *Server
	c    *websocket.Conn
	v1   bool
	inst *instance
	k    *kernelState

	ctx    context.Context
	cancel context.CancelFunc

	writeMu   sync.Mutex
	closeOnce sync.Once
}

// close ends the connection; safe from any goroutine, any number of times.
func (wc *wsConn) close() {
	wc.closeOnce.Do(func() {
		wc.cancel()
		wc.c.Close()
	})
}

func (s *Server) serveChannels(w http.ResponseWriter, r *http.Request, inst *instance, k *kernelState) {
	if !websocket.IsWebSocketUpgrade(r) {
		writeJSONError(w, http.StatusBadRequest, "websocket upgrade required")
		return
	}
	inst.mu.Lock()
	busy := len(inst.conns) >= maxConnsPerServer
	inst.mu.Unlock()
	if busy {
		writeJSONError(w, http.StatusServiceUnavailable, fmt.Sprintf("hubcap fleet: this server already has %d kernel websockets; close some", maxConnsPerServer))
		return
	}
	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader replied
	}
	ctx, cancel := context.WithCancel(context.Background())
	wc := &wsConn{s: s, c: c, v1: c.Subprotocol() == kernel.SubprotocolV1, inst: inst, k: k, ctx: ctx, cancel: cancel}
	if !s.trackConn(wc) {
		wc.close()
		return
	}
	defer s.untrackConn(wc)
	defer wc.close()

	inst.mu.Lock()
	if inst.gone || len(inst.conns) >= maxConnsPerServer {
		inst.mu.Unlock()
		return
	}
	if inst.conns == nil {
		inst.conns = make(map[*wsConn]struct{})
	}
	inst.conns[wc] = struct{}{}
	inst.mu.Unlock()
	defer func() {
		inst.mu.Lock()
		delete(inst.conns, wc)
		inst.mu.Unlock()
	}()

	k.mu.Lock()
	if k.dead {
		k.mu.Unlock()
		return
	}
	if k.conns == nil {
		k.conns = make(map[*wsConn]struct{})
	}
	k.conns[wc] = struct{}{}
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.conns, wc)
		k.mu.Unlock()
	}()

	c.SetReadLimit(s.cfg.MaxMessageBytes)
	queue := make(chan kernel.Message, shellQueueLen)
	shellDone := make(chan struct{})
	go func() {
		defer close(shellDone)
		wc.shellLoop(queue)
	}()
	wc.readLoop(queue)
	wc.close()
	<-shellDone
}

// readLoop decodes client frames, answers control messages and queues
// shell messages, until the connection fails or closes.
func (wc *wsConn) readLoop(queue chan<- kernel.Message) {
	for {
		typ, frame, err := wc.c.ReadMessage()
		if err != nil {
			return
		}
		var m kernel.Message
		switch {
		case wc.v1 && typ == websocket.BinaryMessage:
			m, err = kernel.DecodeV1(frame)
		case !wc.v1 && typ == websocket.TextMessage:
			m, err = kernel.DecodeJSON(frame)
		case !wc.v1 && typ == websocket.BinaryMessage:
			m, err = kernel.DecodeLegacyBinary(frame)
		default:
			err = fmt.Errorf("unexpected frame type %d", typ)
		}
		if err != nil {
			wc.s.log.Debug("fleet: dropped bad kernel frame", "err", err)
			continue
		}
		switch m.Channel {
		case "", "shell":
			m.Channel = "shell"
			select {
			case queue <- m:
			case <-wc.ctx.Done():
				return
			}
		case "control":
			wc.handleControl(m)
		default:
			// iopub/stdin from a client: nothing to do (no input() here)
		}
	}
}

func (wc *wsConn) shellLoop(queue <-chan kernel.Message) {
	for {
		select {
		case <-wc.ctx.Done():
			return
		case m, ok := <-queue:
			if !ok {
				return
			}
			wc.handleShell(m, queue)
		}
	}
}

// abortQueued replies "aborted" to the execute requests already queued
// after a failed cell with stop_on_error, as ipykernel's _abort_queues
// does (stop_on_error_timeout 0); other queued requests run normally.
func (wc *wsConn) abortQueued(queue <-chan kernel.Message) {
	for {
		select {
		case m, ok := <-queue:
			if !ok {
				return
			}
			if m.Header.MsgType != "execute_request" {
				wc.simpleShell(m)
				continue
			}
			wc.status(m, "busy")
			wc.send(wc.reply(m, "shell", "execute_reply", map[string]any{"status": "aborted"}))
			wc.status(m, "idle")
		default:
			return
		}
	}
}

func headerJSON(h kernel.Header) json.RawMessage {
	b, err := json.Marshal(h)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// reply makes a message from the kernel whose parent is req.
func (wc *wsConn) reply(req kernel.Message, channel, msgType string, content any) kernel.Message {
	m := kernel.NewMessage(channel, msgType, wc.k.session, req.Header.Username, content)
	if len(req.RawHeader) > 0 {
		m.ParentHeader = req.RawHeader // ipykernel echoes the request's header
	} else {
		m.ParentHeader = headerJSON(req.Header)
	}
	return m
}

// send writes m in the connection's framing; a failed write closes it.
func (wc *wsConn) send(m kernel.Message) bool {
	var (
		frame []byte
		err   error
		typ   = websocket.TextMessage
	)
	if wc.v1 {
		frame, err = kernel.EncodeV1(m)
		typ = websocket.BinaryMessage
	} else {
		var bin bool
		frame, bin, err = kernel.EncodeServerLegacy(m)
		if bin {
			typ = websocket.BinaryMessage
		}
	}
	if err != nil {
		wc.s.log.Debug("fleet: cannot encode kernel message", "type", m.Header.MsgType, "err", err)
		return false
	}
	wc.writeMu.Lock()
	defer wc.writeMu.Unlock()
	if wc.ctx.Err() != nil {
		return false
	}
	wc.c.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	if err := wc.c.WriteMessage(typ, frame); err != nil {
		go wc.close()
		return false
	}
	return true
}

func (wc *wsConn) status(req kernel.Message, state string) {
	wc.send(wc.reply(req, "iopub", "status", map[string]string{"execution_state": state}))
}

func (wc *wsConn) touch() {
	now := wc.s.now()
	wc.inst.touch(now)
	wc.k.mu.Lock()
	wc.k.lastActivity = now
	wc.k.mu.Unlock()
}

// simpleReply answers the non-execute requests ipykernel handles; ok is
// false for unknown message types.
func simpleReply(req kernel.Message) (string, any, bool) {
	switch req.Header.MsgType {
	case "kernel_info_request":
		return "kernel_info_reply", kernelInfoContent, true
	case "comm_info_request":
		return "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}}, true
	case "history_request":
		return "history_reply", map[string]any{"status": "ok", "history": []any{}}, true
	case "is_complete_request":
		return "is_complete_reply", map[string]any{"status": "complete"}, true
	case "complete_request":
		var c struct {
			CursorPos int `json:"cursor_pos"`
		}
		json.Unmarshal(req.Content, &c)
		return "complete_reply", map[string]any{"status": "ok", "matches": []any{}, "cursor_start": c.CursorPos, "cursor_end": c.CursorPos, "metadata": map[string]any{}}, true
	case "inspect_request":
		return "inspect_reply", map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}}, true
	}
	return "", nil, false
}

// handleShell runs one shell message, holding the kernel's shell.
func (wc *wsConn) handleShell(m kernel.Message, queue <-chan kernel.Message) {
	k := wc.k
	k.execMu.Lock()
	defer k.execMu.Unlock()
	if wc.ctx.Err() != nil {
		return
	}
	wc.touch()
	defer wc.touch()
	if m.Header.MsgType == "execute_request" {
		wc.execute(m, queue)
		return
	}
	wc.simpleShell(m)
}

// simpleShell answers a non-execute shell request between busy and idle
// (ipykernel publishes both even for unknown types).
func (wc *wsConn) simpleShell(m kernel.Message) {
	wc.status(m, "busy")
	if typ, content, ok := simpleReply(m); ok {
		wc.send(wc.reply(m, "shell", typ, content))
	}
	wc.status(m, "idle")
}

func (wc *wsConn) handleControl(m kernel.Message) {
	wc.touch()
	wc.status(m, "busy")
	switch m.Header.MsgType {
	case "interrupt_request":
		wc.k.interrupt()
		wc.send(wc.reply(m, "control", "interrupt_reply", map[string]any{"status": "ok"}))
	case "shutdown_request":
		var c struct {
			Restart bool `json:"restart"`
		}
		json.Unmarshal(m.Content, &c)
		wc.k.interrupt()
		wc.k.mu.Lock()
		wc.k.execCount = 0
		wc.k.mu.Unlock()
		wc.send(wc.reply(m, "control", "shutdown_reply", map[string]any{"status": "ok", "restart": c.Restart}))
	default:
		if typ, content, ok := simpleReply(m); ok {
			wc.send(wc.reply(m, "control", typ, content))
		}
	}
	wc.status(m, "idle")
}

type executeRequest struct {
	Code         string `json:"code"`
	Silent       bool   `json:"silent"`
	StoreHistory *bool  `json:"store_history"`
	StopOnError  *bool  `json:"stop_on_error"`
}

// wait sleeps d unless ctx ends first; it reports whether it slept fully.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// traceback is IPython's error display, reduced.
func traceback(ename, evalue string, count, line int) []string {
	return []string{
		"\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
		fmt.Sprintf("\x1b[0;31m%s\x1b[0m                         Traceback (most recent call last)", ename),
		fmt.Sprintf("Cell \x1b[0;32mIn[%d], line %d\x1b[0m\n", count, line),
		fmt.Sprintf("\x1b[0;31m%s\x1b[0m: %s", ename, evalue),
	}
}

// execute runs an execute_request: busy, execute_input, the cell's stream
// output after its compute time and sleeps, execute_result or error,
// execute_reply, idle. A failed cell with stop_on_error aborts the queued
// execute requests before its idle.
func (wc *wsConn) execute(m kernel.Message, queue <-chan kernel.Message) {
	k := wc.k
	var req executeRequest
	json.Unmarshal(m.Content, &req) // a bad content runs as empty code
	store := !req.Silent && (req.StoreHistory == nil || *req.StoreHistory)
	stopOnError := req.StopOnError == nil || *req.StopOnError

	ctx, cancel := context.WithCancel(wc.ctx)
	defer cancel()
	k.mu.Lock()
	if store {
		k.execCount++
	}
	n := k.execCount
	k.state = "busy"
	k.cancel = cancel
	k.mu.Unlock()
	idle := func() {
		k.mu.Lock()
		k.state = "idle"
		k.cancel = nil
		k.mu.Unlock()
		wc.status(m, "idle")
	}
	started := isoTime(wc.s.now())

	wc.status(m, "busy")
	if !req.Silent {
		wc.send(wc.reply(m, "iopub", "execute_input", map[string]any{"code": req.Code, "execution_count": n}))
	}
	res := pyeval.Evaluate(req.Code, wc.s.cfg.MaxSleep)
	ok := wait(ctx, wc.s.sample(wc.s.cfg.ExecTime))
	for _, st := range res.Steps {
		if !ok {
			break
		}
		switch st.Kind {
		case pyeval.StepSleep:
			ok = wait(ctx, st.D)
		case pyeval.StepStdout:
			wc.send(wc.reply(m, "iopub", "stream", map[string]string{"name": "stdout", "text": st.Text}))
		}
	}
	perr := res.Err
	if !ok {
		perr = &pyeval.Exception{EName: "KeyboardInterrupt", EValue: "", Line: 1}
	}
	md := map[string]any{"started": started, "dependencies_met": true, "engine": k.session, "status": "ok"}
	if perr != nil {
		tb := traceback(perr.EName, perr.EValue, n, perr.Line)
		wc.send(wc.reply(m, "iopub", "error", map[string]any{"ename": perr.EName, "evalue": perr.EValue, "traceback": tb}))
		md["status"] = "error"
		rep := wc.reply(m, "shell", "execute_reply", map[string]any{
			"status": "error", "execution_count": n, "ename": perr.EName, "evalue": perr.EValue,
			"traceback": tb, "user_expressions": map[string]any{}, "payload": []any{},
			// ipykernel's deprecated ipyparallel field, still sent by 6.29
			"engine_info": map[string]any{"engine_uuid": k.session, "engine_id": -1, "method": "execute"},
		})
		rep.Metadata = mustJSON(md)
		wc.send(rep)
		if stopOnError {
			wc.abortQueued(queue)
		}
		idle()
		return
	}
	if res.HasResult && !req.Silent {
		wc.send(wc.reply(m, "iopub", "execute_result", map[string]any{
			"execution_count": n, "data": map[string]string{"text/plain": res.Result}, "metadata": map[string]any{},
		}))
	}
	rep := wc.reply(m, "shell", "execute_reply", map[string]any{
		"status": "ok", "execution_count": n, "user_expressions": map[string]any{}, "payload": []any{},
	})
	rep.Metadata = mustJSON(md)
	wc.send(rep)
	idle()
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}
