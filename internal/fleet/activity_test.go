package fleet

import (
	"testing"
	"time"
)

func TestActivityReports(t *testing.T) {
	f := newTestFleet(t, Config{ActivityInterval: 50 * time.Millisecond})
	reg := f.registration("alice", "s1")
	reg.ActivityURL = f.hub.srv.URL + "/hub/api/users/alice/activity"
	if err := f.s.Register(reg); err != nil {
		t.Fatal(err)
	}
	noURL := f.registration("bob", "") // no activity URL: no reports
	f.s.Register(noURL)

	deadline := time.Now().Add(5 * time.Second)
	for {
		f.hub.mu.Lock()
		n := len(f.hub.activity)
		f.hub.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d activity reports in 5 s at a 50 ms interval", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.hub.mu.Lock()
	first := f.hub.activity[0]
	users := map[string]bool{}
	for _, a := range f.hub.activity {
		users[a.user] = true
	}
	f.hub.mu.Unlock()
	if first.user != "alice" || first.auth != "token "+reg.APIToken {
		t.Errorf("report %+v, want alice's with the server's API token", first)
	}
	servers, _ := first.body["servers"].(map[string]any)
	s1, _ := servers["s1"].(map[string]any)
	if ts, _ := first.body["last_activity"].(string); ts == "" || s1["last_activity"] != ts {
		t.Errorf("report body %v", first.body)
	}
	if users["bob"] {
		t.Errorf("a server without an activity URL reported")
	}

	// a stopped server stops reporting
	f.s.Unregister("alice", "s1")
	time.Sleep(100 * time.Millisecond) // a report in flight may still land
	f.hub.mu.Lock()
	n := len(f.hub.activity)
	f.hub.mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	f.hub.mu.Lock()
	m := len(f.hub.activity)
	f.hub.mu.Unlock()
	if m != n {
		t.Errorf("%d reports after the server stopped", m-n)
	}
}
