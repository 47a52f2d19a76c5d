//go:build unix

package binary_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestREC6_ReplayTwoThousandOfTwentyThousand stores 20,000 events in the
// bolt history and reconnects with the id of the 18,000th: the 2,000 later
// ones come in one connection, in publication order, followed by live
// events with no gap and no duplicate (REC-6, REC-15).
func TestREC6_ReplayTwoThousandOfTwentyThousand(t *testing.T) {
	t.Parallel()
	const (
		topic   = "https://example.com/rec6"
		workers = 16
		before  = 17999 // published concurrently, then the cursor
		after   = 2000  // published concurrently after the cursor
		live    = 10
	)
	h := startHub(t, hubOptions{})
	tok := subscriberToken(t, "*")

	h.publishConcurrently(t, workers, before, func(i int) update {
		id := fmt.Sprintf("old-%05d", i)
		return update{topics: []string{topic}, id: id, data: "data of " + id}
	})
	// The cursor is published alone, so it is the 18,000th stored event,
	// and everything published after its acknowledgement comes after it.
	const cursor = "cursor-18000"
	h.mustPublish(t, update{topics: []string{topic}, id: cursor, data: "the cursor"})
	newID := func(i int) string { return fmt.Sprintf("new-%04d", i) }
	perWorker := h.publishConcurrently(t, workers, after, func(i int) update {
		return update{topics: []string{topic}, id: newID(i), data: "data of " + newID(i)}
	})
	// Concurrent publishers have no total order, but each worker waited for
	// the answer to one publish before sending the next, so its own events
	// must come back in the order it sent them.
	worker := make(map[string]int, after)
	rank := make(map[string]int, after)
	for w, is := range perWorker {
		for r, i := range is {
			worker[newID(i)], rank[newID(i)] = w, r
		}
	}

	s := h.subscribe(t, subOptions{topics: []string{topic}, tok: tok, lastEventID: cursor})
	s.checkCursorHeaders(t, cursor)

	// Half of the live events are published while the replay runs, so they
	// cross the hand-over from history to live delivery; the other half
	// after the replay was read.
	liveID := func(i int) string { return fmt.Sprintf("live-%d", i) }
	pubTok := publisherToken(t)
	pubErr := make(chan error, 1)
	go func() {
		for i := range live / 2 {
			status, body, err := h.publish(t.Context(), pubTok, update{topics: []string{topic}, id: liveID(i), data: "live"})
			if err == nil && (status != 200 || body != liveID(i)) {
				err = fmt.Errorf("publish %s: status %d, body %q", liveID(i), status, body)
			}
			if err != nil {
				pubErr <- err
				return
			}
		}
		pubErr <- nil
	}()

	seen := make(map[string]bool, after)
	lastRank := make([]int, workers)
	for i := range lastRank {
		lastRank[i] = -1
	}
	for n := range after {
		ev := s.next(t)
		w, ok := worker[ev.ID]
		switch {
		case !ok:
			t.Fatalf("replayed event %d has id %q: not one of the %d events published after the cursor", n, ev.ID, after)
		case seen[ev.ID]:
			t.Fatalf("event %q replayed twice", ev.ID)
		case rank[ev.ID] < lastRank[w]:
			t.Fatalf("event %q replayed after a later event of the same publisher", ev.ID)
		case ev.Data != "data of "+ev.ID:
			t.Fatalf("event %q: data %q, want %q", ev.ID, ev.Data, "data of "+ev.ID)
		}
		seen[ev.ID] = true
		lastRank[w] = rank[ev.ID]
	}
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	for i := live / 2; i < live; i++ {
		h.mustPublish(t, update{topics: []string{topic}, id: liveID(i), data: "live"})
	}
	want := make([]string, live)
	for i := range want {
		want[i] = liveID(i)
	}
	s.expectIDs(t, want...)
	if extra := s.untilMarker(t); len(extra) > 0 {
		t.Errorf("after the live events the stream sent %q before the marker, want nothing", eventIDs(extra))
	}
}

