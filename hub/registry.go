package hub

import (
	"sync"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// registry indexes the connected subscribers by what they match and by
// what their grants let them receive, and dispatches events to them.
//
// Routing: exact topics (the common case) are found by a map lookup; every
// other matcher (URI templates, URL patterns, the wildcard) is filed in a
// topic.Index by its literal start, one slot per distinct pattern however
// many streams use it (patterns are interned), so an update evaluates the
// few patterns whose start fits its topics, each once.
//
// Authorization is routing too (issue 9, design.md "Private fan-out"): the
// subscribe matchers of the connected grants are filed in a second index,
// one slot per distinct pattern whose members are the grants carrying it
// (byte-identical tokens share one Grant, auth/grantcache.go). A private
// update first marks the grants one of whose patterns matches it, then is
// routed as any update and delivered only to subscribers whose grant was
// marked. Its cost follows the patterns whose literal start fits it and
// the subscribers it reaches, not subscribers x patterns.
//
// One mutex guards it. The dispatcher holds it for one event at a time, and a
// subscriber registers under it while noting the last dispatched Seq, so no
// event can fall between its history replay and its live queue (REC-15).
type registry struct {
	mu      sync.Mutex
	lastSeq uint64 // Seq of the last dispatched event
	lastID  string // ID of the last dispatched event, "" before the first: the subscription API's cursor (API-7)
	// gen counts dispatched events, history and subscription events alike:
	// subscriber.lastGen deduplicates with it, and grantGroup.authGen marks
	// the grants a private event is for.
	gen uint64
	// state keeps the latest subscription events (subscriptionlog.go).
	state  stateLog
	exact  map[string]*bucket
	routes *topic.Index[*subscriber]   // non-exact matchers
	grants *topic.Index[*grantGroup]   // subscribe matchers of connected grants
	groups map[*auth.Grant]*grantGroup // by grant
	count  int

	overflows func() // called (under mu) when a subscriber's queue overflows

	// active lists the open subscribers for the subscription API
	// (subscriptions.go). It has its own lock: listing must not stall dispatch.
	active activeSubscriptions
}

// grantGroup is one Grant and the number of connected subscribers holding
// it. Fields are owned by the registry (under mu).
type grantGroup struct {
	grant   *auth.Grant
	holders int
	authGen uint64 // registry.gen of the last private event the grant covers
}

// bucket is the set of subscribers of one exact topic: a slice to iterate
// fast and positions to remove in O(1) when many subscribers share a topic.
type bucket struct {
	subs []*subscriber
	// pos indexes subs once the bucket passes smallBucket subscribers;
	// below, a scan of subs is as fast, and a map per bucket would cost
	// every subscriber of a topic of its own (a user's private topic) a
	// few hundred bytes (design.md, "Memory per idle subscriber").
	pos map[*subscriber]int
}

const smallBucket = 16

// index returns s's position in b.subs.
func (b *bucket) index(s *subscriber) (int, bool) {
	if b.pos != nil {
		i, ok := b.pos[s]
		return i, ok
	}
	for i, x := range b.subs {
		if x == s {
			return i, true
		}
	}
	return 0, false
}

// push appends s, which is not in b.
func (b *bucket) push(s *subscriber) {
	b.subs = append(b.subs, s)
	switch {
	case b.pos != nil:
		b.pos[s] = len(b.subs) - 1
	case len(b.subs) > smallBucket:
		b.pos = make(map[*subscriber]int, len(b.subs))
		for i, x := range b.subs {
			b.pos[x] = i
		}
	}
}

// drop removes s, at position i, by moving the last subscriber there.
func (b *bucket) drop(s *subscriber, i int) {
	last := len(b.subs) - 1
	b.subs[i] = b.subs[last]
	b.subs[last] = nil
	b.subs = b.subs[:last]
	if b.pos != nil {
		if i < last {
			b.pos[b.subs[i]] = i
		}
		delete(b.pos, s)
	}
}

func newRegistry(lastSeq uint64) *registry {
	return &registry{
		lastSeq: lastSeq,
		exact:   make(map[string]*bucket),
		routes:  topic.NewIndex[*subscriber](),
		grants:  topic.NewIndex[*grantGroup](),
		groups:  make(map[*auth.Grant]*grantGroup),
	}
}

// add registers s and returns the Seq of the last dispatched event: every
// event after it reaches s through its queue (unless its Seq <= minSeq).
func (r *registry) add(s *subscriber, minSeq uint64) (attach uint64) {
	attach, _ = r.attach(s, minSeq, stateFrom{})
	return attach
}

// attach is add that also returns the kept subscription events that from
// selects, which s must be sent before its queue: they were emitted before
// it was registered, and every later one reaches its queue.
func (r *registry) attach(s *subscriber, minSeq uint64, from stateFrom) (attach uint64, state []*transport.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	state = r.state.since(from)
	s.minSeq = max(minSeq, r.lastSeq)
	if s.registered {
		return r.lastSeq, state
	}
	s.registered = true
	for _, m := range s.matchers {
		key, ok := m.ExactKey()
		if !ok {
			r.routes.Add(m, s)
			continue
		}
		b := r.exact[key]
		if b == nil {
			b = &bucket{}
			r.exact[key] = b
		}
		if _, dup := b.index(s); dup {
			continue
		}
		b.push(s)
	}
	if s.grant != nil {
		g := r.groups[s.grant]
		if g == nil {
			g = &grantGroup{grant: s.grant}
			r.groups[s.grant] = g
			for _, m := range s.grant.Subscribe {
				r.grants.Add(m, g)
			}
		}
		g.holders++
		s.group = g
	}
	r.count++
	return r.lastSeq, state
}

// remove unregisters s; it is idempotent.
func (r *registry) remove(s *subscriber) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.registered {
		return
	}
	s.registered = false
	for _, m := range s.matchers {
		key, ok := m.ExactKey()
		if !ok {
			r.routes.Remove(m, s)
			continue
		}
		b := r.exact[key]
		if b == nil {
			continue
		}
		i, ok := b.index(s)
		if !ok {
			continue
		}
		b.drop(s, i)
		if len(b.subs) == 0 {
			delete(r.exact, key)
		}
	}
	if g := s.group; g != nil {
		s.group = nil
		if g.holders--; g.holders == 0 {
			for _, m := range g.grant.Subscribe {
				r.grants.Remove(m, g)
			}
			delete(r.groups, g.grant)
		}
	}
	r.count--
}

