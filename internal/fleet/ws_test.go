package fleet

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

// startKernel makes a kernel on alice's server and returns its channels URL.
func startTestKernel(t *testing.T, f *testFleet) string {
	t.Helper()
	resp := f.do("POST", "/user/alice/s1/api/kernels", "t", map[string]string{"name": "python3"})
	wantStatus(t, resp, http.StatusCreated)
	var k struct{ ID string }
	decodeJSON(t, resp, &k)
	return "ws" + strings.TrimPrefix(f.ts.URL, "http") + "/user/alice/s1/api/kernels/" + k.ID + "/channels"
}

func dialKernel(t *testing.T, wsURL string, proto kernel.Protocol) *kernel.Conn {
	t.Helper()
	ctx, _ := contextWithTimeout(t, 10*time.Second)
	c, err := kernel.Dial(ctx, wsURL, kernel.DialOptions{
		Protocol: proto,
		Header:   http.Header{"Authorization": {"token t"}},
		Timeout:  5 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", proto, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestKernelWebsocketProtocols(t *testing.T) {
	for _, proto := range []kernel.Protocol{kernel.ProtocolV1, kernel.ProtocolLegacy} {
		t.Run(proto.String(), func(t *testing.T) {
			f := newTestFleet(t, Config{ExecTime: ExecTime{Mean: 5 * time.Millisecond}})
			f.put("alice", "s1")
			f.hub.addUser("t", "alice")
			c := dialKernel(t, startTestKernel(t, f), proto)
			if c.Protocol() != proto {
				t.Fatalf("negotiated %v, want %v", c.Protocol(), proto)
			}
			ctx, _ := contextWithTimeout(t, 10*time.Second)
			info, err := c.KernelInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = info

			cases := []struct {
				code, stdout, result, ename string
				count                       int
			}{
				{"print(6*7)", "42\n", "", "", 1},
				{"(1 + 2) * 3", "", "9", "", 2},
				{"import time; time.sleep(0.01)\nprint('done', 7 // 2)\n7 / 2", "done 3\n", "3.5", "", 3},
				{"1/0", "", "", "ZeroDivisionError", 4},
				{"x = load_data()", "", "", "", 5},
			}
			for _, cs := range cases {
				res, err := c.Execute(ctx, cs.code)
				if err != nil {
					t.Fatalf("%q: %v", cs.code, err)
				}
				if res.Stdout != cs.stdout || res.Result != cs.result || res.ExecutionCount != cs.count {
					t.Errorf("%q: stdout %q result %q count %d, want %q %q %d", cs.code, res.Stdout, res.Result, res.ExecutionCount, cs.stdout, cs.result, cs.count)
				}
				switch {
				case cs.ename == "" && res.Status != "ok":
					t.Errorf("%q: status %q", cs.code, res.Status)
				case cs.ename != "" && (res.Status != "error" || res.Error == nil || res.Error.EName != cs.ename):
					t.Errorf("%q: status %q error %v, want %s", cs.code, res.Status, res.Error, cs.ename)
				}
				if res.BusyAfter == 0 || res.IdleAfter == 0 {
					t.Errorf("%q: no busy/idle status", cs.code)
				}
			}
			// the kernel reports its connection while connected
			var km map[string]any
			resp := f.do("GET", "/user/alice/s1/api/kernels", "t", nil)
			var list []map[string]any
			decodeJSON(t, resp, &list)
			km = list[0]
			if km["connections"] != float64(1) || km["execution_state"] != "idle" {
				t.Errorf("kernel model while connected: %v", km)
			}
		})
	}
}

func TestKernelInterrupt(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.hub.addUser("t", "alice")
	wsURL := startTestKernel(t, f)
	c := dialKernel(t, wsURL, kernel.ProtocolAuto)
	ctx, _ := contextWithTimeout(t, 20*time.Second)
	done := make(chan kernel.ExecResult, 1)
	go func() {
		res, _ := c.Execute(ctx, "import time\ntime.sleep(30)")
		done <- res
	}()
	// interrupt through the REST API once the cell runs
	kid := wsURL[strings.Index(wsURL, "/kernels/")+len("/kernels/") : strings.LastIndex(wsURL, "/channels")]
	deadline := time.Now().Add(5 * time.Second)
	for {
		var k map[string]any
		resp := f.do("GET", "/user/alice/s1/api/kernels/"+kid, "t", nil)
		decodeJSON(t, resp, &k)
		if k["execution_state"] == "busy" || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp := f.do("POST", "/user/alice/s1/api/kernels/"+kid+"/interrupt", "t", nil)
	wantStatus(t, resp, http.StatusNoContent)
	resp.Body.Close()
	select {
	case res := <-done:
		if res.Error == nil || res.Error.EName != "KeyboardInterrupt" {
			t.Fatalf("interrupted cell: status %q error %v", res.Status, res.Error)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("interrupt did not stop the sleep")
	}
}

// rawDial opens a websocket with gorilla directly (legacy JSON frames).
func rawDial(t *testing.T, wsURL string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(wsURL, hdr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func TestStopOnErrorAbortsQueue(t *testing.T) {
	f := newTestFleet(t, Config{ExecTime: ExecTime{Mean: 20 * time.Millisecond}})
	f.put("alice", "s1")
	f.hub.addUser("t", "alice")
	c, _, err := rawDial(t, startTestKernel(t, f), http.Header{"Authorization": {"token t"}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(code string) string {
		m := kernel.NewMessage("shell", "execute_request", "sess", "u", map[string]any{"code": code, "silent": false, "store_history": true, "stop_on_error": true})
		b, _ := kernel.EncodeJSON(m)
		if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
		return m.Header.MsgID
	}
	first, second := send("1/0"), send("print(1)")
	replies := map[string]string{}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(replies) < 2 {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		m, err := kernel.DecodeJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.MsgType == "execute_reply" {
			var st struct{ Status string }
			jsonUnmarshal(t, m.Content, &st)
			replies[m.ParentMsgID()] = st.Status
		}
	}
	if replies[first] != "error" || replies[second] != "aborted" {
		t.Fatalf("replies %v, want error then aborted", replies)
	}
}

func TestWebsocketAuth(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.put("bob", "")
	f.hub.addUser("t", "alice")
	f.hub.addUser("tb", "bob")
	wsURL := startTestKernel(t, f)
	for _, c := range []struct {
		name string
		hdr  http.Header
		url  string
		want int
	}{
		{"no credentials", nil, wsURL, http.StatusForbidden},
		{"another user's token", http.Header{"Authorization": {"token tb"}}, wsURL, http.StatusForbidden},
		{"?token= without Sec-Fetch-Mode is ignored", nil, wsURL + "?token=t", http.StatusForbidden},
		{"?token= from a browser websocket", http.Header{"Sec-Fetch-Mode": {"websocket"}}, wsURL + "?token=t", http.StatusSwitchingProtocols},
		{"unknown kernel", http.Header{"Authorization": {"token t"}}, wsURL[:strings.Index(wsURL, "/kernels/")] + "/kernels/nope/channels", http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, resp, _ := rawDial(t, c.url, c.hdr)
			if resp == nil || resp.StatusCode != c.want {
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				t.Fatalf("handshake status %d, want %d", code, c.want)
			}
		})
	}
}

func TestUnregisterClosesWebsockets(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.hub.addUser("t", "alice")
	c := dialKernel(t, startTestKernel(t, f), kernel.ProtocolV1)
	f.s.Unregister("alice", "s1")
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the websocket stayed open after the server was stopped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Execute(ctx, "1"); err == nil {
		t.Fatal("execute on a stopped server succeeded")
	}
}

// TestLegacyFramesAsHubtrafReadsThem sends hubtraf's execute_request as it
// writes it (a header without session or date, allow_stdin true) and reads
// the answers as hubtraf does: top-level msg_type and channel, parent_header
// msg_id, content.data["text/plain"]. jupyter_server puts msg_id and
// msg_type at the top level of every legacy frame; the parent header is the
// request's header as sent.
func TestLegacyFramesAsHubtrafReadsThem(t *testing.T) {
	f := newTestFleet(t, Config{})
	f.put("alice", "s1")
	f.hub.addUser("t", "alice")
	c, _, err := rawDial(t, startTestKernel(t, f), http.Header{"Authorization": {"token t"}})
	if err != nil {
		t.Fatal(err)
	}
	req := `{"header":{"msg_id":"hubtraf-1","username":"alice","msg_type":"execute_request","version":"5.2"},` +
		`"metadata":{},"content":{"code":"5 * 4","silent":false,"store_history":true,"user_expressions":{},` +
		`"allow_stdin":true,"stop_on_error":true},"buffers":[],"parent_header":{},"channel":"shell"}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var result string
	for seen := map[string]bool{}; !seen["execute_reply"] || !seen["idle"]; {
		typ, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.TextMessage {
			t.Fatalf("frame type %d, want text", typ)
		}
		var msg struct {
			MsgID        string                     `json:"msg_id"`
			MsgType      string                     `json:"msg_type"`
			Channel      string                     `json:"channel"`
			Header       map[string]any             `json:"header"`
			ParentHeader map[string]any             `json:"parent_header"`
			Content      map[string]json.RawMessage `json:"content"`
		}
		jsonUnmarshal(t, b, &msg)
		if msg.MsgType == "" || msg.MsgType != msg.Header["msg_type"] || msg.MsgID == "" || msg.MsgID != msg.Header["msg_id"] {
			t.Fatalf("top-level msg_id %q msg_type %q do not repeat the header %v", msg.MsgID, msg.MsgType, msg.Header)
		}
		if want := map[string]any{"msg_id": "hubtraf-1", "username": "alice", "msg_type": "execute_request", "version": "5.2"}; !reflect.DeepEqual(msg.ParentHeader, want) {
			t.Errorf("%s: parent_header %v, want the request's header %v", msg.MsgType, msg.ParentHeader, want)
		}
		seen[msg.MsgType] = true
		switch msg.MsgType {
		case "execute_result":
			var data map[string]string
			jsonUnmarshal(t, msg.Content["data"], &data)
			result = data["text/plain"]
		case "status":
			if string(msg.Content["execution_state"]) == `"idle"` {
				seen["idle"] = true
			}
		}
	}
	if result != "20" {
		t.Errorf("execute_result text/plain %q, want 20", result)
	}
}