// TestREC8_Earliest replays the whole stored history of the subscribed
// topic, in publication order, for the cursor "earliest" (REC-8, LEG-15).
func TestREC8_Earliest(t *testing.T) {
	t.Parallel()
	const topic, other = "https://example.com/rec8", "https://example.com/rec8-other"
	h := startHub(t, hubOptions{})
	h.publishAll(t,
		update{topics: []string{topic}, id: "t-1", data: "one"},
		update{topics: []string{other}, id: "o-1", data: "not subscribed"},
		update{topics: []string{topic}, id: "t-2", data: "two\nlines"},
		update{topics: []string{topic}, id: "t-3", data: "three"},
		update{topics: []string{other}, id: "o-2", data: "not subscribed"},
		update{topics: []string{other, topic}, id: "t-4", data: "alternate topic"},
	)
	s := h.subscribe(t, subOptions{
		topics: []string{topic},
		tok:    subscriberToken(t, "*"),
		query:  url.Values{"last_event_id": {"earliest"}},
	})
	s.checkCursorHeaders(t, "earliest")
	got := s.untilMarker(t)
	want := []sseEvent{{ID: "t-1", Data: "one"}, {ID: "t-2", Data: "two\nlines"}, {ID: "t-3", Data: "three"}, {ID: "t-4", Data: "alternate topic"}}
	if !slices.Equal(got, want) {
		t.Errorf("earliest replayed %+v, want %+v", got, want)
	}
}

// TestREC11_UnknownCursor: a cursor naming no stored event replays nothing
// and the headers say "earliest" (REC-11, LEG-16).
func TestREC11_UnknownCursor(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/rec11"
	h := startHub(t, hubOptions{})
	h.publishAll(t, seqUpdates(topic, "known", 3)...)
	for _, tc := range []struct{ name, how string }{
		{"query", "last_event_id"},
		{"header", "Last-Event-ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := subOptions{topics: []string{topic}, tok: subscriberToken(t, "*")}
			if tc.how == "Last-Event-ID" {
				o.lastEventID = "no-such-event"
			} else {
				o.query = url.Values{tc.how: {"no-such-event"}}
			}
			s := h.subscribe(t, o)
			s.checkCursorHeaders(t, "earliest")
			if got := s.untilMarker(t); len(got) > 0 {
				t.Errorf("an unknown cursor replayed %q, want nothing", eventIDs(got))
			}
		})
	}
}

// TestREC7_PrivateHistoryOnlyForAuthorizedSubscribers: replayed private
// events are checked against the reconnecting subscriber's token; those it
// does not grant are never sent (REC-7), while public ones are.
func TestREC7_PrivateHistoryOnlyForAuthorizedSubscribers(t *testing.T) {
	t.Parallel()
	const (
		secret = "https://example.com/secret"
		news   = "https://example.com/news"
	)
	h := startHub(t, hubOptions{anonymous: true})
	h.publishAll(t,
		update{topics: []string{news}, id: "before", data: "public, the cursor"},
		update{topics: []string{secret}, id: "private-1", data: "secret", private: true},
		update{topics: []string{news}, id: "public-1", data: "public"},
		// Private with an alternate topic that every subscriber below
		// subscribes to: the topic matches, only the grant can keep it out.
		update{topics: []string{secret, news}, id: "private-2", data: "secret too", private: true},
		update{topics: []string{news}, id: "public-2", data: "public"},
	)
	for _, tc := range []struct {
		name string
		tok  string
		want []string
	}{
		{"granted", subscriberToken(t, secret), []string{"private-1", "public-1", "private-2", "public-2"}},
		{"not granted", subscriberToken(t, "https://example.com/other"), []string{"public-1", "public-2"}},
		{"anonymous", "", []string{"public-1", "public-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := h.subscribe(t, subOptions{topics: []string{secret, news}, tok: tc.tok, lastEventID: "before"})
			s.checkCursorHeaders(t, "before")
			if got := eventIDs(s.untilMarker(t)); !slices.Equal(got, tc.want) {
				t.Errorf("replayed %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLEG14_LegacyCursorParameters: the 0.14+ `lastEventID` parameter and
// event-source-polyfill's `lastEventId` both resume the bolt history after
// the cursor, and the legacy Last-Event-ID response header names it
// (LEG-14, LEG-16).
func TestLEG14_LegacyCursorParameters(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/leg14"
	h := startHub(t, hubOptions{})
	us := seqUpdates(topic, "ev", 4)
	h.publishAll(t, us...)
	for _, param := range []string{"lastEventID", "lastEventId"} {
		t.Run(param, func(t *testing.T) {
			s := h.subscribe(t, subOptions{
				topics: []string{topic},
				tok:    subscriberToken(t, "*"),
				query:  url.Values{param: {"ev-1"}},
			})
			s.checkCursorHeaders(t, "ev-1")
			got := s.untilMarker(t)
			if want := idsOf(us[2:]); !slices.Equal(eventIDs(got), want) {
				t.Errorf("%s=ev-1 replayed %q, want %q", param, eventIDs(got), want)
			}
			for _, ev := range got {
				if !strings.HasPrefix(ev.Data, "data of ") {
					t.Errorf("event %q: data %q lost in storage", ev.ID, ev.Data)
				}
			}
		})
	}
}
