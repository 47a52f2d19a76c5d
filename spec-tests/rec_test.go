package spectests_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
)

// Section 1.7 of the checklist: reconnection, history, cursors (REC).

// eachTransport runs fn like each, on every registered transport (memory,
// and bolt when it is built in): history behaviour is the transport's job.
func eachTransport(t *testing.T, opts Options, fn func(t *testing.T, h *Harness)) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(transportFactories)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := opts
			o.Transport = name
			each(t, o, fn)
		})
	}
}

// wantCursor checks that the response carries the cursor answer under both
// names (Hermes sends the 0.x and the draft-08 header alike); want ""
// means neither header may be present.
func wantCursor(t testing.TB, s *Stream, want string) {
	t.Helper()
	for _, name := range []string{"Last-Event-ID", "Mercure-Last-Event-ID"} {
		vs := s.Resp.Header.Values(name)
		switch {
		case want == "" && len(vs) != 0:
			t.Errorf("%s: %q, want no such header (no cursor was sent)", name, vs)
		case want != "" && (len(vs) != 1 || vs[0] != want):
			t.Errorf("%s: %q, want %q", name, vs, want)
		}
	}
}

func TestREC4_LastEventIDQueryParameterReplays(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "t", "id", "a")
		h.publish(t, "topic", "t", "id", "b")
		s := h.sub(t, q("match", "t", "last_event_id", "a"))
		wantCursor(t, s, "a")
		s.expectIDs(t, "b")
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)
	})
}

func TestREC5_HeaderWinsOverQueryParameter(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		for _, id := range []string{"a", "b", "c"} {
			h.publish(t, "topic", "t", "id", id)
		}
		s := h.subscribe(t, Req{Query: q("match", "t", "last_event_id", "a"), Header: http.Header{"Last-Event-ID": {"b"}}})
		wantCursor(t, s, "b")
		s.expectIDs(t, "c")
		// An empty header falls through to the parameter.
		s = h.subscribe(t, Req{Query: q("match", "t", "last_event_id", "a"), Header: http.Header{"Last-Event-ID": {""}}})
		wantCursor(t, s, "a")
		s.expectIDs(t, "b", "c")
	})
}

func TestREC7_ReplayRechecksTheCurrentToken(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "https://example.com/public", "id", "before")
		h.publish(t, "topic", "https://example.com/secret", "id", "p", "private", "on")
		h.publish(t, "topic", "https://example.com/public", "id", "after")
		for what, tok := range map[string]string{
			"anonymous":        "",
			"other grant":      h.modernSub("https://example.com/other"),
			"legacy, no grant": h.legacySub("https://example.com/public"),
		} {
			s := h.subscribe(t, Req{Query: q("match", "*", "last_event_id", "before"), Token: tok})
			t.Run(what, func(t *testing.T) { s.expectIDs(t, "after") })
			s.Close()
		}
		s := h.sub(t, q("match", "*", "last_event_id", "before"), h.modernSub("https://example.com/secret"))
		s.expectIDs(t, "p", "after")
	})
}

func TestREC8_EarliestReplaysAllHistoryInOrder(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "t", "id", "1")
		h.publish(t, "topic", "other", "id", "x")
		h.publish(t, "topic", "t", "id", "2")
		h.publish(t, "topic", "other", "topic", "t", "id", "3")
		s := h.sub(t, q("match", "t", "last_event_id", "earliest"))
		wantCursor(t, s, "earliest")
		s.expectIDs(t, "1", "2", "3")

		s = h.subscribe(t, Req{Query: q("match", "t"), Header: http.Header{"Last-Event-ID": {"earliest"}}})
		wantCursor(t, s, "earliest")
		s.expectIDs(t, "1", "2", "3")
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)
	})
}

func TestREC9_DuplicateIDsResolveToTheEarliest(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		for _, id := range []string{"d", "x", "d", "y"} {
			h.publish(t, "topic", "t", "id", id)
		}
		s := h.sub(t, q("match", "t", "last_event_id", "d"))
		wantCursor(t, s, "d")
		s.expectIDs(t, "x", "d", "y")
	})
}

