package hub

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

func mustMatcher(tb testing.TB, typ, pattern string) *topic.Matcher {
	tb.Helper()
	m, err := topic.Compile(typ, pattern, topic.Options{Base: "https://hub.test/.well-known/mercure"})
	if err != nil {
		tb.Fatalf("compile %s %q: %v", typ, pattern, err)
	}
	return m
}

func queued(s *subscriber) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func TestPUB3_OneDeliveryPerSubscriberWhateverMatches(t *testing.T) {
	r := newRegistry(0)
	both := newSubscriber([]*topic.Matcher{mustMatcher(t, topic.TypeExact, "a"), mustMatcher(t, topic.TypeExact, "b"), mustMatcher(t, topic.TypeLegacy, "*")}, nil, 1<<20)
	onlyB := newSubscriber([]*topic.Matcher{mustMatcher(t, topic.TypeExact, "b")}, nil, 1<<20)
	none := newSubscriber([]*topic.Matcher{mustMatcher(t, topic.TypeExact, "c")}, nil, 1<<20)
	for _, s := range []*subscriber{both, onlyB, none} {
		r.add(s, 0)
	}
	ev := &transport.Event{Seq: 1, ID: "x", Topics: []string{"a", "b"}}
	r.dispatch(ev)
	if got := queued(both); got != 1 {
		t.Errorf("subscriber matching a, b and * got %d frames, want 1", got)
	}
	if got := queued(onlyB); got != 1 {
		t.Errorf("subscriber of b got %d frames, want 1", got)
	}
	if got := queued(none); got != 0 {
		t.Errorf("subscriber of c got %d frames, want 0", got)
	}
}

func TestAZ3_PrivateEventNeedsGrantNotJustRouting(t *testing.T) {
	r := newRegistry(0)
	anon := newSubscriber([]*topic.Matcher{mustMatcher(t, topic.TypeLegacy, "*")}, nil, 1<<20)
	r.add(anon, 0)
	r.dispatch(&transport.Event{Seq: 1, ID: "p", Topics: []string{"a"}, Private: true})
	if got := queued(anon); got != 0 {
		t.Fatalf("anonymous subscriber got a private event")
	}
}

func TestRegistryRemoveAndMinSeq(t *testing.T) {
	r := newRegistry(5)
	s := newSubscriber([]*topic.Matcher{mustMatcher(t, topic.TypeExact, "a"), mustMatcher(t, topic.TypeURLPattern, "https://e.com/:x")}, nil, 1<<20)
	if attach := r.add(s, 7); attach != 5 {
		t.Fatalf("attach = %d, want 5", attach)
	}
	// Seq 6 and 7 are covered by the replay (minSeq 7): not queued again.
	for seq := uint64(6); seq <= 8; seq++ {
		r.dispatch(&transport.Event{Seq: seq, ID: fmt.Sprint(seq), Topics: []string{"a"}})
	}
	if got := queued(s); got != 1 {
		t.Fatalf("queued %d frames, want 1 (only Seq 8)", got)
	}
	r.remove(s)
	r.remove(s)
	if n := r.size(); n != 0 {
		t.Fatalf("size after remove = %d", n)
	}
	if len(r.exact) != 0 || r.routes.Len() != 0 || r.grants.Len() != 0 || len(r.groups) != 0 {
		t.Fatalf("index not empty after remove: %d exact, %d routes, %d grant patterns, %d grants", len(r.exact), r.routes.Len(), r.grants.Len(), len(r.groups))
	}
}

func TestQueueOverflowKicksSubscriber(t *testing.T) {
	s := newSubscriber(nil, nil, 10)
	kicked := make(chan struct{})
	s.onKick = func() { close(kicked) }
	if !s.enqueue(make([]byte, 6)) {
		t.Fatal("first frame refused")
	}
	if s.kicked() {
		t.Fatal("subscriber kicked within its bound")
	}
	if s.enqueue(make([]byte, 6)) {
		t.Fatal("frame past the byte bound accepted")
	}
	if !s.kicked() {
		t.Fatal("overflowing subscriber not kicked")
	}
	select {
	case <-kicked:
	case <-time.After(10 * time.Second):
		t.Fatal("overflowing subscriber's stream not told (onKick)")
	}
	if wrote, _ := s.writeQueued(io.Discard); wrote {
		t.Fatal("an overflowed subscriber still has a queue")
	}
}

// BenchmarkDispatch measures one update fanned out to n subscribers, all on
// the update's topic (same) or each on its own topic (distinct: the index
// must find the one subscriber without looking at the others). Allocations
// per dispatch must not grow with n.
func BenchmarkDispatch(b *testing.B) {
	for _, shape := range []string{"same", "distinct"} {
		for _, n := range []int{1, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/subscribers=%d", shape, n), func(b *testing.B) {
				r := newRegistry(0)
				subs := make([]*subscriber, n)
				for i := range subs {
					name := "https://example.com/books/1"
					if shape == "distinct" {
						name = fmt.Sprintf("https://example.com/books/%d", i)
					}
					subs[i] = newSubscriber([]*topic.Matcher{mustMatcher(b, topic.TypeExact, name)}, nil, 1<<30)
					r.add(subs[i], 0)
				}
				ev := &transport.Event{ID: "x", Topics: []string{"https://example.com/books/1"}, Data: "{}"}
				ev.Frame = encodeEvent(ev)
				drain := func() {
					for _, s := range subs {
						_, _ = s.writeQueued(io.Discard)
					}
				}
				// Warm up: queues reach their steady capacity and the
				// drained buffers get reused, as on a long-running hub.
				for i := 0; i < 128; i++ {
					ev.Seq = uint64(i + 1)
					r.dispatch(ev)
					if i%64 == 63 {
						drain()
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ev.Seq = uint64(i + 129)
					r.dispatch(ev)
					if i%64 == 63 {
						b.StopTimer()
						drain()
						b.StartTimer()
					}
				}
			})
		}
	}
}
