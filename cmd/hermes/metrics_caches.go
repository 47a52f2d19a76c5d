package main

import (
	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/metrics"
)

// authCacheStats reads the caches of token verification for the metrics
// at each scrape (the metrics package does not import auth).
func authCacheStats(a *auth.Authorizer) func() []metrics.CacheStats {
	return func() []metrics.CacheStats {
		stats := a.CacheStats()
		out := make([]metrics.CacheStats, len(stats))
		for i, s := range stats {
			out[i] = metrics.CacheStats{
				Cache: s.Cache, Hits: s.Hits, Misses: s.Misses, Evictions: s.Evictions,
				Entries: s.Entries, Size: s.Size, MaxSize: s.MaxSize,
			}
		}
		return out
	}
}
