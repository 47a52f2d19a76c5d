package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// authCaches are the caches of token verification (auth.Cache*), repeated
// here so that this package does not import auth.
var authCaches = []string{"grant", "details", "decision"}

// CacheStats is a snapshot of one cache of token verification, as
// auth.Authorizer.CacheStats reports it (the cmd package converts).
type CacheStats struct {
	Cache                   string // grant, details or decision
	Hits, Misses, Evictions uint64
	Entries                 int
	Size, MaxSize           int // as the cache measures it: bytes, or entries for decision
}

// AuthCaches registers, once, a collector that asks stats for the caches'
// counts at every scrape: the caches count for themselves under their own
// lock, so a hit costs no metrics call. Caches stats does not report show
// as zero, and a name outside the known set as "other".
func (m *Metrics) AuthCaches(stats func() []CacheStats) {
	m.authCacheOnce.Do(func() { m.registry.MustRegister(newAuthCacheCollector(stats)) })
}

type authCacheCollector struct {
	stats                                 func() []CacheStats
	hits, misses, evictions, entries, use *prometheus.Desc
}

func newAuthCacheCollector(stats func() []CacheStats) *authCacheCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, []string{"cache"}, nil)
	}
	return &authCacheCollector{
		stats:     stats,
		hits:      desc("auth_cache_hits_total", "Lookups answered by a cache of token verification, by cache: grant (verified tokens), details (parsed authorization_details), decision (grant and topic)."),
		misses:    desc("auth_cache_misses_total", "Lookups a cache of token verification could not answer (the work was done), by cache."),
		evictions: desc("auth_cache_evictions_total", "Entries pushed out of a full cache of token verification to make room, by cache."),
		entries:   desc("auth_cache_entries", "Entries held by a cache of token verification, by cache."),
		use:       desc("auth_cache_fill_ratio", "How full a cache of token verification is: its size over its bound (bytes for grant and details, entries for decision), by cache."),
	}
}

func (c *authCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.evictions, c.entries, c.use} {
		ch <- d
	}
}

func (c *authCacheCollector) Collect(ch chan<- prometheus.Metric) {
	byName := map[string]CacheStats{}
	for _, s := range c.stats() {
		name := label(s.Cache, authCaches)
		acc := byName[name]
		acc.Hits += s.Hits
		acc.Misses += s.Misses
		acc.Evictions += s.Evictions
		acc.Entries += s.Entries
		acc.Size += s.Size
		acc.MaxSize += s.MaxSize
		byName[name] = acc
	}
	names := authCaches
	if _, ok := byName[other]; ok {
		names = append(names[:len(names):len(names)], other)
	}
	for _, name := range names {
		s := byName[name]
		ratio := 0.0
		if s.MaxSize > 0 {
			ratio = float64(s.Size) / float64(s.MaxSize)
		}
		ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(s.Hits), name)
		ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(s.Misses), name)
		ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(s.Evictions), name)
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(s.Entries), name)
		ch <- prometheus.MustNewConstMetric(c.use, prometheus.GaugeValue, ratio, name)
	}
}
