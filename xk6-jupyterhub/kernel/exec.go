package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ExecResult is what one execute_request produced.
type ExecResult struct {
	// MsgID is the msg_id of the execute_request.
	MsgID string
	// Status of the execute_reply: "ok", "error" or "aborted".
	Status string
	// ExecutionCount from the execute_reply (or execute_result).
	ExecutionCount int
	// Stdout and Stderr are the concatenated stream outputs.
	Stdout, Stderr string
	// Result is the text/plain of the execute_result, "" if none.
	Result string
	// DisplayData holds the text/plain of each display_data output.
	DisplayData []string
	// Error is set when the code raised (iopub error, or the reply's
	// ename/evalue when no error message arrived).
	Error *KernelError
	// Truncated is true when output beyond DialOptions.MaxOutputBytes was
	// dropped.
	Truncated bool

	// Sent is when the request was written.
	Sent time.Time
	// BusyAfter, ReplyAfter and IdleAfter are the times from Sent to the
	// iopub status busy, the shell execute_reply and the iopub status idle.
	// BusyAfter is 0 if no busy status arrived.
	BusyAfter, ReplyAfter, IdleAfter time.Duration
	// BytesSent is the request frame's size; BytesReceived sums the frames
	// whose parent is the request (websocket payloads, without framing).
	BytesSent, BytesReceived int64
	// Messages counts the received messages whose parent is the request.
	Messages int
}

// Duration is the time from Sent until both the reply and idle arrived.
func (r ExecResult) Duration() time.Duration { return max(r.ReplyAfter, r.IdleAfter) }

// Err returns nil when Status is "ok", else an error wrapping ErrExecution
// (and the *KernelError when there is one).
func (r ExecResult) Err() error {
	switch {
	case r.Status == "ok":
		return nil
	case r.Error != nil:
		return fmt.Errorf("%w: status %s: %w", ErrExecution, r.Status, r.Error)
	default:
		return fmt.Errorf("%w: status %q", ErrExecution, r.Status)
	}
}

