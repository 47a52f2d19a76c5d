package auth

import "sync"

// clockCache is a bounded map with CLOCK eviction (second chance): a hit
// only sets a bit, and a full cache evicts the first entry the hand finds
// unused since its last pass. It is bounded by a total size its caller
// measures per entry, so that large keys (whole tokens) cannot blow it up.
type clockCache[K comparable, V any] struct {
	mu      sync.Mutex
	idx     map[K]int
	ring    []clockEntry[K, V]
	free    []int // positions of dead entries in ring
	hand    int
	size    int // sum of entry sizes
	maxSize int

	hits, misses, evictions uint64
}

type clockEntry[K comparable, V any] struct {
	key  K
	val  V
	size int
	used bool
	live bool
}

func newClockCache[K comparable, V any](maxSize int) *clockCache[K, V] {
	return &clockCache[K, V]{idx: make(map[K]int), maxSize: maxSize}
}

func (c *clockCache[K, V]) get(k K) (v V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.idx[k]
	if !ok {
		c.misses++
		return v, false
	}
	c.hits++
	c.ring[i].used = true
	return c.ring[i].val, true
}

// put stores k; an entry larger than the whole cache is not kept.
func (c *clockCache[K, V]) put(k K, v V, size int) {
	if size > c.maxSize {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.idx[k]; ok {
		c.size += size - c.ring[i].size
		c.ring[i].val, c.ring[i].size = v, size
	} else {
		c.size += size
		slot := -1
		if n := len(c.free); n > 0 {
			slot, c.free = c.free[n-1], c.free[:n-1]
		} else {
			slot = len(c.ring)
			c.ring = append(c.ring, clockEntry[K, V]{})
		}
		c.ring[slot] = clockEntry[K, V]{key: k, val: v, size: size, live: true}
		c.idx[k] = slot
	}
	for c.size > c.maxSize {
		c.evictOne(c.idx[k])
	}
}

// evictOne removes the next entry the hand finds unused, never keep.
func (c *clockCache[K, V]) evictOne(keep int) {
	for {
		c.hand = (c.hand + 1) % len(c.ring)
		e := &c.ring[c.hand]
		if !e.live || c.hand == keep {
			continue
		}
		if e.used {
			e.used = false
			continue
		}
		delete(c.idx, e.key)
		c.size -= e.size
		*e = clockEntry[K, V]{}
		c.free = append(c.free, c.hand)
		c.evictions++
		return
	}
}

// remove drops k.
func (c *clockCache[K, V]) remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.idx[k]; ok {
		delete(c.idx, k)
		c.size -= c.ring[i].size
		c.ring[i] = clockEntry[K, V]{}
		c.free = append(c.free, i)
	}
}

// stats returns the hits, misses and entries so far.
func (c *clockCache[K, V]) stats() (hits, misses uint64, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, len(c.idx)
}

// snapshot returns the cache's counts as CacheStats named name.
func (c *clockCache[K, V]) snapshot(name string) CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{
		Cache: name, Hits: c.hits, Misses: c.misses, Evictions: c.evictions,
		Entries: len(c.idx), Size: c.size, MaxSize: c.maxSize,
	}
}
