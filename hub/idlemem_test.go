// Tests of the shrinking of what an idle subscriber costs (issue 9 point 2);
// the measurement is BenchmarkIdleSubscriberMemory (idlemem_bench_test.go).

package hub

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

// TestBucketIndexAcrossThreshold: a topic's bucket finds each of its
// subscribers, and none it dropped, whether it scans (small) or indexes
// (past smallBucket), while it grows past the threshold and shrinks back.
func TestBucketIndexAcrossThreshold(t *testing.T) {
	var b bucket
	subs := make([]*subscriber, 3*smallBucket)
	for i := range subs {
		subs[i] = newSubscriber(nil, nil, 1)
	}
	in := map[*subscriber]bool{}
	check := func(when string) {
		t.Helper()
		if len(b.subs) != len(in) {
			t.Fatalf("%s: bucket holds %d, want %d", when, len(b.subs), len(in))
		}
		for _, s := range subs {
			i, ok := b.index(s)
			if ok != in[s] {
				t.Fatalf("%s: index found %v, want %v", when, ok, in[s])
			}
			if ok && b.subs[i] != s {
				t.Fatalf("%s: index %d holds another subscriber", when, i)
			}
		}
	}
	for _, s := range subs {
		b.push(s)
		in[s] = true
		check("growing")
	}
	if b.pos == nil {
		t.Fatal("a bucket past smallBucket has no index")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range rng.Perm(len(subs)) {
		s := subs[k]
		i, ok := b.index(s)
		if !ok {
			t.Fatal("a subscriber in the bucket was not found")
		}
		b.drop(s, i)
		delete(in, s)
		check("shrinking")
	}
}

// TestStateLogKeepsFrameNotData: a kept subscription event holds its
// document once, in its frame, and the event handed to push (which the
// other nodes are sent, with its data) is left as it was.
func TestStateLogKeepsFrameNotData(t *testing.T) {
	l := stateLog{maxEvents: 10, maxBytes: 1 << 20}
	ev := &transport.Event{ID: "urn:uuid:1", Topics: []string{"/.well-known/mercure/subscriptions/a/b"}, Private: true, Data: `{"id":"a"}`}
	l.push(ev, 0)
	if ev.Data == "" {
		t.Fatal("push emptied the caller's event")
	}
	kept := l.since(stateFrom{ok: true})
	if len(kept) != 1 {
		t.Fatalf("%d kept, want 1", len(kept))
	}
	if kept[0].Data != "" {
		t.Error("the kept event holds its data besides its frame")
	}
	if !strings.Contains(string(kept[0].Frame), "data: "+ev.Data+"\n") || kept[0].ID != ev.ID {
		t.Errorf("kept frame %q does not carry the event", kept[0].Frame)
	}
}
