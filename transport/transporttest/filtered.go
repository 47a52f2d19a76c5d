package transporttest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

// Cases of the optional FilteredReplayer (finding 2 of issue 10: a replay
// holds only what its subscriber may receive, pages bounded in bytes, all
// replays together within a budget).

// filtered returns tr as a FilteredReplayer, skipping the case when the
// transport does not implement the optional interface.
func filtered(t *testing.T, tr transport.Transport) transport.FilteredReplayer {
	t.Helper()
	fr, ok := tr.(transport.FilteredReplayer)
	if !ok {
		t.Skip("the transport does not implement transport.FilteredReplayer")
	}
	return fr
}

// bigEvent is event i of topic with n bytes of data.
func bigEvent(topic string, i, n int) *transport.Event {
	return &transport.Event{
		ID:     fmt.Sprintf("%s-%d", topic, i),
		Topics: []string{"https://example.com/" + topic},
		Data:   strings.Repeat(string(rune('a'+i%26)), n),
	}
}

// testFilteredSkipsRefused: fn sees exactly the events the filter accepts,
// in Seq order, and the filter is asked with each event's topics and
// private flag.
func (s *suite) testFilteredSkipsRefused(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fr := filtered(t, tr)
	drain(tr)
	var want []uint64
	for i := range 30 {
		ev := sample(i)
		mustAppend(t, tr, ev)
		if !ev.Private && i%2 == 0 {
			want = append(want, ev.Seq)
		}
	}
	asked := 0
	filter := func(topics []string, private bool) bool {
		asked++
		var i int
		if _, err := fmt.Sscanf(topics[0], "https://example.com/books/%d", &i); err != nil {
			t.Errorf("filter got topics %q", topics)
			return false
		}
		if private != (i%3 == 0) {
			t.Errorf("filter got private=%v for event %d", private, i)
		}
		return !private && i%2 == 0
	}
	var got []*transport.Event
	err := fr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{Filter: filter}, func(ev *transport.Event) error {
		got = append(got, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("ReplayFiltered: %v", err)
	}
	if !slices.Equal(seqs(got), want) {
		t.Fatalf("ReplayFiltered delivered %v, want %v", seqs(got), want)
	}
	for _, ev := range got {
		var i int
		_, _ = fmt.Sscanf(ev.ID, "urn:test:%d", &i)
		w := sample(i)
		w.Seq = uint64(i + 1)
		if d := sameEvent(ev, w); d != "" {
			t.Errorf("event %d: %s", ev.Seq, d)
		}
	}
	if asked != 30 {
		t.Errorf("filter asked %d times, want once per event in range (30)", asked)
	}
}

// testFilteredPagesInBytes: while fn runs, the replay holds at most a page
// of bytes from the budget, or one event when that event is larger than a
// page; every event arrives, the large one included.
func (s *suite) testFilteredPagesInBytes(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fr := filtered(t, tr)
	drain(tr)
	const small = 40 << 10
	large := transport.ReplayPageBytes * 3
	var appended []*transport.Event
	for i := range 20 {
		n := small
		if i == 10 {
			n = large
		}
		ev := bigEvent("pages", i, n)
		mustAppend(t, tr, ev)
		appended = append(appended, ev)
	}
	budget := transport.NewBudget(1 << 30)
	var got []uint64
	err := fr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{Budget: budget}, func(ev *transport.Event) error {
		got = append(got, ev.Seq)
		held := budget.InUse()
		limit := int64(transport.ReplayPageBytes)
		if len(ev.Data) == large {
			limit = 2 * transport.EventSize(ev)
			if held < int64(large) {
				t.Errorf("event %d of %d bytes delivered with only %d bytes of budget held", ev.Seq, large, held)
			}
		}
		if held > limit {
			t.Errorf("event %d: the replay holds %d bytes of budget, more than %d", ev.Seq, held, limit)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ReplayFiltered: %v", err)
	}
	if !slices.Equal(got, seqs(appended)) {
		t.Fatalf("delivered %v, want %v", got, seqs(appended))
	}
	if n := budget.InUse(); n != 0 {
		t.Fatalf("the replay left %d bytes of budget taken", n)
	}
}

// testFilteredWaitsForBudget: a replay whose budget is taken waits for it
// (delivering nothing) and gives up when its context ends; once the budget
// is free it completes, and it leaves nothing taken, also after an error of
// fn.
func (s *suite) testFilteredWaitsForBudget(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fr := filtered(t, tr)
	drain(tr)
	for i := range 5 {
		mustAppend(t, tr, bigEvent("budget", i, 1000))
	}
	budget := transport.NewBudget(1 << 20)
	taken, err := budget.Acquire(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	delivered := 0
	done := make(chan error, 1)
	go func() {
		done <- fr.ReplayFiltered(ctx, 0, tr.LastSeq(), transport.ReplayOptions{Budget: budget}, func(*transport.Event) error {
			delivered++
			return nil
		})
	}()
	waitFor(t, "the replay to wait for budget", func() bool { return budget.Waiting() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReplayFiltered with its budget taken and its context cancelled: %v, want context.Canceled", err)
	}
	if delivered != 0 {
		t.Fatalf("the replay delivered %d events without budget", delivered)
	}

	go func() {
		done <- fr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{Budget: budget}, func(*transport.Event) error {
			delivered++
			return nil
		})
	}()
	waitFor(t, "the second replay to wait for budget", func() bool { return budget.Waiting() == 1 })
	budget.Release(taken)
	if err := <-done; err != nil {
		t.Fatalf("ReplayFiltered once the budget is free: %v", err)
	}
	if delivered != 5 {
		t.Fatalf("delivered %d events, want 5", delivered)
	}
	stop := errors.New("stop")
	err = fr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{Budget: budget}, func(*transport.Event) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("ReplayFiltered with a failing fn: %v", err)
	}
	if n := budget.InUse(); n != 0 {
		t.Fatalf("replays left %d bytes of budget taken", n)
	}
}

// testFilteredLongMiss: a filter that refuses everything over a history
// longer than a transaction's scan ends with nothing delivered and every
// event asked about once.
func (s *suite) testFilteredLongMiss(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fr := filtered(t, tr)
	drain(tr)
	const n = 10_000
	evs := make([]*transport.Event, n)
	for i := range evs {
		evs[i] = &transport.Event{ID: fmt.Sprint(i), Topics: []string{"https://example.com/miss"}, Data: "x"}
	}
	if ba, ok := tr.(transport.BatchAppender); ok {
		if err := ba.AppendBatch(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	} else {
		for _, ev := range evs {
			mustAppend(t, tr, ev)
		}
	}
	asked := 0
	err := fr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{
		Filter: func([]string, bool) bool { asked++; return false },
	}, func(ev *transport.Event) error {
		t.Errorf("event %d delivered although the filter refused it", ev.Seq)
		return nil
	})
	if err != nil {
		t.Fatalf("ReplayFiltered: %v", err)
	}
	if asked != n {
		t.Fatalf("filter asked %d times, want %d", asked, n)
	}
}

// testFilteredBounds: ReplayFiltered honours after and until as Replay
// does, with and without a filter, and with a budget of one byte (each
// page then waits for the whole budget, and the replay must still resume
// where the page before it ended).
func (s *suite) testFilteredBounds(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fr := filtered(t, tr)
	drain(tr)
	const n = 10
	for i := 1; i <= n; i++ {
		mustAppend(t, tr, sample(i))
	}
	// sample(i) is private when i%3 == 0: the filter keeps public events.
	public := func(_ []string, private bool) bool { return !private }
	ranges := []struct{ after, until uint64 }{
		{0, n}, {0, 0}, {3, 7}, {7, 7}, {8, 3}, {5, 1000}, {0, math.MaxUint64}, {n, n + 5}, {n - 1, n}, {math.MaxUint64, math.MaxUint64},
	}
	for _, r := range ranges {
		var all, pub []uint64
		for seq := r.after + 1; seq <= min(r.until, n) && seq != 0; seq++ {
			all = append(all, seq)
			if seq%3 != 0 {
				pub = append(pub, seq)
			}
		}
		for _, c := range []struct {
			name   string
			filter func([]string, bool) bool
			want   []uint64
		}{{"no filter", nil, all}, {"public only", public, pub}} {
			for _, budget := range []*transport.Budget{nil, transport.NewBudget(1)} {
				var got []uint64
				err := fr.ReplayFiltered(context.Background(), r.after, r.until, transport.ReplayOptions{Filter: c.filter, Budget: budget}, func(ev *transport.Event) error {
					got = append(got, ev.Seq)
					return nil
				})
				if err != nil {
					t.Fatalf("ReplayFiltered(%d, %d), %s: %v", r.after, r.until, c.name, err)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("ReplayFiltered(%d, %d), %s, budget %v: %v, want %v", r.after, r.until, c.name, budget != nil, got, c.want)
				}
			}
		}
	}
}

// testFilteredSkipsTrimmed: events that retention removes while a
// filtered replay runs are not delivered once the page that holds them
// has not been read yet. Events are large enough that a page holds one,
// so the replay has read only the first when fn appends enough to push
// the rest out of a size-bounded history.
func (s *suite) testFilteredSkipsTrimmed(t *testing.T) {
	for _, c := range []struct {
		name   string
		filter func([]string, bool) bool
	}{{"no filter", nil}, {"filter", func([]string, bool) bool { return true }}} {
		t.Run(c.name, func(t *testing.T) {
			tr := s.open(t, t.TempDir(), Retention{Size: 5})
			fr := filtered(t, tr)
			drain(tr)
			size := transport.ReplayPageBytes * 3 / 4
			for i := range 5 {
				mustAppend(t, tr, bigEvent("trimmed", i, size))
			}
			until := tr.LastSeq()
			var got []uint64
			err := fr.ReplayFiltered(context.Background(), 0, until, transport.ReplayOptions{Filter: c.filter}, func(ev *transport.Event) error {
				got = append(got, ev.Seq)
				if len(got) == 1 {
					for i := range 5 {
						mustAppend(t, tr, bigEvent("pushing", i, 10))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("ReplayFiltered: %v", err)
			}
			if !slices.Equal(got, []uint64{until - 4}) {
				t.Fatalf("delivered %v, want only the first event (%d): the others were trimmed before their page was read", got, until-4)
			}
		})
	}
}
