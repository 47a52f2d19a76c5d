package transporttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// batcher returns tr as a BatchAppender, skipping the case when the
// transport does not implement the optional interface.
func batcher(t *testing.T, tr transport.Transport) transport.BatchAppender {
	t.Helper()
	ba, ok := tr.(transport.BatchAppender)
	if !ok {
		t.Skip("the transport does not implement transport.BatchAppender")
	}
	return ba
}

// batchOf builds n events with ids prefix-0 .. prefix-(n-1).
func batchOf(prefix string, n int) []*transport.Event {
	evs := make([]*transport.Event, n)
	for i := range evs {
		evs[i] = &transport.Event{
			ID:     fmt.Sprintf("%s-%d", prefix, i),
			Topics: []string{"https://example.com/batch/" + prefix},
			Data:   fmt.Sprint("batch event ", i),
			Frame:  []byte(fmt.Sprintf("frame %s-%d", prefix, i)),
		}
	}
	return evs
}

func mustAppendBatch(t *testing.T, ba transport.BatchAppender, evs []*transport.Event) {
	t.Helper()
	if err := ba.AppendBatch(context.Background(), evs); err != nil {
		t.Fatalf("AppendBatch of %d events: %v", len(evs), err)
	}
}

// checkFed checks that fed carries sent, pointer for pointer unless the feed
// is remote, with the Frame passed through.
func (s *suite) checkFed(t *testing.T, fed, sent []*transport.Event) {
	t.Helper()
	for i, ev := range fed {
		if s.f.RemoteFeed {
			if d := sameEvent(ev, sent[i]); d != "" {
				t.Fatalf("feed event %d: %s", i, d)
			}
			continue
		}
		if ev != sent[i] {
			t.Fatalf("feed event %d is %q (Seq %d), want the appended pointer %q (Seq %d)", i, ev.ID, ev.Seq, sent[i].ID, sent[i].Seq)
		}
		if !slices.Equal(ev.Frame, sent[i].Frame) {
			t.Fatalf("feed event %d: Frame %q was not passed through", i, ev.Frame)
		}
	}
}

func (s *suite) testBatchOrder(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	ba := batcher(t, tr)
	fd := drain(tr)
	first := sample(1)
	mustAppend(t, tr, first)
	evs := batchOf("b", 10)
	evs[3].Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	before := time.Now()
	mustAppendBatch(t, ba, evs)
	after := time.Now()
	for i, ev := range evs {
		if want := uint64(i + 2); ev.Seq != want {
			t.Fatalf("batch event %d: Seq = %d, want %d (consecutive, after the single append)", i, ev.Seq, want)
		}
		if i == 3 {
			if !ev.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Fatalf("batch event 3: the given Time was replaced by %v", ev.Time)
			}
			continue
		}
		if ev.Time.Before(before.Add(-time.Second)) || ev.Time.After(after.Add(time.Second)) {
			t.Fatalf("batch event %d: Time %v, want the time of the append", i, ev.Time)
		}
	}
	if got := tr.LastSeq(); got != 11 {
		t.Fatalf("LastSeq = %d, want 11", got)
	}
	last := sample(12)
	mustAppend(t, tr, last)
	if last.Seq != 12 {
		t.Fatalf("single append after a batch: Seq = %d, want 12", last.Seq)
	}
	sent := append(append([]*transport.Event{first}, evs...), last)
	s.checkFed(t, fd.wait(t, 12), sent)
	if c := fd.count(); c != 12 {
		t.Fatalf("feed delivered %d events for 12 appended", c)
	}
}

