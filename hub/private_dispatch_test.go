package hub

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// bruteWants is what a subscriber must receive, by evaluating every
// matcher of its subscription and of its grant: the reference the indexed
// dispatch is held to.
func bruteWants(s *subscriber, ev *transport.Event) bool {
	if ev.Private {
		if s.grant == nil {
			return false
		}
		ok := false
		for _, m := range s.grant.Subscribe {
			ok = ok || m.MatchAny(ev.Topics)
		}
		if !ok {
			return false
		}
	}
	for _, m := range s.matchers {
		if m.MatchAny(ev.Topics) {
			return true
		}
	}
	return false
}

var dispatchPatterns = []struct{ typ, pattern string }{
	{topic.TypeURLPattern, "*"},
	{topic.TypeURLPattern, "https://example.com/u/:u/*"},
	{topic.TypeURLPattern, "https://example.com/u/1/r/:r/*"},
	{topic.TypeURLPattern, "https://example.com/u/2/*"},
	{topic.TypeURLPattern, "https://*.example.com/u/:u/*"},
	{topic.TypeURLPattern, ":s://example.com/u/3/*"},
	{topic.TypeURLPattern, "/u/:u/r/:r/:id"},
	{topic.TypeURLPattern, "https://EXAMPLE.com/u/4/r/:r/*"},
	{topic.TypeLegacy, "https://example.com/u/{u}/r/{r}/{id}"},
	{topic.TypeLegacy, "https://example.com/u/1/{+rest}"},
	{topic.TypeLegacy, "{scheme}://example.com/u/2/{+rest}"},
	{topic.TypeLegacy, "https://example.com/u/3{/segs*}"},
	{topic.TypeLegacy, "*"},
	{topic.TypeExact, "https://example.com/u/1/r/1/1"},
	{topic.TypeLegacy, "https://example.com/u/2/r/2/2"},
}

func randomDispatchTopic(r *rand.Rand) string {
	host := []string{"example.com", "EXAMPLE.com", "api.example.com", "other.test", "hub.test"}[r.IntN(5)]
	scheme := []string{"https", "http"}[r.IntN(2)]
	t := fmt.Sprintf("%s://%s/u/%d/r/%d/%d", scheme, host, r.IntN(5), r.IntN(3), r.IntN(3))
	if r.IntN(8) == 0 {
		t = fmt.Sprintf("/u/%d/r/%d/%d", r.IntN(5), r.IntN(3), r.IntN(3))
	}
	return t
}

// TestAZ3_IndexedPrivateDispatchAgreesWithBruteForce (issue 9): random
// subscriptions and grants (some shared, as byte-identical tokens share
// one), random public and private events with alternate topics: every
// subscriber receives exactly what evaluating all its matchers and all
// its grant's matchers says, no more (no unauthorized delivery) and no
// less, also while subscribers come and go.
func TestAZ3_IndexedPrivateDispatchAgreesWithBruteForce(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	pick := func(n int) []*topic.Matcher {
		out := make([]*topic.Matcher, 0, n)
		for range n {
			p := dispatchPatterns[rnd.IntN(len(dispatchPatterns))]
			out = append(out, mustMatcher(t, p.typ, p.pattern))
		}
		return out
	}
	grants := make([]*auth.Grant, 8)
	for i := range grants {
		grants[i] = &auth.Grant{Modern: true, Subscribe: pick(1 + rnd.IntN(6))}
	}
	r := newRegistry(0)
	var subs []*subscriber
	var seq uint64
	for round := range 30 {
		for range 10 {
			var g *auth.Grant
			if rnd.IntN(6) != 0 {
				g = grants[rnd.IntN(len(grants))]
			}
			s := newSubscriber(pick(1+rnd.IntN(3)), g, 1<<30)
			r.add(s, seq)
			subs = append(subs, s)
		}
		for range 20 {
			seq++
			topics := []string{randomDispatchTopic(rnd)}
			if rnd.IntN(3) == 0 {
				topics = append(topics, randomDispatchTopic(rnd))
			}
			ev := &transport.Event{Seq: seq, ID: fmt.Sprint(seq), Topics: topics, Private: rnd.IntN(3) != 0}
			before := make([]int, len(subs))
			for i, s := range subs {
				before[i] = queued(s)
			}
			r.dispatch(ev)
			for i, s := range subs {
				got := queued(s) - before[i]
				want := 0
				if s.registered && bruteWants(s, ev) {
					want = 1
				}
				if got != want {
					t.Fatalf("round %d, event %v private %v, subscriber %d (%d matchers, grant %v): %d frames, want %d",
						round, ev.Topics, ev.Private, i, len(s.matchers), s.grant != nil, got, want)
				}
			}
		}
		// A third of the subscribers leave.
		for _, s := range subs {
			if rnd.IntN(3) == 0 {
				r.remove(s)
			}
		}
	}
	for _, s := range subs {
		r.remove(s)
	}
	if r.routes.Len() != 0 || r.grants.Len() != 0 || len(r.groups) != 0 || len(r.exact) != 0 || r.count != 0 {
		t.Fatalf("registry not empty: %d routes, %d grant patterns, %d grants, %d exact, count %d", r.routes.Len(), r.grants.Len(), len(r.groups), len(r.exact), r.count)
	}
}

