package fleet

import (
	"container/list"
	"sync"
	"time"
)

// ttlCache is a size-bounded LRU map whose entries expire after ttl.
type ttlCache[V any] struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	ll  *list.List // front = most recently used
	m   map[string]*list.Element
}

type cacheEntry[V any] struct {
	key string
	val V
	exp time.Time
}

func newTTLCache[V any](max int, ttl time.Duration) *ttlCache[V] {
	if max < 1 {
		max = 1
	}
	return &ttlCache[V]{max: max, ttl: ttl, ll: list.New(), m: make(map[string]*list.Element)}
}

// get returns the live value for key.
func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.m[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*cacheEntry[V])
	if !now.Before(e.exp) {
		c.ll.Remove(el)
		delete(c.m, key)
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.val, true
}

// take removes key and returns its live value.
func (c *ttlCache[V]) take(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.m[key]
	if !ok {
		return zero, false
	}
	c.ll.Remove(el)
	delete(c.m, key)
	e := el.Value.(*cacheEntry[V])
	if !now.Before(e.exp) {
		return zero, false
	}
	return e.val, true
}

// peek returns the live value for key without changing its recency.
func (c *ttlCache[V]) peek(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.m[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*cacheEntry[V])
	if !now.Before(e.exp) {
		return zero, false
	}
	return e.val, true
}

// put stores key, evicting expired entries from the cold end and then the
// least recently used ones beyond max.
func (c *ttlCache[V]) put(key string, val V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := now.Add(c.ttl)
	if el, ok := c.m[key]; ok {
		e := el.Value.(*cacheEntry[V])
		e.val, e.exp = val, exp
		c.ll.MoveToFront(el)
		return
	}
	c.m[key] = c.ll.PushFront(&cacheEntry[V]{key: key, val: val, exp: exp})
	for c.ll.Len() > 0 {
		back := c.ll.Back()
		e := back.Value.(*cacheEntry[V])
		if c.ll.Len() <= c.max && now.Before(e.exp) {
			break
		}
		c.ll.Remove(back)
		delete(c.m, e.key)
	}
}

func (c *ttlCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
