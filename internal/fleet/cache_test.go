package fleet

import (
	"strconv"
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTTLCache[int](3, 10*time.Second)
	for i := 0; i < 3; i++ {
		c.put(strconv.Itoa(i), i, now)
	}
	// touching "0" makes "1" the least recently used
	if v, ok := c.get("0", now); !ok || v != 0 {
		t.Fatalf("get(0) = %v, %v", v, ok)
	}
	c.put("3", 3, now)
	if _, ok := c.get("1", now); ok {
		t.Errorf("the least recently used entry survived past the bound")
	}
	if c.len() != 3 {
		t.Errorf("len %d, want the bound 3", c.len())
	}
	// expiry
	if _, ok := c.get("0", now.Add(10*time.Second)); ok {
		t.Errorf("an entry outlived its TTL")
	}
	// take removes
	if v, ok := c.take("3", now); !ok || v != 3 {
		t.Errorf("take(3) = %v, %v", v, ok)
	}
	if _, ok := c.peek("3", now); ok {
		t.Errorf("take left the entry")
	}
	// a put sweeps expired entries from the cold end
	c.put("new", 9, now.Add(time.Hour))
	if c.len() != 1 {
		t.Errorf("len %d after a put past every TTL, want 1", c.len())
	}
}
