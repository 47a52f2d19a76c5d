package bolt

import (
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

func TestRequestQueueClose(t *testing.T) {
	q := newRequestQueue()
	a, b := &request{evs: make([]*transport.Event, 1)}, &request{evs: make([]*transport.Event, 1)}
	if !q.push(a) || !q.push(b) {
		t.Fatal("push refused on an open queue")
	}
	select {
	case <-q.bell:
	default:
		t.Fatal("no bell after a push")
	}
	left := q.close()
	if len(left) != 2 || left[0] != a || left[1] != b {
		t.Fatalf("close returned %d requests, want the 2 queued in order", len(left))
	}
	if q.push(&request{}) {
		t.Fatal("push accepted after close")
	}
	if got, _, _ := q.take(nil, groupState{}, 10, 1<<20); len(got) != 0 {
		t.Fatalf("take after close returned %d requests", len(got))
	}
}