// testBatchInterleaving: single Appends and batches race; no single event
// and no other batch may land inside a batch, on the feed or in Seq order.
// One batch is longer than a typical group commit limit (bolt's default
// MaxBatch is 1000) so that a transport splitting it would be caught.
func (s *suite) testBatchInterleaving(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	ba := batcher(t, tr)
	fd := drain(tr)
	const (
		singlers, perSingler   = 4, 200
		batchers, perBatcher   = 4, 25
		batchLen, bigBatchLen  = 7, 2500
		total                  = singlers*perSingler + batchers*perBatcher*batchLen + bigBatchLen
		bigPrefix, batchPrefix = "big", "b"
	)
	errs := make(chan error, singlers+batchers+1)
	var wg sync.WaitGroup
	checkBatch := func(evs []*transport.Event) error {
		for i, ev := range evs {
			if ev.Seq != evs[0].Seq+uint64(i) {
				return fmt.Errorf("batch %q: event %d has Seq %d after %d: not consecutive", evs[0].ID, i, ev.Seq, evs[0].Seq)
			}
		}
		return nil
	}
	for w := range singlers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perSingler {
				if err := tr.Append(context.Background(), &transport.Event{ID: fmt.Sprintf("s%d-%d", w, k)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for g := range batchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perBatcher {
				evs := batchOf(fmt.Sprintf("%s%d.%d", batchPrefix, g, k), batchLen)
				if err := ba.AppendBatch(context.Background(), evs); err != nil {
					errs <- err
					return
				}
				if err := checkBatch(evs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		evs := batchOf(bigPrefix, bigBatchLen)
		if err := ba.AppendBatch(context.Background(), evs); err != nil {
			errs <- err
			return
		}
		if err := checkBatch(evs); err != nil {
			errs <- err
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := tr.LastSeq(); got != total {
		t.Fatalf("LastSeq = %d, want %d", got, total)
	}
	fed := fd.wait(t, total)
	// Walk the feed: a batch, once started, must continue with its own
	// next event until it is complete.
	var open string // prefix of the batch being read, "" between batches
	var next, length int
	lastK := make(map[string]int) // per batcher, the last batch number seen
	for i, ev := range fed {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("feed position %d has Seq %d: not in Seq order", i, ev.Seq)
		}
		if strings.HasPrefix(ev.ID, "s") {
			if open != "" {
				t.Fatalf("feed position %d: single event %q inside batch %q (after its event %d of %d)", i, ev.ID, open, next, length)
			}
			continue
		}
		cut := strings.LastIndexByte(ev.ID, '-')
		prefix := ev.ID[:cut]
		var j int
		if _, err := fmt.Sscanf(ev.ID[cut+1:], "%d", &j); err != nil {
			t.Fatalf("unexpected id %q", ev.ID)
		}
		if open == "" {
			if j != 0 {
				t.Fatalf("feed position %d: batch %q starts at its event %d", i, prefix, j)
			}
			open, next, length = prefix, 0, batchLen
			if prefix == bigPrefix {
				length = bigBatchLen
			} else {
				var g, k int
				if _, err := fmt.Sscanf(prefix, batchPrefix+"%d.%d", &g, &k); err != nil {
					t.Fatalf("unexpected id %q", ev.ID)
				}
				if prev, ok := lastK[fmt.Sprint(g)]; ok && k != prev+1 {
					t.Fatalf("batcher %d: batch %d fed after batch %d", g, k, prev)
				}
				lastK[fmt.Sprint(g)] = k
			}
		}
		if prefix != open || j != next {
			t.Fatalf("feed position %d: %q inside batch %q, whose event %d was due", i, ev.ID, open, next)
		}
		if next++; next == length {
			open = ""
		}
	}
	if open != "" {
		t.Fatalf("batch %q incomplete on the feed", open)
	}
	if got := seqs(replayAll(t, tr, 0, total)); !slices.Equal(got, span(1, total)) {
		t.Fatalf("Replay returned %d events, want 1..%d", len(got), total)
	}
}

func (s *suite) testBatchLookupReplay(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	ba := batcher(t, tr)
	drain(tr)
	mustAppend(t, tr, &transport.Event{ID: "dup", Data: "single"})
	var evs []*transport.Event
	for i := 1; i <= 300; i++ { // more than one replay page of any sensible size
		evs = append(evs, sample(i))
	}
	evs[10].ID = "dup"    // Seq 12: a later occurrence of an id stored before
	evs[20].ID = "inside" // Seq 22 and 32: a duplicate within the batch
	evs[30].ID = "inside"
	mustAppendBatch(t, ba, evs)
	for id, want := range map[string]uint64{"dup": 1, "inside": 22, sample(1).ID: 2, sample(300).ID: 301} {
		if seq, ok := lookup(t, tr, id); !ok || seq != want {
			t.Errorf("Lookup(%q) = %d, %v; want %d (the earliest occurrence)", id, seq, ok, want)
		}
	}
	got := replayAll(t, tr, 1, 301)
	if len(got) != len(evs) {
		t.Fatalf("Replay(1, 301) returned %d events, want %d", len(got), len(evs))
	}
	for i, ev := range got {
		if d := sameEvent(ev, evs[i]); d != "" {
			t.Fatalf("replayed batch event %d: %s", i, d)
		}
		if ev.Frame != nil {
			t.Fatalf("replayed batch event %d has a Frame; events read back from storage must not", i)
		}
	}
	if got := seqs(replayAll(t, tr, 250, 260)); !slices.Equal(got, span(251, 260)) {
		t.Fatalf("Replay(250, 260) = %v, want 251..260", got)
	}
}

func (s *suite) testBatchEmpty(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	ba := batcher(t, tr)
	fd := drain(tr)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		evs  []*transport.Event
	}{
		{"nil", context.Background(), nil},
		{"empty", context.Background(), []*transport.Event{}},
		{"empty with a done context", cancelled, []*transport.Event{}},
	} {
		if err := ba.AppendBatch(c.ctx, c.evs); err != nil {
			t.Fatalf("AppendBatch(%s) = %v, want nil", c.name, err)
		}
	}
	if got := tr.LastSeq(); got != 0 {
		t.Fatalf("LastSeq = %d after empty batches, want 0", got)
	}
	ev := sample(1)
	mustAppend(t, tr, ev)
	if ev.Seq != 1 {
		t.Fatalf("Seq after empty batches = %d, want 1", ev.Seq)
	}
	if got := fd.wait(t, 1)[0]; got.ID != ev.ID {
		t.Fatalf("feed delivered %q first, want %q", got.ID, ev.ID)
	}
	if c := fd.count(); c != 1 {
		t.Fatalf("feed delivered %d events, want 1", c)
	}
}

func (s *suite) testBatchDoneContext(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	ba := batcher(t, tr)
	fd := drain(tr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	evs := batchOf("cancelled", 5)
	if err := ba.AppendBatch(ctx, evs); !errors.Is(err, context.Canceled) {
		t.Fatalf("AppendBatch with a cancelled context = %v, want context.Canceled", err)
	}
	if got := tr.LastSeq(); got != 0 {
		t.Fatalf("LastSeq = %d after a cancelled AppendBatch, want 0", got)
	}
	for _, ev := range evs {
		if seq, ok := lookup(t, tr, ev.ID); ok {
			t.Fatalf("event %q of the cancelled batch is in the index at %d", ev.ID, seq)
		}
	}
	ev := sample(1)
	mustAppend(t, tr, ev)
	if ev.Seq != 1 {
		t.Fatalf("Seq after a cancelled AppendBatch = %d, want 1", ev.Seq)
	}
	if got := fd.wait(t, 1)[0]; got.ID != ev.ID {
		t.Fatalf("feed delivered %q first, want %q", got.ID, ev.ID)
	}
}

func (s *suite) testBatchNilEvent(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	ba := batcher(t, tr)
	fd := drain(tr)
	evs := batchOf("partial", 3)
	evs = append(evs[:2], nil, evs[2])
	if err := ba.AppendBatch(context.Background(), evs); err == nil {
		t.Fatal("AppendBatch with a nil event succeeded")
	}
	if got := tr.LastSeq(); got != 0 {
		t.Fatalf("LastSeq = %d after a refused batch, want 0 (all or nothing)", got)
	}
	if seq, ok := lookup(t, tr, "partial-0"); ok {
		t.Fatalf("an event of the refused batch is in the index at %d", seq)
	}
	ev := sample(1)
	mustAppend(t, tr, ev)
	if got := fd.wait(t, 1)[0]; got.ID != ev.ID || ev.Seq != 1 {
		t.Fatalf("after a refused batch the feed starts with %q and Seq %d, want %q and 1", got.ID, ev.Seq, ev.ID)
	}
}

func (s *suite) testBatchAfterClose(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	ba := batcher(t, tr)
	drain(tr)
	mustAppendBatch(t, ba, batchOf("before", 3))
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ba.AppendBatch(context.Background(), batchOf("after", 3)); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("AppendBatch after Close = %v, want ErrClosed", err)
	}
}

// testBatchCloseBlocked: nobody reads the feed, so batches end up waiting
// for it; Close must release every one of them, and since batches are
// atomic, what was stored is a whole number of them.
func (s *suite) testBatchCloseBlocked(t *testing.T) {
	dir := t.TempDir()
	tr := s.open(t, dir, Retention{})
	ba := batcher(t, tr)
	const workers, batchLen = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				if err := ba.AppendBatch(context.Background(), batchOf(fmt.Sprintf("w%d.%d", w, k), batchLen)); err != nil {
					return
				}
			}
		}()
	}
	closeWhileBlocked(t, tr, &wg, 2*batchLen, "batches")
	last := tr.LastSeq()
	if last%batchLen != 0 {
		t.Fatalf("LastSeq %d after Close is not a whole number of %d-event batches", last, batchLen)
	}
	n := uint64(0)
	for ev := range tr.Feed() {
		n++
		if ev.Seq != n {
			t.Fatalf("feed position %d has Seq %d", n, ev.Seq)
		}
	}
	if n > last {
		t.Fatalf("feed held %d events for LastSeq %d", n, last)
	}
	if !s.f.Durable {
		return
	}
	tr = s.open(t, dir, Retention{})
	if got := tr.LastSeq(); got != last {
		t.Fatalf("LastSeq after reopen = %d, want %d", got, last)
	}
	if got := seqs(replayAll(t, tr, 0, last)); !slices.Equal(got, span(1, last)) {
		t.Fatalf("reopened history holds %d events, want 1..%d", len(got), last)
	}
}

func (s *suite) testBatchReopen(t *testing.T) {
	if !s.f.Durable {
		t.Skip("not a durable transport")
	}
	dir := t.TempDir()
	tr := s.open(t, dir, Retention{})
	ba := batcher(t, tr)
	drain(tr)
	first := batchOf("first", 20)
	first[5].ID = "dup"
	first[15].ID = "dup"
	mustAppendBatch(t, ba, first)
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	tr = s.open(t, dir, Retention{})
	ba = batcher(t, tr)
	fd := drain(tr)
	if got := tr.LastSeq(); got != 20 {
		t.Fatalf("LastSeq after reopen = %d, want 20", got)
	}
	got := replayAll(t, tr, 0, 20)
	if len(got) != 20 {
		t.Fatalf("replay after reopen returned %d events, want 20", len(got))
	}
	for i, ev := range got {
		if d := sameEvent(ev, first[i]); d != "" {
			t.Fatalf("batch event %d after reopen: %s", i, d)
		}
	}
	if seq, ok := lookup(t, tr, "dup"); !ok || seq != 6 {
		t.Errorf(`Lookup("dup") after reopen = %d, %v; want 6`, seq, ok)
	}
	second := batchOf("second", 5)
	mustAppendBatch(t, ba, second)
	if got := seqs(second); !slices.Equal(got, span(21, 25)) {
		t.Fatalf("Seqs of a batch after reopen = %v, want 21..25", got)
	}
	s.checkFed(t, fd.wait(t, 5), second)
	if seq, ok := lookup(t, tr, "second-4"); !ok || seq != 25 {
		t.Errorf("Lookup(second-4) = %d, %v; want 25", seq, ok)
	}
}
