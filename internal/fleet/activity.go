package fleet

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// Activity reports, as jupyterhub-singleuser's keep_activity_updated: each
// server POSTs {"servers": {name: {"last_activity"}}, "last_activity"} to
// its JUPYTERHUB_ACTIVITY_URL with its API token when it starts and then
// every Config.ActivityInterval ±10 %. This is real load on the hub (one
// request per server per interval) and feeds its idle culling. Unlike
// upstream a failed report is not retried (upstream backs off for up to 60
// s); the next one comes an interval later.

const activityWorkers = 8

type activityItem struct {
	due  time.Time
	inst *instance
}

type activityHeap []activityItem

func (h activityHeap) Len() int           { return len(h) }
func (h activityHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h activityHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *activityHeap) Push(x any)        { *h = append(*h, x.(activityItem)) }
func (h *activityHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// activity schedules the reports of all servers.
type activity struct {
	s        *Server
	interval time.Duration
	mu       sync.Mutex
	h        activityHeap
	wake     chan struct{}
	cancel   context.CancelFunc
	done     sync.WaitGroup
}

func (s *Server) startActivity(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &activity{s: s, interval: interval, wake: make(chan struct{}, 1), cancel: cancel}
	s.activity = a
	jobs := make(chan *instance)
	for i := 0; i < activityWorkers; i++ {
		a.done.Add(1)
		go func() {
			defer a.done.Done()
			for inst := range jobs {
				a.report(ctx, inst)
			}
		}()
	}
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		defer close(jobs)
		a.loop(ctx, jobs)
	}()
}

// schedule queues inst's next report at due.
func (a *activity) schedule(inst *instance, due time.Time) {
	if inst.reg.ActivityURL == "" {
		return
	}
	a.mu.Lock()
	heap.Push(&a.h, activityItem{due: due, inst: inst})
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *activity) loop(ctx context.Context, jobs chan<- *instance) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		a.mu.Lock()
		var wait time.Duration = time.Hour
		var due *instance
		if len(a.h) > 0 {
			if d := a.h[0].due.Sub(a.s.now()); d <= 0 {
				due = heap.Pop(&a.h).(activityItem).inst
			} else {
				wait = d
			}
		}
		a.mu.Unlock()
		if due != nil {
			due.mu.Lock()
			gone := due.gone
			due.mu.Unlock()
			if gone {
				continue
			}
			select {
			case jobs <- due:
			case <-ctx.Done():
				return
			}
			a.s.rngMu.Lock()
			u := a.s.rng.Float64()
			a.s.rngMu.Unlock()
			next := time.Duration(float64(a.interval) * (1 + 0.2*(u-0.5)))
			a.schedule(due, a.s.now().Add(next))
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C:
		}
	}
}

// report sends one activity update for inst.
func (a *activity) report(ctx context.Context, inst *instance) {
	ts := isoTime(inst.lastActive())
	body, _ := json.Marshal(map[string]any{
		"servers":       map[string]any{inst.reg.ServerName: map[string]string{"last_activity": ts}},
		"last_activity": ts,
	})
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, inst.reg.ActivityURL, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "token "+inst.reg.APIToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.s.hub.Do(req)
	if err != nil {
		a.s.log.Debug("fleet: activity report failed", "server", inst.reg.BaseURL, "err", scrub(err, inst.reg.APIToken))
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		a.s.log.Debug("fleet: activity report refused", "server", inst.reg.BaseURL, "status", resp.StatusCode)
	}
}

func (a *activity) stop() {
	a.cancel()
	a.done.Wait()
}
