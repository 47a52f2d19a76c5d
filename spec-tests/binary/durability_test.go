//go:build unix

package binary_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestREC_RestartBetweenDisconnectAndReconnect: a subscriber disconnects,
// the hub is stopped and started again on the same bolt file, an event is
// published, and the subscriber reconnects with its Last-Event-ID: it gets
// what it missed. Cursors from before the restart still resolve, and new
// events are ordered after the old ones (the sequence survived).
func TestREC_RestartBetweenDisconnectAndReconnect(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/restart"
	db := filepath.Join(t.TempDir(), "hermes.db")
	tok := subscriberToken(t, "*")
	ev := func(id string) update { return update{topics: []string{topic}, id: id, data: "data of " + id} }
	earliest := url.Values{"last_event_id": {"earliest"}}

	h1 := startHub(t, hubOptions{dbPath: db})
	h1.publishAll(t, ev("a"), ev("b"))
	s := h1.subscribe(t, subOptions{topics: []string{topic}, tok: tok, query: earliest})
	s.expectIDs(t, "a", "b")
	s.close()
	h1.stop(t)

	h2 := startHub(t, hubOptions{dbPath: db})
	h2.mustPublish(t, ev("c"))
	for _, tc := range []struct {
		cursor string
		query  url.Values
		want   []sseEvent
	}{
		{cursor: "b", want: []sseEvent{{ID: "c", Data: "data of c"}}},
		{cursor: "a", want: []sseEvent{{ID: "b", Data: "data of b"}, {ID: "c", Data: "data of c"}}},
		{cursor: "earliest", query: earliest, want: []sseEvent{{ID: "a", Data: "data of a"}, {ID: "b", Data: "data of b"}, {ID: "c", Data: "data of c"}}},
	} {
		o := subOptions{topics: []string{topic}, tok: tok, query: tc.query}
		if tc.query == nil {
			o.lastEventID = tc.cursor
		}
		s := h2.subscribe(t, o)
		s.checkCursorHeaders(t, tc.cursor)
		if got := s.untilMarker(t); !slices.Equal(got, tc.want) {
			t.Errorf("after one restart, cursor %q replayed %+v, want %+v", tc.cursor, got, tc.want)
		}
		s.close()
	}
	h2.stop(t)

	// A second restart: the sequence keeps growing across restarts, so d
	// lands after c, not on top of an old position.
	h3 := startHub(t, hubOptions{dbPath: db})
	h3.mustPublish(t, ev("d"))
	s = h3.subscribe(t, subOptions{topics: []string{topic}, tok: tok, lastEventID: "c"})
	s.checkCursorHeaders(t, "c")
	if got := eventIDs(s.untilMarker(t)); !slices.Equal(got, []string{"d"}) {
		t.Errorf("after two restarts, cursor c replayed %q, want [d]", got)
	}
	s = h3.subscribe(t, subOptions{topics: []string{topic}, tok: tok, query: earliest})
	if got, want := eventIDs(s.untilMarker(t)), []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("after two restarts, earliest replayed %q, want %q", got, want)
	}
}

// TestDurability_SIGKILLDuringPublishBurst kills the hub with SIGKILL in the
// middle of a burst of concurrent publishes. After a restart on the same
// file, every publish the hub acknowledged with 200 is in the history
// exactly once; unacknowledged ones may be there (committed, answer lost)
// or not, but nothing is duplicated or invented.
func TestDurability_SIGKILLDuringPublishBurst(t *testing.T) {
	t.Parallel()
	const (
		topic     = "https://example.com/burst"
		workers   = 8
		perWorker = 300
		killAt    = 500 // acknowledgements counted before the kill
	)
	db := filepath.Join(t.TempDir(), "hermes.db")
	h := startHub(t, hubOptions{dbPath: db})
	tok := publisherToken(t)
	id := func(w, k int) string { return fmt.Sprintf("k-%d-%03d", w, k) }

	var (
		acks    atomic.Int64
		killed  atomic.Bool
		killErr = make(chan error, 1)
		// Each worker writes only its own slot.
		acked = make([]int, workers) // worker w's publishes 0..acked[w]-1 were answered 200
		sent  = make([]int, workers) // worker w sent publishes 0..sent[w]-1
		// Failures before the kill are hub bugs, not expected losses.
		mu       sync.Mutex
		problems []string
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := range perWorker {
				sent[w] = k + 1
				status, body, err := h.publish(context.Background(), tok, update{topics: []string{topic}, id: id(w, k), data: "burst"})
				if err != nil || status != http.StatusOK {
					if !killed.Load() {
						mu.Lock()
						problems = append(problems, fmt.Sprintf("publish %s before the kill: status %d, error %v", id(w, k), status, err))
						mu.Unlock()
					}
					return // the hub is gone: this worker's burst ends here
				}
				if body != id(w, k) {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("publish %s answered id %q", id(w, k), body))
					mu.Unlock()
				}
				acked[w] = k + 1
				if acks.Add(1) == killAt {
					killed.Store(true)
					killErr <- h.sigkill()
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	select {
	case err := <-killErr:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("the burst ended after %d acknowledgements, before the kill at %d", acks.Load(), killAt)
	}
	h.waitKilled(t)
	total := 0
	for w := range workers {
		total += acked[w]
	}
	t.Logf("%d publishes acknowledged before the hub died", total)
	if total == workers*perWorker {
		t.Fatalf("every publish was acknowledged: the kill did not land in the middle of the burst")
	}

	// The file must open again (no corruption, lock released) and hold the
	// acknowledged events.
	h2 := startHub(t, hubOptions{dbPath: db})
	s := h2.subscribe(t, subOptions{
		topics: []string{topic},
		tok:    subscriberToken(t, "*"),
		query:  url.Values{"last_event_id": {"earliest"}},
	})
	stored := s.untilMarker(t)
	count := make(map[string]int, len(stored))
	next := make([]int, workers) // the k each worker's next stored event must have
	for _, ev := range stored {
		count[ev.ID]++
		var w, k int
		if _, err := fmt.Sscanf(ev.ID, "k-%d-%d", &w, &k); err != nil || w < 0 || w >= workers || id(w, k) != ev.ID {
			t.Errorf("history holds %q, which no worker published", ev.ID)
			continue
		}
		switch {
		case k >= sent[w]:
			t.Errorf("history holds %q, which worker %d never sent (it sent %d)", ev.ID, w, sent[w])
		case k != next[w]:
			// A worker's publishes are sequential: its stored events form
			// a prefix 0, 1, 2... in that order.
			t.Errorf("history holds %q where %q was expected next for worker %d", ev.ID, id(w, next[w]), w)
		}
		next[w] = k + 1
	}
	for idv, n := range count {
		if n > 1 {
			t.Errorf("history holds %q %d times, want once", idv, n)
		}
	}
	missing := 0
	for w := range workers {
		for k := range acked[w] {
			if count[id(w, k)] == 0 {
				missing++
				if missing <= 10 {
					t.Errorf("acknowledged event %q is missing after SIGKILL and restart", id(w, k))
				}
			}
		}
	}
	if missing > 10 {
		t.Errorf("%d acknowledged events are missing in all", missing)
	}
	t.Logf("%d events in history after restart (%d acknowledged, %d sent)", len(stored), total, sumInts(sent))
}

func sumInts(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
