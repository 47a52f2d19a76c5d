package topic

import "sync"

// boundedCache is a small concurrency-safe map with a hard size limit. When
// full, inserting evicts one arbitrary entry (Go randomizes map iteration
// order, which makes this random eviction): no bookkeeping per hit, and an
// attacker cycling keys cannot grow it.
type boundedCache[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]V
	max int
}

func newBoundedCache[K comparable, V any](max int) *boundedCache[K, V] {
	return &boundedCache[K, V]{m: make(map[K]V, max), max: max}
}

func (c *boundedCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *boundedCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
	c.mu.Unlock()
}
