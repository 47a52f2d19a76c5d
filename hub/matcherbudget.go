package hub

import (
	"net/http"
	"sync"

	"github.com/hermes-hub/hermes/hub/topic"
)

// Matcher cost (issue 10 finding 1).
//
// Template and URL pattern matchers compile to regular expressions: up to
// a few hundred kilobytes each, tens of microseconds per evaluation, and
// the dispatcher evaluates them for every update. Each one is bounded on
// its own (MAT-9, hub/topic), but a subscriber could send a hundred
// near-limit ones, and a hundred subscribers could do that. So the hub
// bounds, in topic.Estimate units (at most about 15 bytes of compiled
// program and 10 ns of evaluation each):
//
//   - the sum of one subscription's matchers, duplicates included
//     (MaxSubscriptionCost): a request over it can never succeed, 400,
//     and nothing of it is compiled;
//   - the sum over the distinct patterns of every open stream
//     (MaxMatcherCost): identical patterns of several streams are compiled
//     once and share one matcher (matcherPool), so a popular pattern costs
//     once however many subscribe to it. A subscription that would exceed
//     it is refused with 503 and Retry-After: the shortage is the hub's
//     and temporary (it ends when streams close), not something this
//     client did too often, which is what 429 says; load balancers also
//     retry a 503 on another node.
//
// The dispatcher evaluates each distinct pattern once per update, whatever
// the number of subscribers sharing it (one slot per pattern in the
// registry's topic.Index), so the time it
// spends per update on patterns is bounded by MaxMatcherCost as well, and
// an expensive subscriber costs others no more than its share of that
// budget.

// matcherPool interns the costly matchers of open subscriptions.
type matcherPool struct {
	max int // MaxMatcherCost; negative: unlimited

	mu      sync.Mutex
	used    int // sum of the costs of entries, plus reservations
	entries map[poolKey]*poolEntry
}

type poolKey struct{ typ, pattern string }

// poolEntry is one distinct costly pattern and the streams using it.
type poolEntry struct {
	key  poolKey
	m    *topic.Matcher
	cost int
	refs int // under matcherPool.mu
}

func newMatcherPool(max int) *matcherPool {
	return &matcherPool{max: max, entries: make(map[poolKey]*poolEntry)}
}

// errMatcherBudget refuses a subscription when the hub-wide budget is
// exhausted.
var errMatcherBudget = &requestError{http.StatusServiceUnavailable, "the hub cannot take more complex topic matchers now; retry later"}

// acquire returns the shared matcher of (typ, pattern), compiling it if no
// open stream uses it yet and the budget allows its cost. Each successful
// acquire must be paired with a release.
func (p *matcherPool) acquire(typ, pattern string, cost int, opt topic.Options) (*poolEntry, error) {
	key := poolKey{typ, pattern}
	p.mu.Lock()
	if e := p.entries[key]; e != nil {
		e.refs++
		p.mu.Unlock()
		return e, nil
	}
	if p.max >= 0 && p.used+cost > p.max {
		p.mu.Unlock()
		return nil, errMatcherBudget
	}
	// Reserved before compiling, outside the lock: compiling a large
	// pattern takes milliseconds, and other subscribers must not wait.
	p.used += cost
	p.mu.Unlock()

	m, err := topic.Compile(typ, pattern, opt)

	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.used -= cost
		return nil, err
	}
	if e := p.entries[key]; e != nil {
		// Compiled concurrently by another stream: keep that one.
		p.used -= cost
		e.refs++
		return e, nil
	}
	e := &poolEntry{key: key, m: m, cost: cost, refs: 1}
	p.entries[key] = e
	return e, nil
}

// release gives back the entries acquire returned (nil ones are skipped).
func (p *matcherPool) release(entries []*poolEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range entries {
		if e == nil {
			continue
		}
		if e.refs--; e.refs == 0 {
			delete(p.entries, e.key)
			p.used -= e.cost
		}
	}
}

// usage is the budget in use and its limit.
func (p *matcherPool) usage() (used, limit int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used, p.max
}

// MatcherCost reports the hub-wide matcher budget in use and its limit
// (topic.Estimate units; a negative limit means unlimited).
func (h *Hub) MatcherCost() (used, limit int) { return h.pool.usage() }
