package attendee

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// rawKernelFrames opens the kernel's websocket itself, once per framing
// (v1 subprotocol and legacy JSON), sends kernel_info_request and three
// execute_requests (print → stream, 5*4 → execute_result, 1/0 → error),
// and records the shape of every frame the server sent in reply, raw, as
// "ws <framing> <channel> <msg_type>": for legacy text frames the decoded
// JSON object (top-level keys included: jupyter_server adds msg_id and
// msg_type there), for v1 frames each part under its name (header,
// parent_header, metadata, content) and the number of parts. Frames of the
// same kind merge, so a key that one of them lacks still shows.
func rawKernelFrames(t *testing.T, ctx context.Context, s *Session, obs observed) {
	t.Helper()
	for _, v1 := range []bool{true, false} {
		framing := "legacy"
		if v1 {
			framing = "v1"
		}
		h := http.Header{}
		h.Set("User-Agent", s.cfg.UserAgent)
		h.Set("Origin", s.base.Scheme+"://"+s.base.Host)
		if x := s.serverXSRF(); x != "" {
			h.Set("X-XSRFToken", x)
		}
		d := websocket.Dialer{Jar: s.jar, HandshakeTimeout: 10 * time.Second}
		if v1 {
			d.Subprotocols = []string{kernel.SubprotocolV1}
		}
		session := s.newUUID()
		ws, _, err := d.DialContext(ctx, s.wsURL(session), h)
		if err != nil {
			t.Fatalf("raw %s websocket: %v", framing, err)
		}
		if v1 != (ws.Subprotocol() == kernel.SubprotocolV1) {
			t.Fatalf("raw %s websocket: subprotocol %q", framing, ws.Subprotocol())
		}
		request := func(msgType string, content any) {
			t.Helper()
			m := kernel.NewMessage("shell", msgType, session, s.cfg.Username, content)
			var frame []byte
			typ := websocket.TextMessage
			if v1 {
				frame, err = kernel.EncodeV1(m)
				typ = websocket.BinaryMessage
			} else {
				frame, err = kernel.EncodeJSON(m)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := ws.WriteMessage(typ, frame); err != nil {
				t.Fatalf("raw %s: write %s: %v", framing, msgType, err)
			}
			// until the reply and the idle status of this request
			reply, idle := false, false
			for !reply || !idle {
				ws.SetReadDeadline(time.Now().Add(20 * time.Second))
				ft, data, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("raw %s: waiting for the answers to %s: %v", framing, msgType, err)
				}
				name, parent, shape, err := frameShape(v1, ft, data)
				if err != nil {
					t.Fatalf("raw %s: %v", framing, err)
				}
				if parent != m.Header.MsgID {
					continue // jupyter_server's own nudge, or an earlier request's late message
				}
				key := "ws " + framing + " " + name
				if obs[key] == nil {
					obs[key] = map[string]string{}
				}
				for k, v := range shape {
					obs[key][k] = mergeKind(obs[key][k], v)
				}
				switch name {
				case "iopub status":
					var c struct {
						Content struct {
							State string `json:"execution_state"`
						} `json:"content"`
					}
					if m, err := decodeAny(v1, ft, data); err == nil {
						json.Unmarshal(m.Content, &c.Content)
					}
					idle = idle || c.Content.State == "idle"
				case "shell " + msgType[:len(msgType)-len("request")] + "reply":
					reply = true
				}
			}
		}
		request("kernel_info_request", map[string]any{})
		for _, code := range []string{"print(6*7)", "5 * 4", "1/0"} {
			request("execute_request", map[string]any{"code": code, "silent": false, "store_history": true,
				"user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true})
		}
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		ws.Close()
	}
}

func decodeAny(v1 bool, ft int, data []byte) (kernel.Message, error) {
	switch {
	case ft == websocket.TextMessage:
		return kernel.DecodeJSON(data)
	case v1:
		return kernel.DecodeV1(data)
	}
	return kernel.DecodeLegacyBinary(data)
}

// frameShape returns "<channel> <msg_type>", the parent msg_id and the
// shape of one raw frame from the server, independently of the kernel
// package's decoders (which ignore keys they do not know).
func frameShape(v1 bool, ft int, data []byte) (name, parent string, shape map[string]string, err error) {
	var top map[string]any
	switch {
	case ft == websocket.TextMessage && !v1:
		if err := json.Unmarshal(data, &top); err != nil {
			return "", "", nil, fmt.Errorf("legacy text frame is not a JSON object: %v", err)
		}
		shape = jsonShape(top)
	case ft == websocket.BinaryMessage && v1:
		if len(data) < 8 {
			return "", "", nil, fmt.Errorf("v1 frame of %d bytes", len(data))
		}
		n := int(binary.LittleEndian.Uint64(data))
		if n < 6 || 8*(n+1) > len(data) {
			return "", "", nil, fmt.Errorf("v1 frame with %d offsets in %d bytes", n, len(data))
		}
		off := func(i int) int { return int(binary.LittleEndian.Uint64(data[8*(i+1):])) }
		top = map[string]any{"channel": string(data[off(0):off(1)])}
		for i, part := range []string{"header", "parent_header", "metadata", "content"} {
			var v any
			if err := json.Unmarshal(data[off(i+1):off(i+2)], &v); err != nil {
				return "", "", nil, fmt.Errorf("v1 %s: %v", part, err)
			}
			top[part] = v
		}
		shape = jsonShape(top)
		shape["(v1 offsets)"] = fmt.Sprint(n)
	default:
		return "", "", nil, fmt.Errorf("unexpected frame type %d (v1 %v)", ft, v1)
	}
	ch, _ := top["channel"].(string)
	hdr, _ := top["header"].(map[string]any)
	typ, _ := hdr["msg_type"].(string)
	ph, _ := top["parent_header"].(map[string]any)
	parent, _ = ph["msg_id"].(string)
	return ch + " " + typ, parent, shape, nil
}
