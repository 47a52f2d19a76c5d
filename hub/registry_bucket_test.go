package hub

import (
	"math/rand/v2"
	"testing"
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
