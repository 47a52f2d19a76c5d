package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAuthCachesScrapeStats: every scrape reads the caches' counts anew;
// a known cache that is not reported shows zeros, an unknown name is
// "other", and the fill ratio is size over bound.
func TestAuthCachesScrapeStats(t *testing.T) {
	m := New()
	stats := []CacheStats{
		{Cache: "grant", Hits: 5, Misses: 2, Evictions: 1, Entries: 3, Size: 2048, MaxSize: 8192},
		{Cache: "decision", Hits: 40, Misses: 9, Entries: 9, Size: 9, MaxSize: 18},
		{Cache: "bogus", Hits: 1},
	}
	m.AuthCaches(func() []CacheStats { return stats })
	m.AuthCaches(func() []CacheStats { t.Fatal("a second AuthCaches replaced the first"); return nil })
	want := `
# HELP hermes_auth_cache_evictions_total Entries pushed out of a full cache of token verification to make room, by cache.
# TYPE hermes_auth_cache_evictions_total counter
hermes_auth_cache_evictions_total{cache="decision"} 0
hermes_auth_cache_evictions_total{cache="details"} 0
hermes_auth_cache_evictions_total{cache="grant"} 1
hermes_auth_cache_evictions_total{cache="other"} 0
# HELP hermes_auth_cache_fill_ratio How full a cache of token verification is: its size over its bound (bytes for grant and details, entries for decision), by cache.
# TYPE hermes_auth_cache_fill_ratio gauge
hermes_auth_cache_fill_ratio{cache="decision"} 0.5
hermes_auth_cache_fill_ratio{cache="details"} 0
hermes_auth_cache_fill_ratio{cache="grant"} 0.25
hermes_auth_cache_fill_ratio{cache="other"} 0
# HELP hermes_auth_cache_hits_total Lookups answered by a cache of token verification, by cache: grant (verified tokens), details (parsed authorization_details), decision (grant and topic).
# TYPE hermes_auth_cache_hits_total counter
hermes_auth_cache_hits_total{cache="decision"} 40
hermes_auth_cache_hits_total{cache="details"} 0
hermes_auth_cache_hits_total{cache="grant"} 5
hermes_auth_cache_hits_total{cache="other"} 1
`
	names := []string{"hermes_auth_cache_hits_total", "hermes_auth_cache_evictions_total", "hermes_auth_cache_fill_ratio"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// A later scrape sees the counts of then.
	stats[0].Hits = 6
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(strings.Replace(want, `{cache="grant"} 5`, `{cache="grant"} 6`, 1)), names...); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(newAuthCacheCollector(func() []CacheStats { return nil })); n != 5*len(authCaches) {
		t.Fatalf("%d series without stats, want %d (every known cache at zero)", n, 5*len(authCaches))
	}
}
