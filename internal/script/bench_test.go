package script

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/internal/executor"
	"github.com/hubcap-dev/hubcap/internal/metrics"
	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/samples"
)

func benchShared(b *testing.B, script string, sink samples.Sink) *shared {
	b.Helper()
	prog, err := Compile(script)
	if err != nil {
		b.Fatal(err)
	}
	return &shared{prog: prog, reg: metrics.NewRegistry(), sink: sink, env: map[string]string{},
		tags: map[string]string{}, log: &logger{t: &term{w: io.Discard}, start: time.Now()}}
}

func benchParams(ctx context.Context) *executor.ActivationParams {
	var n int64
	var mu sync.Mutex
	return &executor.ActivationParams{
		Context:  ctx,
		Scenario: &executor.ScenarioInfo{Name: "bench", Executor: "constant-vus", StartTime: time.Now()},
		Exec:     "default",
		NextIteration: func() (int64, int64) {
			mu.Lock()
			defer mu.Unlock()
			n++
			return n - 1, n - 1
		},
	}
}

// BenchmarkVUMemory measures the memory of 1,000 VUs idling in sleep(): a
// sobek runtime with the script instantiated, plus the goroutine running
// its iteration. It reports heap and stack bytes per VU.
func BenchmarkVUMemory(b *testing.B) {
	const n = 1000
	sh := benchShared(b, "testdata/idle.js", samples.Discard)
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		vus := make([]*vu, n)
		for i := range vus {
			v, err := newVU(ctx, sh, uint64(i+1))
			if err != nil {
				b.Fatal(err)
			}
			vus[i] = v
			avu := v.Activate(benchParams(ctx))
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = avu.RunOnce()
			}()
		}
		time.Sleep(200 * time.Millisecond) // all VUs reach sleep()
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)
		b.ReportMetric(used/n, "bytes/VU")
		cancel()
		wg.Wait()
		for _, v := range vus {
			sh.prog.vus.Delete(v.rt)
		}
	}
}

// BenchmarkIterationOverhead is the runtime's cost per iteration of an
// empty default function, metrics aggregation included.
func BenchmarkIterationOverhead(b *testing.B) {
	reg := metrics.NewRegistry()
	engine, _ := metrics.NewEngine(reg, nil)
	sh := benchShared(b, "testdata/empty.js", engine)
	sh.reg = reg
	ctx := context.Background()
	v, err := newVU(ctx, sh, 1)
	if err != nil {
		b.Fatal(err)
	}
	avu := v.Activate(benchParams(ctx))
	b.ReportAllocs()
	for b.Loop() {
		if err := avu.RunOnce(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVUInit is the cost of initializing one VU (a runtime plus the
// script's init context).
func BenchmarkVUInit(b *testing.B) {
	sh := benchShared(b, "testdata/basic.js", samples.Discard)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v, err := newVU(ctx, sh, 1)
		if err != nil {
			b.Fatal(err)
		}
		sh.prog.vus.Delete(v.rt)
	}
}
