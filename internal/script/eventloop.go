package script

import (
	"context"
	"sync"
)

// eventLoop runs callbacks on a VU's goroutine: Go code that finishes work
// elsewhere (timers, network calls resolving promises) queues a callback,
// and the loop keeps the current call alive until no callback is pending,
// as k6's event loop does.
type eventLoop struct {
	mu      sync.Mutex
	queue   []func() error
	pending int
	gen     uint64
	wakeup  chan struct{}
}

func newEventLoop() *eventLoop { return &eventLoop{wakeup: make(chan struct{}, 1)} }

// registerCallback reserves a callback slot; see VU.RegisterCallback.
func (l *eventLoop) registerCallback() func(func() error) {
	l.mu.Lock()
	l.pending++
	gen := l.gen
	l.mu.Unlock()
	var once sync.Once
	return func(f func() error) {
		once.Do(func() {
			l.mu.Lock()
			if l.gen != gen { // the call it belonged to is over
				l.mu.Unlock()
				return
			}
			l.queue = append(l.queue, f)
			l.pending--
			l.mu.Unlock()
			select {
			case l.wakeup <- struct{}{}:
			default:
			}
		})
	}
}

// run calls first, then runs queued callbacks until none is queued or
// pending, a callback fails, or ctx is done. Callbacks registered during
// this run and completed after it are dropped.
func (l *eventLoop) run(ctx context.Context, first func() error) error {
	defer func() {
		l.mu.Lock()
		l.gen++
		l.queue, l.pending = nil, 0
		l.mu.Unlock()
	}()
	if err := first(); err != nil {
		return err
	}
	for {
		l.mu.Lock()
		q := l.queue
		l.queue = nil
		pending := l.pending
		l.mu.Unlock()
		if len(q) == 0 {
			if pending == 0 {
				return nil
			}
			select {
			case <-l.wakeup:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for _, f := range q {
			if err := f(); err != nil {
				return err
			}
		}
	}
}
