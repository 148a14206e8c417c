package kernel

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func benchMessage() Message {
	return NewMessage("iopub", "stream", "0b6c1f4e-4bd6-4b8e-9d8a-2f0d7c1e5a11", "alice",
		map[string]string{"name": "stdout", "text": strings.Repeat("x", 200) + "\n"})
}

func BenchmarkEncodeV1(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeV1(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeV1(b *testing.B) {
	frame, err := EncodeV1(benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeV1(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeJSON(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	frame, err := EncodeJSON(benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParentMsgID(b *testing.B) {
	m := benchMessage()
	m.ParentHeader = []byte(`{"msg_id":"0b6c1f4e-4bd6-4b8e-9d8a-2f0d7c1e5a11","msg_type":"execute_request","username":"alice","session":"s","date":"2025-03-01T10:00:00.100000Z","version":"5.3"}`)
	b.ReportAllocs()
	for b.Loop() {
		if m.ParentMsgID() == "" {
			b.Fatal("no parent")
		}
	}
}

// BenchmarkConnMemory reports the heap and stack held per open, idle
// connection after a KernelInfo round trip. The fake server's side of each
// connection (gorilla conn, 4 KiB buffers, handler goroutine) lives in the
// same process and is included, so the figure is an upper bound for the
// client alone. Target: < 100 KiB per session.
func BenchmarkConnMemory(b *testing.B) {
	f := newFakeKernel(b, true)
	const n = 200
	ctx := context.Background()
	var perConn float64
	for b.Loop() {
		before := heapAndStacks()
		conns := make([]*Conn, n)
		for i := range conns {
			c, err := Dial(ctx, f.url(), DialOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.KernelInfo(ctx); err != nil {
				b.Fatal(err)
			}
			conns[i] = c
		}
		after := heapAndStacks()
		perConn = float64(after-before) / n
		for _, c := range conns {
			c.Close()
		}
	}
	b.ReportMetric(perConn, "B/conn")
}

func heapAndStacks() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// BenchmarkClientReceive is the client's work for one execution's frames as
// jupyter_server sends them on the legacy protocol (status busy,
// execute_input, execute_result, execute_reply, status idle): decode,
// parent lookup and content reading, as readLoop and Execute do them
// ("route": the routing readLoop does for the frames it reads directly).
func BenchmarkClientReceive(b *testing.B) {
	parent := NewMessage("shell", "execute_request", "s", "alice", executeContent("5 * 4"))
	ph := appendHeader(nil, parent.Header)
	var frames [][]byte
	for _, f := range []struct {
		ch, typ string
		content any
	}{
		{"iopub", "status", map[string]string{"execution_state": "busy"}},
		{"iopub", "execute_input", map[string]any{"code": "5 * 4", "execution_count": 1}},
		{"iopub", "execute_result", map[string]any{"data": map[string]string{"text/plain": "20"}, "metadata": map[string]any{}, "execution_count": 1}},
		{"shell", "execute_reply", map[string]any{"status": "ok", "execution_count": 1, "user_expressions": map[string]any{}, "payload": []any{}}},
		{"iopub", "status", map[string]string{"execution_state": "idle"}},
	} {
		m := NewMessage(f.ch, f.typ, "k", "alice", f.content)
		m.ParentHeader = ph
		fr, _, err := EncodeServerLegacy(m)
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, fr)
	}
	b.Run("route", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, fr := range frames {
				r, ok := routeLegacy(fr)
				if !ok || string(r.parentID) != parent.Header.MsgID {
					b.Fatal("not routed")
				}
				var out execOutput
				readOutput(r.msgType, r.content, &out)
			}
		}
	})
	for _, c := range []struct {
		name   string
		decode func([]byte) (Message, error)
		read   func(string, []byte, *execOutput)
		parent func(Message) string
	}{
		{"direct", decodeReceived, readOutput, parentID},
		{"encoding-json", DecodeJSON, func(_ string, c []byte, o *execOutput) { _ = json.Unmarshal(c, o) }, Message.ParentMsgID},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, fr := range frames {
					m, err := c.decode(fr)
					if err != nil || c.parent(m) != parent.Header.MsgID {
						b.Fatal(err)
					}
					var out execOutput
					c.read(m.Header.MsgType, m.Content, &out)
				}
			}
		})
	}
}
