package kernel

import (
	"context"
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