func TestREC10_EmptyCursorStillGetsTheHeader(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "t", "id", "old")
		s := h.sub(t, q("match", "t", "last_event_id", ""))
		wantCursor(t, s, "earliest")
		s = h.subscribe(t, Req{Query: q("match", "t"), Header: http.Header{"Last-Event-ID": {""}}})
		wantCursor(t, s, "earliest")
		// An empty cursor replays nothing: the first event is live.
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)

		s = h.sub(t, q("match", "t"))
		wantCursor(t, s, "")
	})
}

func TestREC11_UnknownCursorIsEarliestAndReplaysNothing(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "t", "id", "a")
		h.publish(t, "topic", "t", "id", "b")
		s := h.sub(t, q("match", "t", "last_event_id", "unknown"))
		wantCursor(t, s, "earliest")
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)
	})
}

func TestREC11_KnownCursorIsEchoed(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "t", "id", "a")
		h.publish(t, "topic", "t", "id", "b")
		s := h.sub(t, q("match", "t", "last_event_id", "a"))
		wantCursor(t, s, "a")
		s.expectIDs(t, "b")
		// The newest event as cursor: nothing to replay.
		s = h.sub(t, q("match", "t", "last_event_id", "b"))
		wantCursor(t, s, "b")
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)
	})
}

func TestREC11_EmptyHistoryIsEarliest(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t", "last_event_id", "earliest"))
		wantCursor(t, s, "earliest")
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)
	})
}

func TestREC11_TrimmedCursorIsEarliestAndReplaysNothing(t *testing.T) {
	t.Parallel()
	eachTransport(t, Options{Anonymous: true, HistorySize: 3}, func(t *testing.T, h *Harness) {
		for i := range 6 {
			h.publish(t, "topic", "t", "id", fmt.Sprint(i))
		}
		s := h.sub(t, q("match", "t", "last_event_id", "0"))
		wantCursor(t, s, "earliest")
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)
		// What is kept is still replayed.
		s = h.sub(t, q("match", "t", "last_event_id", "earliest"))
		s.expectIDs(t, "4", "5", live)
	})
}

// REC-15 and §4 pitfall 1: history then live, with no gap and no duplicate,
// while publishers keep going during the replay.
func TestREC15_HistoryThenLiveWithoutGapOrDuplicate(t *testing.T) {
	t.Parallel()
	// More history than one replay pass takes, so the subscriber catches up
	// in several passes while live events keep coming.
	const before, during = 600, 300
	for _, cursor := range []string{"e00010", "earliest"} {
		t.Run(cursor, func(t *testing.T) {
			t.Parallel()
			eachTransport(t, anon, func(t *testing.T, h *Harness) {
				id := func(i int) string { return fmt.Sprintf("e%05d", i) }
				// Every third update is on another topic: the subscriber
				// must see exactly the t ones.
				topicOf := func(i int) string {
					if i%3 == 2 {
						return "other"
					}
					return "t"
				}
				for i := range before {
					h.publish(t, "topic", topicOf(i), "id", id(i))
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() {
					for i := before; i < before+during; i++ {
						res, err := h.tryPublish(ctx, h.pubAll, form("topic", topicOf(i), "id", id(i)))
						if err == nil && res.Status != http.StatusOK {
							err = fmt.Errorf("publishing %s: status %d", id(i), res.Status)
						}
						if err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()

				s := h.sub(t, q("match", "t", "last_event_id", cursor))
				first := 0
				if cursor != "earliest" {
					first = 11
				}
				var want []string
				for i := first; i < before+during; i++ {
					if topicOf(i) == "t" {
						want = append(want, id(i))
					}
				}
				for n, w := range want {
					ev, err := s.NextEvent(arrive)
					if err != nil {
						select {
						case perr := <-done:
							t.Fatalf("event %d (want %s): %v; publisher: %v", n, w, err, perr)
						default:
							t.Fatalf("event %d (want %s): %v", n, w, err)
						}
					}
					if ev.ID != w {
						t.Fatalf("event %d: got %s, want %s (gap or duplicate between history and live)", n, ev.ID, w)
					}
				}
				if err := <-done; err != nil {
					t.Fatalf("publisher: %v", err)
				}
				marker := h.publish(t, "topic", "t")
				s.expectIDs(t, marker)
			})
		})
	}
}
