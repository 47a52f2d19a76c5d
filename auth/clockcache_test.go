package auth

import (
	"net/http"
	"testing"
)

// TestClockCacheStats: hits, misses, evictions, entries and size are
// counted as the cache is used; an entry pushed out to make room is an
// eviction, an explicit remove is not.
func TestClockCacheStats(t *testing.T) {
	c := newClockCache[int, int](3)
	for i := range 5 {
		c.put(i, i, 1)
	}
	c.get(4)  // hit: the entry just put stays
	c.get(99) // miss
	c.remove(4)
	got := c.snapshot("test")
	want := CacheStats{Cache: "test", Hits: 1, Misses: 1, Evictions: 2, Entries: 2, Size: 2, MaxSize: 3}
	if got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// TestAuthorizerCacheStats: the authorizer reports its three caches by
// name, and a second verification of one token is a hit of the grant
// cache.
func TestAuthorizerCacheStats(t *testing.T) {
	a := newAuth(t)
	tok := modernToken(t, subSecret, modernClaims(hundredPatterns(7)))
	before := a.CacheStats()
	mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
	mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
	after := a.CacheStats()
	if len(after) != 3 || after[0].Cache != CacheGrant || after[1].Cache != CacheDetails || after[2].Cache != CacheDecision {
		t.Fatalf("caches %+v, want grant, details, decision", after)
	}
	g0, g1 := before[0], after[0]
	if g1.Hits != g0.Hits+1 || g1.Misses != g0.Misses+1 || g1.Entries != g0.Entries+1 {
		t.Fatalf("grant cache went from %+v to %+v, want one miss, one hit and one entry more", g0, g1)
	}
	if g1.Size <= g0.Size || g1.Size > g1.MaxSize {
		t.Fatalf("grant cache size went from %d to %d (max %d)", g0.Size, g1.Size, g1.MaxSize)
	}
}
