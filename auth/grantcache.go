package auth

import (
	"time"

	"github.com/hermes-hub/hermes/hub/topic"
)

// Grant deduplication (issue 9). An application hands the same token to
// every tab of a user, and a reconnecting stream presents its token again:
// verifying it means a signature check, JSON parsing of up to 100 details
// and compiling their patterns, several hundred microseconds for a large
// draft-08 token. The grant cache maps the exact bytes of a token that
// verified (with its role and the audience it was checked against) to its
// Grant, so that byte-identical tokens share one Grant: one set of
// matchers, one index, one slot in the hub's grant index.
//
// What a hit still checks: exp and nbf against the current time, as a full
// verification would (an expired token is verified again, and refused with
// the proper reason). What it never does: remember a refusal (an entry only
// exists for bytes that verified, and a different token is a different
// key), or serve a token verified with a JWKS key, which can be rotated out
// of the set: those are verified every time.
const (
	grantCacheBytes = 8 << 20
	// grantEntryOverhead is what an entry costs besides its token bytes:
	// the map and ring entries and the Grant (its matchers are interned
	// and shared).
	grantEntryOverhead = 512
)

type grantKey struct {
	role       Role
	resourceID string
	token      string
}

type cachedGrant struct {
	g         *Grant
	notBefore time.Time // zero: no nbf
}

// cachedGrantFor returns the cached grant of a token if it is still
// within its validity period.
func (a *Authorizer) cachedGrantFor(role Role, raw, resourceID string) *Grant {
	k := grantKey{role, resourceID, raw}
	c, ok := a.grants.get(k)
	if !ok {
		return nil
	}
	now := a.now()
	if (!c.g.Expires.IsZero() && !now.Before(c.g.Expires)) || now.Before(c.notBefore) {
		a.grants.remove(k)
		return nil
	}
	return c.g
}

// rememberGrant caches g, verified for role and resourceID from raw.
func (a *Authorizer) rememberGrant(role Role, raw, resourceID string, g *Grant, claims rawClaims) {
	if g.Key.JWKS {
		return
	}
	nbf, _, err := numericDate(claims["nbf"], true)
	if err != nil {
		return
	}
	a.grants.put(grantKey{role, resourceID, raw}, cachedGrant{g, nbf}, len(raw)+len(resourceID)+grantEntryOverhead)
}

// GrantCacheStats reports the grant cache's hits, misses and entries
// (metrics, benchmarks).
func (a *Authorizer) GrantCacheStats() (hits, misses uint64, entries int) {
	return a.grants.stats()
}

// Names of the caches in CacheStats.
const (
	CacheGrant    = "grant"    // verified tokens' grants, per Authorizer
	CacheDetails  = "details"  // parsed authorization_details, per Authorizer
	CacheDecision = "decision" // (grant, topic) decisions, process-wide
)

// CacheStats is a snapshot of one of the caches of token verification,
// for metrics: counts since the process (decision) or the Authorizer
// (grant, details) started.
type CacheStats struct {
	Cache        string // one of the Cache* names
	Hits, Misses uint64
	// Evictions counts entries pushed out to make room: a cache that
	// evicts as fast as it misses is too small for its working set.
	Evictions uint64
	Entries   int
	// Size is what the entries take as the cache measures it (bytes for
	// grant and details, entries for decision), at most MaxSize.
	Size, MaxSize int
}

// CacheStats reports the authorizer's grant and details caches and the
// process-wide decision cache. It takes each cache's lock briefly.
func (a *Authorizer) CacheStats() []CacheStats {
	return []CacheStats{
		a.grants.snapshot(CacheGrant),
		a.details.snapshot(CacheDetails),
		decisions.snapshot(CacheDecision),
	}
}

// Parsed authorization details. A token re-issued to the same user (new
// jti, iat, exp) carries the same authorization_details, byte for byte,
// and parsing them is most of what verifying a large token costs (nested
// JSON decoding of up to 100 details; their patterns are interned, so
// compiling is a lookup): the parsed details are cached by the claim's
// bytes. They are immutable once parsed; only successful parses are kept.
const detailsCacheBytes = 8 << 20

func (a *Authorizer) parseDetails(raw []byte) ([]detail, error) {
	if d, ok := a.details.get(string(raw)); ok {
		return d, nil
	}
	d, err := parseAuthorizationDetails(raw, a.topicOpt)
	if err != nil {
		return nil, err
	}
	a.details.put(string(raw), d, len(raw)+grantEntryOverhead+64*len(d))
	return d, nil
}

// Decisions per (grant, topic). The hub asks a grant about the same
// topics over and over: every subscriber of a user replays the same
// history, the subscription API checks the same resource, publishers send
// to the same topics. The answer never changes for a given Grant (it is
// immutable), so it is cached, bounded in entries and topic size.
const (
	decisionCacheSize   = 16384 // entries
	maxDecisionTopicLen = 1024
)

type decisionKey struct {
	g         *Grant
	subscribe bool
	topic     string
}

var decisions = newClockCache[decisionKey, bool](decisionCacheSize)

// DecisionCacheStats reports the hits, misses and entries of the
// (grant, topic) decision cache.
func DecisionCacheStats() (hits, misses uint64, entries int) {
	return decisions.stats()
}

// decide answers whether set grants topic, through the decision cache.
// Grants with a few matchers are cheaper to evaluate than to look up.
func (g *Grant) decide(set *topic.Set, n int, subscribe bool, t string) bool {
	if n < 4 || len(t) > maxDecisionTopicLen {
		return set.Match(t)
	}
	k := decisionKey{g, subscribe, t}
	if v, ok := decisions.get(k); ok {
		return v
	}
	v := set.Match(t)
	decisions.put(k, v, 1)
	return v
}