// KernelError is an exception raised by executed code.
type KernelError struct {
	EName     string   `json:"ename"`
	EValue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

// Error returns "ename: evalue".
func (e *KernelError) Error() string { return e.EName + ": " + e.EValue }

// executeRequest is the content of an execute_request, in the field order
// of the messaging spec.
type executeRequest struct {
	Code            string         `json:"code"`
	Silent          bool           `json:"silent"`
	StoreHistory    bool           `json:"store_history"`
	UserExpressions map[string]any `json:"user_expressions"`
	AllowStdin      bool           `json:"allow_stdin"`
	StopOnError     bool           `json:"stop_on_error"`
}

// executeContent is the JSON of executeRequest{Code: code, StoreHistory:
// true, UserExpressions: {}, StopOnError: true}, as json.Marshal writes it.
func executeContent(code string) json.RawMessage {
	b := make([]byte, 0, len(code)+120)
	b = append(b, `{"code":`...)
	b = appendString(b, code)
	b = append(b, `,"silent":false,"store_history":true,"user_expressions":{},"allow_stdin":false,"stop_on_error":true}`...)
	return b
}

// execOutput is the union of the iopub and shell contents Execute reads.
type execOutput struct {
	ExecutionState string         `json:"execution_state"`
	Name           string         `json:"name"`
	Text           string         `json:"text"`
	Data           map[string]any `json:"data"`
	ExecutionCount *int           `json:"execution_count"`
	Status         string         `json:"status"`
	EName          string         `json:"ename"`
	EValue         string         `json:"evalue"`
	Traceback      []string       `json:"traceback"`

	// plain is data["text/plain"] when read by readOutputFast (Data nil).
	plain string
}

// readOutput reads the content of a message of msgType into out: directly
// for the messages of every execution when their values are plain, else
// with encoding/json. execute_input's content (the code) is not read.
func readOutput(msgType string, content []byte, out *execOutput) {
	switch msgType {
	case "execute_input":
		return
	case "status", "stream", "execute_result", "execute_reply":
		if readOutputFast(content, out) {
			return
		}
		*out = execOutput{}
	}
	_ = json.Unmarshal(content, out) // a bad content leaves zero fields
}

func readOutputFast(content []byte, out *execOutput) bool {
	return eachField(content, func(k, v []byte) bool {
		ok := true
		switch string(k) {
		case "execution_state":
			out.ExecutionState, ok = internValue(v)
		case "name":
			out.Name, ok = internValue(v)
		case "text":
			out.Text, ok = stringValue(v)
		case "status":
			out.Status, ok = internValue(v)
		case "execution_count":
			if string(v) != "null" {
				var n int
				n, ok = intValue(v)
				out.ExecutionCount = &n
			}
		case "data":
			var raw []byte
			if raw, ok = field(v, "text/plain"); ok {
				out.plain, ok = stringValue(raw)
			} else {
				ok = eachField(v, func(_, _ []byte) bool { return true }) // no text/plain
			}
		case "ename", "evalue", "traceback":
			ok = false // errors are rare: encoding/json reads them
		default:
			ok = !foldsTo(k, "execution_state", "name", "text", "data", "execution_count", "status", "ename", "evalue", "traceback")
		}
		return ok
	})
}

// plainOf is the text/plain of out's data.
func plainOf(out *execOutput) string {
	if out.Data != nil {
		return plainText(out.Data)
	}
	return out.plain
}

// Execute runs code on the kernel (execute_request on shell with silent
// false, store_history true, allow_stdin false, stop_on_error true) and
// collects the outputs whose parent is the request until both the
// execute_reply and the iopub status idle have arrived.
//
// A kernel exception is not a Go error: Execute returns it in
// ExecResult.Error with Status "error" (see ExecResult.Err). Errors wrap
// ErrConnectionLost, ErrClosed, ErrKernelRestarted or ctx's error.
// After ctx ends, late messages of the request are counted as unmatched.
func (c *Conn) Execute(ctx context.Context, code string) (ExecResult, error) {
	now := time.Now()
	m := Message{Channel: "shell", Header: Header{MsgID: uuid.NewString(), MsgType: "execute_request",
		Username: c.username, Session: c.session, Date: string(appendDate(make([]byte, 0, len(dateLayout)), now)),
		Version: ProtocolVersion}, ParentHeader: emptyObject, Metadata: emptyObject}
	var (
		res              ExecResult
		gotReply, gotIdl bool
		kept             int
		limit            = c.opts.MaxOutputBytes
	)
	res.MsgID = m.Header.MsgID
	keep := func(s string) string {
		if kept+len(s) > limit {
			res.Truncated = true
			s = s[:max(0, limit-kept)]
		}
		kept += len(s)
		return s
	}
	cl := &call{done: make(chan struct{})}
	cl.handle = func(msg Message, size int, at time.Time) bool {
		res.Messages++
		res.BytesReceived += int64(size)
		var out execOutput
		readOutput(msg.Header.MsgType, msg.Content, &out)
		switch msg.Header.MsgType {
		case "status":
			switch out.ExecutionState {
			case "busy":
				if res.BusyAfter == 0 {
					res.BusyAfter = at.Sub(res.Sent)
				}
			case "idle":
				if !gotIdl {
					gotIdl = true
					res.IdleAfter = at.Sub(res.Sent)
				}
			}
		case "stream":
			if out.Name == "stderr" {
				res.Stderr += keep(out.Text)
			} else {
				res.Stdout += keep(out.Text)
			}
		case "execute_result":
			res.Result = keep(plainOf(&out))
			if out.ExecutionCount != nil {
				res.ExecutionCount = *out.ExecutionCount
			}
		case "display_data", "update_display_data":
			res.DisplayData = append(res.DisplayData, keep(plainOf(&out)))
		case "error":
			res.Error = &KernelError{EName: out.EName, EValue: keep(out.EValue), Traceback: out.Traceback}
		case "execute_reply":
			if !gotReply {
				gotReply = true
				res.ReplyAfter = at.Sub(res.Sent)
				res.Status = out.Status
				if out.ExecutionCount != nil {
					res.ExecutionCount = *out.ExecutionCount
				}
				if out.Status == "error" && res.Error == nil {
					res.Error = &KernelError{EName: out.EName, EValue: keep(out.EValue), Traceback: out.Traceback}
				}
			}
		}
		return gotReply && gotIdl
	}
	// Register before sending: the reply may beat the return of send.
	c.mu.Lock()
	res.Sent = time.Now()
	cl.ids = append(cl.ids, m.Header.MsgID)
	c.pending[m.Header.MsgID] = cl
	c.mu.Unlock()
	var n int
	var err error
	if c.proto == ProtocolLegacy {
		n, err = c.sendExecute(ctx, m.Header, code) // the frame EncodeJSON would make
	} else {
		m.Content = executeContent(code)
		n, err = c.send(ctx, m)
	}
	if err != nil {
		c.forget(cl)
		return ExecResult{MsgID: m.Header.MsgID}, err
	}
	c.mu.Lock()
	res.BytesSent = int64(n)
	c.mu.Unlock()
	if err := c.wait(ctx, cl); err != nil {
		return ExecResult{MsgID: m.Header.MsgID}, err
	}
	return res, nil
}

// plainText returns data["text/plain"] as a string (kernels send a string;
// a list of lines is joined).
func plainText(data map[string]any) string {
	switch v := data["text/plain"].(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, s := range v {
			if s, ok := s.(string); ok {
				b.WriteString(s)
			}
		}
		return b.String()
	}
	return ""
}

func executionState(content json.RawMessage) string {
	var s struct {
		ExecutionState string `json:"execution_state"`
	}
	_ = json.Unmarshal(content, &s)
	return s.ExecutionState
}

// KernelInfo is the content of a kernel_info_reply.
type KernelInfo struct {
	Status                string `json:"status"`
	ProtocolVersion       string `json:"protocol_version"`
	Implementation        string `json:"implementation"`
	ImplementationVersion string `json:"implementation_version"`
	LanguageInfo          struct {
		Name          string `json:"name"`
		Version       string `json:"version"`
		FileExtension string `json:"file_extension"`
	} `json:"language_info"`
	Banner string `json:"banner"`

	// Attempts is how many kernel_info_requests were sent.
	Attempts int `json:"-"`
	// Elapsed is the time from the first request to the reply.
	Elapsed time.Duration `json:"-"`
}

// KernelInfo sends kernel_info_request on shell and waits for the reply:
// the readiness probe after Dial. A kernel that is still starting, or a
// server still wiring the channels, may drop the first requests, so it
// resends after DialOptions.KernelInfoInterval, doubling up to 4 times
// that, and accepts a reply to any of its requests. Without a deadline on
// ctx it gives up after DialOptions.Timeout. Errors wrap ErrNoReply (and
// the context error), ErrConnectionLost, ErrClosed or ErrKernelRestarted.
func (c *Conn) KernelInfo(ctx context.Context) (KernelInfo, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	var info KernelInfo
	var infoErr error
	cl := &call{done: make(chan struct{})}
	cl.handle = func(msg Message, _ int, _ time.Time) bool {
		if msg.Channel != "shell" || msg.Header.MsgType != "kernel_info_reply" {
			return false // iopub busy/idle around the reply
		}
		infoErr = json.Unmarshal(msg.Content, &info)
		return true
	}
	start := time.Now()
	interval := c.opts.KernelInfoInterval
	defer c.forget(cl)
	for attempt := 1; ; attempt++ {
		info.Attempts = attempt
		m := NewMessage("shell", "kernel_info_request", c.session, c.username, nil)
		if !c.register(cl, m.Header.MsgID) {
			break // a reply to an earlier request came in meanwhile
		}
		if _, err := c.send(ctx, m); err != nil {
			return KernelInfo{}, c.infoErr(ctx, err, attempt, start)
		}
		t := time.NewTimer(interval)
		select {
		case <-cl.done:
			t.Stop()
			if cl.err != nil {
				return KernelInfo{}, cl.err
			}
			if infoErr != nil {
				return KernelInfo{}, fmt.Errorf("%w: bad kernel_info_reply: %v", ErrNoReply, infoErr)
			}
			info.Attempts = attempt
			info.Elapsed = time.Since(start)
			return info, nil
		case <-c.done:
			t.Stop()
			return KernelInfo{}, c.err
		case <-ctx.Done():
			t.Stop()
			if c.forget(cl) && cl.err == nil && infoErr == nil {
				info.Attempts = attempt
				info.Elapsed = time.Since(start)
				return info, nil
			}
			return KernelInfo{}, c.infoErr(ctx, ctx.Err(), attempt, start)
		case <-t.C:
		}
		interval = min(2*interval, 4*c.opts.KernelInfoInterval)
	}
	<-cl.done
	if cl.err != nil || infoErr != nil {
		return KernelInfo{}, errors.Join(cl.err, infoErr)
	}
	info.Elapsed = time.Since(start)
	return info, nil
}

func (c *Conn) infoErr(ctx context.Context, err error, attempts int, start time.Time) error {
	if ctx.Err() != nil && err == ctx.Err() {
		return fmt.Errorf("%w: %d kernel_info_requests in %v got no kernel_info_reply; is the kernel alive (GET /api/kernels/<id>)? %w",
			ErrNoReply, attempts, time.Since(start).Round(time.Millisecond), err)
	}
	return err
}