// TestAZ3_PrivateDispatchEvaluatesFewPatterns (issue 9): 50 subscribers
// of every topic, each with a grant of 100 patterns on its own resources:
// a private update evaluates the pattern of its resource, not 5,000.
func TestAZ3_PrivateDispatchEvaluatesFewPatterns(t *testing.T) {
	r, _ := privateFanOut(t, topic.TypeURLPattern, 50, 100)
	n := r.dispatch(&transport.Event{Seq: 1, ID: "1", Private: true, Topics: []string{"https://example.com/u/7/r/42/new"}})
	if n != 1 {
		t.Fatalf("delivered to %d subscribers, want 1", n)
	}
	if ev := r.grants.Evaluations(); ev > 2 {
		t.Fatalf("%d grant pattern evaluations for one update, want at most 2", ev)
	}
}

// privateFanOut registers subs subscribers of every topic, each holding a
// grant of patterns patterns (typ) on its own resources, as `hermes bench
// private` does.
func privateFanOut(tb testing.TB, typ string, subs, patterns int) (*registry, []*subscriber) {
	r := newRegistry(0)
	route := mustMatcher(tb, typ, "*")
	var out []*subscriber
	for u := range subs {
		ms := make([]*topic.Matcher, patterns)
		for j := range ms {
			p := fmt.Sprintf("https://example.com/u/%d/r/%d/*", u, j)
			if typ == topic.TypeLegacy {
				p = fmt.Sprintf("https://example.com/u/%d/r/%d/{id}", u, j)
			}
			ms[j] = mustMatcher(tb, typ, p)
		}
		s := newSubscriber([]*topic.Matcher{route}, &auth.Grant{Modern: typ != topic.TypeLegacy, Subscribe: ms}, 1<<30)
		r.add(s, 0)
		out = append(out, s)
	}
	return r, out
}

// drain empties the queues so that a benchmark does not grow them.
func drain(subs []*subscriber) {
	for _, s := range subs {
		s.mu.Lock()
		s.queue, s.queued = s.queue[:0], 0
		s.mu.Unlock()
	}
}

// BenchmarkPrivateDispatch (issue 9): one private update, a new topic each
// time, to 50 subscribers of every topic holding 100-pattern grants.
// "indexed" is the registry's dispatch; "brute" is the dispatch before
// issue 9 (every subscriber's grant evaluated pattern by pattern).
func BenchmarkPrivateDispatch(b *testing.B) {
	for _, typ := range []string{topic.TypeURLPattern, topic.TypeLegacy} {
		dialect := map[string]string{topic.TypeURLPattern: "draft08", topic.TypeLegacy: "legacy"}[typ]
		r, subs := privateFanOut(b, typ, 50, 100)
		i := 0
		next := func() *transport.Event {
			i++
			u, j := i%50, (i/50)%100
			return &transport.Event{Seq: uint64(i), ID: fmt.Sprint(i), Private: true,
				Topics: []string{fmt.Sprintf("https://example.com/u/%d/r/%d/%d", u, j, i)}}
		}
		b.Run(dialect+"/indexed", func(b *testing.B) {
			for b.Loop() {
				if r.dispatch(next()) != 1 {
					b.Fatal("not delivered to exactly one subscriber")
				}
				if i%512 == 0 {
					drain(subs)
				}
			}
		})
		b.Run(dialect+"/brute", func(b *testing.B) {
			for b.Loop() {
				ev := next()
				n := 0
				for _, s := range subs {
					if bruteWants(s, ev) {
						n++
					}
				}
				if n != 1 {
					b.Fatal("not exactly one subscriber")
				}
			}
		})
		drain(subs)
	}
}
