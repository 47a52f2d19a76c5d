package hub

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

var poolOpt = topic.Options{Base: "https://hub.test/.well-known/mercure"}

func heavyPattern(n int) string {
	return "https://example.com/" + strings.Repeat("([a-z]{0,100})", 31) + "/" + fmt.Sprint(n)
}

func acquireOrFail(t *testing.T, p *matcherPool, pattern string) *poolEntry {
	t.Helper()
	e, err := p.acquire(topic.TypeURLPattern, pattern, topic.Estimate(topic.TypeURLPattern, pattern, poolOpt), poolOpt)
	if err != nil {
		t.Fatalf("acquire %q: %v", pattern, err)
	}
	return e
}

// TestMatcherPoolChargesDistinctPatternsOnce (issue 10 finding 1): a
// pattern used by many streams is compiled once and charged once; the
// budget refuses a new pattern past the limit and is given back when the
// last user releases.
func TestMatcherPoolChargesDistinctPatternsOnce(t *testing.T) {
	one := topic.Estimate(topic.TypeURLPattern, heavyPattern(0), poolOpt)
	p := newMatcherPool(2*one + one/2)
	a1 := acquireOrFail(t, p, heavyPattern(0))
	a2 := acquireOrFail(t, p, heavyPattern(0))
	if a1 != a2 || a1.m != a2.m {
		t.Fatal("two streams of one pattern got two compilations")
	}
	b := acquireOrFail(t, p, heavyPattern(1))
	if used, _ := p.usage(); used != 2*one {
		t.Fatalf("used %d, want %d", used, 2*one)
	}
	if _, err := p.acquire(topic.TypeURLPattern, heavyPattern(2), one, poolOpt); !errors.Is(err, errMatcherBudget) {
		t.Fatalf("a third distinct pattern past the budget: %v, want errMatcherBudget", err)
	}
	p.release([]*poolEntry{a1, nil, b})
	if used, _ := p.usage(); used != one {
		t.Fatalf("after releasing one user of each: used %d, want %d", used, one)
	}
	p.release([]*poolEntry{a2})
	if used, _ := p.usage(); used != 0 {
		t.Fatalf("after releasing everything: used %d", used)
	}
	// An invalid pattern gives its reservation back.
	if _, err := p.acquire(topic.TypeURLPattern, "https://e.com/(", 100, poolOpt); err == nil {
		t.Fatal("an invalid pattern compiled")
	}
	if used, _ := p.usage(); used != 0 {
		t.Fatalf("a failed compilation holds %d", used)
	}
}

// TestDispatchEvaluatesASharedPatternOncePerEvent (issue 10 finding 1):
// the dispatcher's work per update follows the distinct patterns, not the
// streams using them, so many subscribers of an expensive pattern do not
// multiply the delay every other subscriber sees.
func TestDispatchEvaluatesASharedPatternOncePerEvent(t *testing.T) {
	p := newMatcherPool(-1)
	r := newRegistry(0)
	for range 50 {
		e := acquireOrFail(t, p, "https://example.com/books/:id")
		s := newSubscriber([]*topic.Matcher{e.m}, nil, 1<<20)
		s.pooled = []*poolEntry{e}
		r.add(s, 0)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if n := r.dispatch(&transport.Event{Seq: seq, ID: fmt.Sprint(seq), Topics: []string{"https://example.com/books/" + fmt.Sprint(seq)}}); n != 50 {
			t.Fatalf("event %d delivered to %d subscribers, want 50", seq, n)
		}
	}
	if got := r.routes.Evaluations(); got != 3 {
		t.Fatalf("3 events, 50 subscribers of one pattern: %d evaluations, want 3", got)
	}
}
