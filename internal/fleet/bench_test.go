package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubcap-dev/hubcap/xk6-jupyterhub/kernel"
)

func benchRegistration(i int) Registration {
	u := "user" + strconv.Itoa(i/30)
	s := "s" + strconv.Itoa(i%30)
	return Registration{
		User: u, ServerName: s, BaseURL: "/user/" + u + "/" + s + "/",
		APIToken: "0123456789abcdef0123456789abcdef", OAuthClientID: "jupyterhub-user-" + u + "-" + s,
		HubAPIURL: "http://127.0.0.1:8081/hub/api", HubPrefix: "/hub/", HubVersion: "5.5.1",
	}
}

// BenchmarkRegister measures one registration (the fleet side of a spawn).
func BenchmarkRegister(b *testing.B) {
	s := New(Config{Secret: "x"})
	defer s.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Register(benchRegistration(i % 90000)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerMemory reports the heap held per registered, unused
// server (bytes/server), over 10,000 servers.
func BenchmarkServerMemory(b *testing.B) {
	const n = 10000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New(Config{Secret: "x"})
		for i := 0; i < n; i++ {
			s.Register(benchRegistration(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/server")
		runtime.KeepAlive(s)
		s.Close()
	}
}

// BenchmarkExecute measures a print cell round trip over the v1 websocket
// with no simulated compute time.
func BenchmarkExecute(b *testing.B) {
	hub := newFakeHub(b)
	hub.addUser("t", "user0")
	s := New(Config{Secret: "x"})
	defer s.Close()
	reg := benchRegistration(0)
	reg.HubAPIURL = hub.apiURL()
	s.Register(reg)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	srv := ts.URL
	req, _ := http.NewRequest("POST", srv+reg.BaseURL+"api/kernels", strings.NewReader(`{"name":"python3"}`))
	req.Header.Set("Authorization", "token t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatal(resp, err)
	}
	var km struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&km)
	resp.Body.Close()
	id := km.ID
	ctx := context.Background()
	c, err := kernel.Dial(ctx, "ws"+srv[len("http"):]+reg.BaseURL+"api/kernels/"+id+"/channels",
		kernel.DialOptions{Protocol: kernel.ProtocolV1, Header: http.Header{"Authorization": {"token t"}}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Execute(ctx, "print(6*7)")
		if err != nil || res.Stdout != "42\n" {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkRealHubSeed spawns 1,000 named servers through a real hub's
// REST API (50 at a time, honouring 429), reporting seconds per 1,000.
// Run with -benchtime=1x.
func BenchmarkRealHubSeed(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		h := startRealHub(b, "5.5.1", SpawnerOptions{})
		if code := h.api("POST", "/users", map[string]any{"usernames": []string{"alice"}}, nil); code != 201 {
			b.Fatalf("create user: %d", code)
		}
		b.StartTimer()
		start := time.Now()
		const n = 1000
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < 50; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= n {
						return
					}
					for {
						code := h.api("POST", fmt.Sprintf("/users/alice/servers/s%d", i), nil, nil)
						if code == 429 {
							time.Sleep(500 * time.Millisecond)
							continue
						}
						if code != 201 && code != 202 {
							failed.Add(1)
						}
						break
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(time.Since(start).Seconds(), "s/1000-spawns")
		if failed.Load() > 0 {
			b.Fatalf("%d spawns failed", failed.Load())
		}
		for h.fleet.Len() < n {
			time.Sleep(50 * time.Millisecond)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/1000-registered")
	}
}