// dispatch hands ev to every subscriber that wants it. Per subscriber it is
// a few comparisons and a slice append of the shared frame: no encoding, no
// allocation beyond amortized queue growth. It returns the number of
// subscribers the event was queued for, so that metrics cost one call per
// event, not one per subscriber.
func (r *registry) dispatch(ev *transport.Event) (delivered int) {
	f := frame(ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastSeq = ev.Seq
	r.lastID = ev.ID
	return r.fanOut(ev, f)
}

// fanOut queues f for every registered subscriber that wants ev, under mu.
func (r *registry) fanOut(ev *transport.Event, f []byte) (delivered int) {
	r.gen++
	if ev.Private {
		// Authorization first: the grants covering ev. None means no
		// routing work at all.
		authorized := 0
		r.grants.Match(ev.Topics, func(g *grantGroup) {
			if g.authGen != r.gen {
				g.authGen = r.gen
				authorized++
			}
		})
		if authorized == 0 {
			return 0
		}
	}
	for _, t := range ev.Topics {
		if b := r.exact[t]; b != nil {
			for _, s := range b.subs {
				if r.deliver(s, ev, f) {
					delivered++
				}
			}
		}
	}
	r.routes.Match(ev.Topics, func(s *subscriber) {
		if r.deliver(s, ev, f) {
			delivered++
		}
	})
	return delivered
}

// deliver queues f for s and reports whether it did.
func (r *registry) deliver(s *subscriber, ev *transport.Event, f []byte) bool {
	// Subscription events have no Seq (they are not history) and reach
	// only subscribers registered when they are emitted.
	if (ev.Seq != 0 && ev.Seq <= s.minSeq) || s.lastGen == r.gen {
		return false
	}
	if ev.Private && (s.group == nil || s.group.authGen != r.gen) {
		return false
	}
	s.lastGen = r.gen
	if !s.enqueue(s.annotated(ev, f)) {
		if r.overflows != nil {
			r.overflows()
		}
		return false
	}
	return true
}

// size is the number of registered subscribers.
func (r *registry) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}
