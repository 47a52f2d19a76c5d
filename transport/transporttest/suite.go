// Package transporttest is the conformance suite of the transport contract.
// Every transport runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, transporttest.Factory{
//			Open: func(t *testing.T, dir string, r transporttest.Retention) transport.Transport { ... },
//			Durable: true,
//		})
//	}
//
// The suite drains Feed in every case, because the contract lets Append
// wait for a consumer that lags.
package transporttest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// Retention is what a case asks the transport under test to keep.
type Retention struct {
	// Size: keep at most this many events (the most recent). Zero: keep at
	// least every event the case appends (the suite appends at most
	// MaxEventsPerCase).
	Size int
	// MaxAge: drop events whose Time is older than this. Zero: no age limit.
	// Only asked of factories with Age set.
	MaxAge time.Duration
}

// MaxEventsPerCase is the most events one case appends; a factory asked for
// Retention.Size 0 must keep at least this many.
const MaxEventsPerCase = 100_000

// Factory describes the transport under test.
type Factory struct {
	// Open returns a transport storing its data in dir. Each case gets a
	// fresh dir; cases of durable transports call Open again on the same
	// dir after closing the first transport. Open reports its own failures
	// with t.Fatal. The suite closes what Open returns.
	Open func(t *testing.T, dir string, r Retention) transport.Transport
	// Durable: the history, the id index and LastSeq survive Close and
	// Open on the same dir. Enables the reopen cases.
	Durable bool
	// Age: the transport enforces Retention.MaxAge. Enables the age cases.
	Age bool
	// RemoteFeed: Feed delivers decoded copies (a feed shared by several
	// nodes), not the very pointers given to Append. The suite then compares
	// fields instead of pointers and does not expect Frame on the feed.
	RemoteFeed bool
}

// waitLimit bounds every wait of the suite; a transport that needs longer
// is treated as stuck.
const waitLimit = 30 * time.Second

// Run runs the conformance suite against the transport f opens.
func Run(t *testing.T, f Factory) {
	if f.Open == nil {
		t.Fatal("transporttest: Factory.Open is nil")
	}
	s := &suite{f: f}
	t.Run("AppendAssignsSeqAndFeedsInOrder", s.testAppendOrder)
	t.Run("AppendSetsZeroTime", s.testAppendSetsTime)
	t.Run("AppendWithDoneContextStoresNothing", s.testAppendDoneContext)
	t.Run("Lookup", s.testLookup)
	t.Run("REC9_DuplicateIDsResolveToEarliest", s.testDuplicateIDs)
	t.Run("ReplayBounds", s.testReplayBounds)
	t.Run("Replay100k", s.testReplayLarge)
	t.Run("ReplayStopsOnCallbackError", s.testReplayFnError)
	t.Run("ReplayStopsOnContextCancel", s.testReplayCancel)
	t.Run("ReplayCallbackMayUseTransport", s.testReplayReentrant)
	t.Run("ConcurrentAppends", s.testConcurrentAppends)
	t.Run("Close", s.testClose)
	t.Run("CloseWithBlockedAppends", s.testCloseBlocked)
	t.Run("RetentionBySize", s.testRetentionSize)
	t.Run("Reopen", s.testReopen)
	t.Run("ReopenKeepsSeqAfterEverythingExpired", s.testReopenAllExpired)
	t.Run("ReopenWithSmallerSizeTrims", s.testReopenSmaller)
	t.Run("RetentionByAge", s.testRetentionAge)
	t.Run("RetentionByAgeWithoutAppends", s.testRetentionAgeIdle)
	// Cases of the optional BatchAppender (batch.go); skipped by
	// transports that do not implement it.
	t.Run("BatchAssignsConsecutiveSeqsAndFeedsInOrder", s.testBatchOrder)
	t.Run("BatchIsNeverSplitByConcurrentAppends", s.testBatchInterleaving)
	t.Run("BatchLookupAndReplay", s.testBatchLookupReplay)
	t.Run("BatchEmptyIsNoop", s.testBatchEmpty)
	t.Run("BatchWithDoneContextStoresNothing", s.testBatchDoneContext)
	t.Run("BatchWithNilEventStoresNothing", s.testBatchNilEvent)
	t.Run("BatchAfterClose", s.testBatchAfterClose)
	t.Run("BatchCloseWithBlockedBatches", s.testBatchCloseBlocked)
	t.Run("BatchReopen", s.testBatchReopen)
	// Cases of the optional FilteredReplayer (filtered.go).
	t.Run("FilteredReplaySkipsRefused", s.testFilteredSkipsRefused)
	t.Run("FilteredReplayPagesInBytes", s.testFilteredPagesInBytes)
	t.Run("FilteredReplayWaitsForBudget", s.testFilteredWaitsForBudget)
	t.Run("FilteredReplayLongMiss", s.testFilteredLongMiss)
	t.Run("FilteredReplayBounds", s.testFilteredBounds)
	t.Run("FilteredReplaySkipsTrimmed", s.testFilteredSkipsTrimmed)
	// Cases of the optional IDMinter (minted.go).
	t.Run("REC12_MintedIDsAreOpaque", s.testMintedOpaque)
	t.Run("REC9_MintedIDsLookup", s.testMintedLookup)
	t.Run("MintedIDsUniqueAcrossReopen", s.testMintedUniqueAcrossReopen)
}

type suite struct{ f Factory }

// open opens a transport in dir and closes it when the test ends.
func (s *suite) open(t *testing.T, dir string, r Retention) transport.Transport {
	t.Helper()
	tr := s.f.Open(t, dir, r)
	if tr == nil {
		t.Fatal("Factory.Open returned nil")
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// feed collects what a transport's Feed delivers.
type feed struct {
	mu      sync.Mutex
	evs     []*transport.Event
	closed  bool
	changed chan struct{} // closed and replaced on every change
}

// drain starts consuming tr.Feed until it is closed.
func drain(tr transport.Transport) *feed {
	c := &feed{changed: make(chan struct{})}
	ch := tr.Feed()
	go func() {
		for ev := range ch {
			c.mu.Lock()
			c.evs = append(c.evs, ev)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.closed = true
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}()
	return c
}

// wait returns the first n events fed, failing when they do not arrive.
func (c *feed) wait(t *testing.T, n int) []*transport.Event {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		got, closed, changed := len(c.evs), c.closed, c.changed
		if got >= n {
			evs := slices.Clone(c.evs[:n])
			c.mu.Unlock()
			return evs
		}
		c.mu.Unlock()
		if closed {
			t.Fatalf("feed closed after %d events, want %d", got, n)
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("feed delivered %d events in %v, want %d", got, waitLimit, n)
		}
	}
}

// waitClosed waits until the feed is closed and returns everything it delivered.
func (c *feed) waitClosed(t *testing.T) []*transport.Event {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		closed, changed := c.closed, c.changed
		if closed {
			evs := slices.Clone(c.evs)
			c.mu.Unlock()
			return evs
		}
		c.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("feed not closed within %v", waitLimit)
		}
	}
}

// count returns how many events were fed so far.
func (c *feed) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.evs)
}

// sample builds a distinctive event i.
func sample(i int) *transport.Event {
	ev := &transport.Event{
		ID:      fmt.Sprintf("urn:test:%d", i),
		Topics:  []string{fmt.Sprintf("https://example.com/books/%d", i), "https://example.com/books"},
		Private: i%3 == 0,
		Type:    []string{"", "message", "update"}[i%3],
		Retry:   uint64(i % 5 * 1000),
		Data:    fmt.Sprintf("data %d\nline two é\x00", i),
		Time:    time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC),
	}
	ev.Frame = []byte("frame " + ev.ID)
	return ev
}

func mustAppend(t *testing.T, tr transport.Transport, ev *transport.Event) {
	t.Helper()
	if err := tr.Append(context.Background(), ev); err != nil {
		t.Fatalf("Append(%q): %v", ev.ID, err)
	}
}

// replayAll returns what Replay(after, until) yields.
func replayAll(t *testing.T, tr transport.Transport, after, until uint64) []*transport.Event {
	t.Helper()
	var evs []*transport.Event
	err := tr.Replay(context.Background(), after, until, func(ev *transport.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%d, %d): %v", after, until, err)
	}
	return evs
}

func seqs(evs []*transport.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// span returns the Seqs from..to inclusive.
func span(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// sameEvent reports how got differs from want, ignoring Frame.
func sameEvent(got, want *transport.Event) string {
	switch {
	case got.Seq != want.Seq:
		return fmt.Sprintf("Seq %d, want %d", got.Seq, want.Seq)
	case got.ID != want.ID:
		return fmt.Sprintf("ID %q, want %q", got.ID, want.ID)
	case !slices.Equal(got.Topics, want.Topics):
		return fmt.Sprintf("Topics %q, want %q", got.Topics, want.Topics)
	case got.Private != want.Private:
		return fmt.Sprintf("Private %v, want %v", got.Private, want.Private)
	case got.Type != want.Type:
		return fmt.Sprintf("Type %q, want %q", got.Type, want.Type)
	case got.Retry != want.Retry:
		return fmt.Sprintf("Retry %d, want %d", got.Retry, want.Retry)
	case got.Data != want.Data:
		return fmt.Sprintf("Data %q, want %q", got.Data, want.Data)
	case !got.Time.Equal(want.Time):
		return fmt.Sprintf("Time %v, want %v", got.Time, want.Time)
	}
	return ""
}

func lookup(t *testing.T, tr transport.Transport, id string) (uint64, bool) {
	t.Helper()
	seq, ok, err := tr.Lookup(context.Background(), id)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", id, err)
	}
	return seq, ok
}

func (s *suite) testAppendOrder(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fd := drain(tr)
	if got := tr.LastSeq(); got != 0 {
		t.Fatalf("LastSeq of an empty transport = %d, want 0", got)
	}
	const n = 50
	var sent []*transport.Event
	for i := 1; i <= n; i++ {
		ev := sample(i)
		mustAppend(t, tr, ev)
		if ev.Seq != uint64(i) {
			t.Fatalf("append %d: Seq = %d, want %d", i, ev.Seq, i)
		}
		sent = append(sent, ev)
	}
	if got := tr.LastSeq(); got != n {
		t.Fatalf("LastSeq = %d, want %d", got, n)
	}
	fed := fd.wait(t, n)
	for i, ev := range fed {
		if s.f.RemoteFeed {
			if d := sameEvent(ev, sent[i]); d != "" {
				t.Fatalf("feed event %d: %s", i, d)
			}
			continue
		}
		if ev != sent[i] {
			t.Fatalf("feed event %d is not the appended pointer (Seq %d, want %d)", i, ev.Seq, sent[i].Seq)
		}
		if string(ev.Frame) != "frame "+ev.ID {
			t.Fatalf("feed event %d: Frame %q was not passed through", i, ev.Frame)
		}
	}
	replayed := replayAll(t, tr, 0, n)
	if len(replayed) != n {
		t.Fatalf("Replay(0, %d) returned %d events", n, len(replayed))
	}
	for i, ev := range replayed {
		if d := sameEvent(ev, sent[i]); d != "" {
			t.Fatalf("replayed event %d: %s", i+1, d)
		}
		if ev.Frame != nil {
			t.Fatalf("replayed event %d has a Frame; events read back from storage must not", i+1)
		}
	}
	// Nothing is delivered twice.
	mustAppend(t, tr, sample(n+1))
	if got := fd.wait(t, n+1)[n].Seq; got != n+1 {
		t.Fatalf("next fed Seq = %d, want %d", got, n+1)
	}
	if c := fd.count(); c != n+1 {
		t.Fatalf("feed delivered %d events for %d appends", c, n+1)
	}
}

func (s *suite) testAppendSetsTime(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	drain(tr)
	before := time.Now()
	ev := &transport.Event{ID: "no-time", Data: "x"}
	mustAppend(t, tr, ev)
	after := time.Now()
	if ev.Time.Before(before.Add(-time.Second)) || ev.Time.After(after.Add(time.Second)) {
		t.Fatalf("Append set Time %v, want between %v and %v", ev.Time, before, after)
	}
	got := replayAll(t, tr, 0, 1)
	if len(got) != 1 || !got[0].Time.Equal(ev.Time) {
		t.Fatalf("replayed Time differs from the one Append set (%v)", ev.Time)
	}
}

func (s *suite) testAppendDoneContext(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fd := drain(tr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Append(ctx, sample(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context = %v, want context.Canceled", err)
	}
	if got := tr.LastSeq(); got != 0 {
		t.Fatalf("LastSeq = %d after a cancelled Append, want 0", got)
	}
	ev := sample(2)
	mustAppend(t, tr, ev)
	if ev.Seq != 1 {
		t.Fatalf("Seq after a cancelled Append = %d, want 1", ev.Seq)
	}
	if got := fd.wait(t, 1)[0]; got.ID != ev.ID {
		t.Fatalf("feed delivered %q first, want %q", got.ID, ev.ID)
	}
	if _, ok := lookup(t, tr, sample(1).ID); ok {
		t.Fatal("the cancelled event is in the index")
	}
}

func (s *suite) testLookup(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	drain(tr)
	const n = 1000
	for i := 1; i <= n; i++ {
		mustAppend(t, tr, sample(i))
	}
	long := &transport.Event{ID: "urn:long:" + string(make([]byte, 1000))}
	mustAppend(t, tr, long)
	for _, i := range []int{1, 2, n / 2, n - 1, n} {
		seq, ok := lookup(t, tr, sample(i).ID)
		if !ok || seq != uint64(i) {
			t.Errorf("Lookup(%q) = %d, %v; want %d, true", sample(i).ID, seq, ok, i)
		}
	}
	if seq, ok := lookup(t, tr, long.ID); !ok || seq != n+1 {
		t.Errorf("Lookup(1000-byte id) = %d, %v; want %d, true", seq, ok, n+1)
	}
	// Unknown ids, including prefixes and extensions of known ones.
	for _, id := range []string{"", "unknown", "urn:test:", "urn:test:1000x", "urn:test:10000", "urn:test:1\x00"} {
		if seq, ok := lookup(t, tr, id); ok {
			t.Errorf("Lookup(%q) = %d, true; want unknown", id, seq)
		}
	}
}

func (s *suite) testDuplicateIDs(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	drain(tr)
	ids := []string{"a", "b", "a", "c", "b", "a"}
	for _, id := range ids {
		mustAppend(t, tr, &transport.Event{ID: id, Data: id})
	}
	for id, want := range map[string]uint64{"a": 1, "b": 2, "c": 4} {
		if seq, ok := lookup(t, tr, id); !ok || seq != want {
			t.Errorf("Lookup(%q) = %d, %v; want %d (the earliest occurrence)", id, seq, ok, want)
		}
	}
	// Every later update is replayed, including later ones with the same id.
	seqA, _ := lookup(t, tr, "a")
	var got []string
	for _, ev := range replayAll(t, tr, seqA, tr.LastSeq()) {
		got = append(got, ev.ID)
	}
	if want := []string{"b", "a", "c", "b", "a"}; !slices.Equal(got, want) {
		t.Errorf("replay after the cursor %q = %q, want %q", "a", got, want)
	}
}

func (s *suite) testReplayBounds(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	drain(tr)
	const n = 10
	for i := 1; i <= n; i++ {
		mustAppend(t, tr, sample(i))
	}
	cases := []struct {
		after, until uint64
		want         []uint64
	}{
		{0, n, span(1, n)},
		{0, 0, nil},
		{3, 7, span(4, 7)},
		{7, 7, nil},
		{8, 3, nil},
		{5, 1000, span(6, n)},
		{0, math.MaxUint64, span(1, n)},
		{n, n + 5, nil},
		{n - 1, n, []uint64{n}},
		{math.MaxUint64, math.MaxUint64, nil},
	}
	for _, c := range cases {
		if got := seqs(replayAll(t, tr, c.after, c.until)); !slices.Equal(got, c.want) {
			t.Errorf("Replay(%d, %d) = %v, want %v", c.after, c.until, got, c.want)
		}
	}
}

// appendConcurrently appends n events from workers goroutines and returns
// them indexed by Seq-1.
func appendConcurrently(t *testing.T, tr transport.Transport, n, workers int, mk func(i int) *transport.Event) []*transport.Event {
	t.Helper()
	out := make([]*transport.Event, n)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				ev := mk(i)
				if err := tr.Append(context.Background(), ev); err != nil {
					errs <- fmt.Errorf("append %d: %w", i, err)
					return
				}
				if ev.Seq < 1 || ev.Seq > uint64(n) {
					errs <- fmt.Errorf("append %d: Seq %d out of 1..%d", i, ev.Seq, n)
					return
				}
				mu.Lock()
				dup := out[ev.Seq-1]
				out[ev.Seq-1] = ev
				mu.Unlock()
				if dup != nil {
					errs <- fmt.Errorf("seq %d assigned twice (%q and %q)", ev.Seq, dup.ID, ev.ID)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

func (s *suite) testReplayLarge(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fd := drain(tr)
	const n = 100_000
	sent := appendConcurrently(t, tr, n, 64, func(i int) *transport.Event {
		return &transport.Event{ID: fmt.Sprint("e", i), Topics: []string{"t"}, Data: "payload"}
	})
	fd.wait(t, n)
	next := uint64(1)
	err := tr.Replay(context.Background(), 0, tr.LastSeq(), func(ev *transport.Event) error {
		if ev.Seq != next {
			return fmt.Errorf("replayed Seq %d, want %d", ev.Seq, next)
		}
		if ev.ID != sent[next-1].ID {
			return fmt.Errorf("seq %d has id %q, want %q", ev.Seq, ev.ID, sent[next-1].ID)
		}
		next++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != n+1 {
		t.Fatalf("Replay delivered %d events, want %d", next-1, n)
	}
	// A range in the middle, crossing page boundaries of any sensible size.
	if got := seqs(replayAll(t, tr, 40_000, 41_000)); !slices.Equal(got, span(40_001, 41_000)) {
		t.Fatalf("Replay(40000, 41000) returned %d events from %v", len(got), got[:min(len(got), 1)])
	}
}

func (s *suite) testReplayFnError(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	drain(tr)
	for i := 1; i <= 600; i++ {
		mustAppend(t, tr, sample(i))
	}
	stop := errors.New("client gone")
	calls := 0
	err := tr.Replay(context.Background(), 0, 600, func(ev *transport.Event) error {
		calls++
		if calls == 300 {
			return fmt.Errorf("write: %w", stop)
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Replay = %v, want the callback's error", err)
	}
	if calls != 300 {
		t.Fatalf("callback called %d times, want 300 (none after its error)", calls)
	}
}

func (s *suite) testReplayCancel(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	drain(tr)
	for i := 1; i <= 600; i++ {
		mustAppend(t, tr, sample(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := tr.Replay(ctx, 0, 600, func(ev *transport.Event) error {
		calls++
		if calls == 300 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Replay = %v, want context.Canceled", err)
	}
	if calls != 300 {
		t.Fatalf("callback called %d times, want 300 (none after the cancel)", calls)
	}
	calls = 0
	err = tr.Replay(ctx, 0, 600, func(*transport.Event) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("Replay with a done context = %v after %d calls, want context.Canceled and none", err, calls)
	}
}

// testReplayReentrant: a slow client's callback may take its time and the
// hub may publish meanwhile; a transport holding a lock or a storage
// transaction across fn deadlocks here.
func (s *suite) testReplayReentrant(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	drain(tr)
	for i := 1; i <= 600; i++ {
		mustAppend(t, tr, sample(i))
	}
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- tr.Replay(context.Background(), 0, 600, func(ev *transport.Event) error {
			n++
			if n%100 != 0 {
				return nil
			}
			// Large events so that storage has to grow while the replay runs.
			big := &transport.Event{ID: fmt.Sprint("during-", n), Data: string(make([]byte, 256<<10))}
			if err := tr.Append(context.Background(), big); err != nil {
				return err
			}
			if _, ok, err := tr.Lookup(context.Background(), big.ID); err != nil || !ok {
				return fmt.Errorf("lookup inside replay: %v, %v", ok, err)
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Replay whose callback appends did not finish: deadlock?")
	}
	if got := tr.LastSeq(); got != 606 {
		t.Fatalf("LastSeq = %d, want 606", got)
	}
}

func (s *suite) testConcurrentAppends(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fd := drain(tr)
	const workers, per = 32, 100
	const n = workers * per
	// Each worker appends its events in order; Seq order must keep it.
	sent := appendConcurrently(t, tr, n, workers, func(i int) *transport.Event {
		return &transport.Event{ID: fmt.Sprintf("w%d-%d", i%workers, i/workers), Data: fmt.Sprint(i)}
	})
	for i, ev := range sent {
		if ev == nil {
			t.Fatalf("no Append got Seq %d: Seqs are not dense", i+1)
		}
	}
	if got := tr.LastSeq(); got != n {
		t.Fatalf("LastSeq = %d, want %d", got, n)
	}
	fed := fd.wait(t, n)
	lastOf := make(map[string]int)
	for i, ev := range fed {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("feed position %d has Seq %d: not in Seq order", i, ev.Seq)
		}
		if !s.f.RemoteFeed && ev != sent[i] {
			t.Fatalf("feed position %d is not the event appended with Seq %d", i, i+1)
		}
		var w, k int
		if _, err := fmt.Sscanf(ev.ID, "w%d-%d", &w, &k); err != nil {
			t.Fatalf("unexpected id %q", ev.ID)
		}
		key := fmt.Sprint(w)
		if prev, ok := lastOf[key]; ok && k != prev+1 {
			t.Fatalf("worker %d: event %d fed after event %d", w, k, prev)
		}
		lastOf[key] = k
	}
	if got := seqs(replayAll(t, tr, 0, n)); !slices.Equal(got, span(1, n)) {
		t.Fatalf("Replay returned %d events, want 1..%d", len(got), n)
	}
}

func (s *suite) testClose(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	fd := drain(tr)
	for i := 1; i <= 5; i++ {
		mustAppend(t, tr, sample(i))
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fed := fd.waitClosed(t)
	if got := seqs(fed); !slices.Equal(got, span(1, 5)) {
		t.Fatalf("feed delivered %v before closing, want 1..5", got)
	}
	if err := tr.Append(context.Background(), sample(6)); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}

// testCloseBlocked: nobody reads the feed, so Appends end up waiting for
// it; Close must still return and release every one of them.
func (s *suite) testCloseBlocked(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{})
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if err := tr.Append(context.Background(), &transport.Event{ID: fmt.Sprint(w, "-", i)}); err != nil {
					return
				}
			}
		}()
	}
	// Let the appenders get going (they may or may not be blocked yet:
	// Close must work either way).
	closeWhileBlocked(t, tr, &wg, 100, "Appends")
	// The feed is closed and holds at most what was appended.
	n := 0
	for range tr.Feed() {
		n++
	}
	if uint64(n) > tr.LastSeq() {
		t.Fatalf("feed held %d events for LastSeq %d", n, tr.LastSeq())
	}
}

func (s *suite) testRetentionSize(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{Size: 10})
	drain(tr)
	for i := 1; i <= 35; i++ {
		ev := sample(i)
		if i == 20 || i == 30 {
			ev.ID = "dup"
		}
		mustAppend(t, tr, ev)
	}
	if got := tr.LastSeq(); got != 35 {
		t.Fatalf("LastSeq = %d, want 35", got)
	}
	if got := seqs(replayAll(t, tr, 0, 35)); !slices.Equal(got, span(26, 35)) {
		t.Fatalf("kept %v, want 26..35", got)
	}
	// A cursor older than what is kept is unknown; replay from it starts at the oldest kept.
	for _, i := range []int{1, 15, 25} {
		if seq, ok := lookup(t, tr, sample(i).ID); ok {
			t.Errorf("trimmed id %q still resolves to %d", sample(i).ID, seq)
		}
	}
	for _, i := range []int{26, 29, 35} {
		if seq, ok := lookup(t, tr, sample(i).ID); !ok || seq != uint64(i) {
			t.Errorf("Lookup(%q) = %d, %v; want %d", sample(i).ID, seq, ok, i)
		}
	}
	// The earliest occurrence of "dup" (20) is gone; the kept one (30) is now the earliest.
	if seq, ok := lookup(t, tr, "dup"); !ok || seq != 30 {
		t.Errorf(`Lookup("dup") = %d, %v; want 30 (the earliest kept occurrence)`, seq, ok)
	}
	if got := seqs(replayAll(t, tr, 5, 28)); !slices.Equal(got, span(26, 28)) {
		t.Errorf("Replay(5, 28) = %v, want 26..28", got)
	}
}

func (s *suite) testReopen(t *testing.T) {
	if !s.f.Durable {
		t.Skip("not a durable transport")
	}
	dir := t.TempDir()
	tr := s.open(t, dir, Retention{})
	drain(tr)
	var sent []*transport.Event
	for i := 1; i <= 20; i++ {
		ev := sample(i)
		if i%7 == 0 {
			ev.ID = "dup"
		}
		mustAppend(t, tr, ev)
		sent = append(sent, ev)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	tr = s.open(t, dir, Retention{})
	fd := drain(tr)
	if got := tr.LastSeq(); got != 20 {
		t.Fatalf("LastSeq after reopen = %d, want 20", got)
	}
	got := replayAll(t, tr, 0, 20)
	if len(got) != 20 {
		t.Fatalf("replay after reopen returned %d events, want 20", len(got))
	}
	for i, ev := range got {
		if d := sameEvent(ev, sent[i]); d != "" {
			t.Fatalf("event %d after reopen: %s", i+1, d)
		}
	}
	if seq, ok := lookup(t, tr, sample(13).ID); !ok || seq != 13 {
		t.Errorf("Lookup after reopen = %d, %v; want 13", seq, ok)
	}
	if seq, ok := lookup(t, tr, "dup"); !ok || seq != 7 {
		t.Errorf(`Lookup("dup") after reopen = %d, %v; want 7`, seq, ok)
	}
	ev := sample(21)
	mustAppend(t, tr, ev)
	if ev.Seq != 21 {
		t.Fatalf("first Seq after reopen = %d, want 21", ev.Seq)
	}
	// The new feed carries only new events.
	if f := fd.wait(t, 1); f[0].Seq != 21 {
		t.Fatalf("feed after reopen starts at Seq %d, want 21", f[0].Seq)
	}
}

func (s *suite) testReopenAllExpired(t *testing.T) {
	if !s.f.Durable || !s.f.Age {
		t.Skip("needs a durable transport with age retention")
	}
	dir := t.TempDir()
	r := Retention{MaxAge: time.Hour}
	tr := s.open(t, dir, r)
	drain(tr)
	old := time.Now().Add(-2 * time.Hour)
	for i := 1; i <= 5; i++ {
		mustAppend(t, tr, &transport.Event{ID: fmt.Sprint("old-", i), Time: old})
	}
	waitFor(t, "expired events to go", func() bool {
		return len(replayAll(t, tr, 0, 5)) == 0
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr = s.open(t, dir, r)
	drain(tr)
	if got := tr.LastSeq(); got != 5 {
		t.Fatalf("LastSeq after reopening an emptied history = %d, want 5", got)
	}
	ev := &transport.Event{ID: "new"}
	mustAppend(t, tr, ev)
	if ev.Seq != 6 {
		t.Fatalf("Seq after reopening an emptied history = %d, want 6 (no reuse)", ev.Seq)
	}
}

func (s *suite) testReopenSmaller(t *testing.T) {
	if !s.f.Durable {
		t.Skip("not a durable transport")
	}
	dir := t.TempDir()
	tr := s.open(t, dir, Retention{})
	drain(tr)
	for i := 1; i <= 50; i++ {
		mustAppend(t, tr, sample(i))
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr = s.open(t, dir, Retention{Size: 10})
	drain(tr)
	// Retention catches up without waiting for an append.
	waitFor(t, "the history to shrink to 10", func() bool {
		return slices.Equal(seqs(replayAll(t, tr, 0, 50)), span(41, 50))
	})
	if _, ok := lookup(t, tr, sample(40).ID); ok {
		t.Error("trimmed id still resolves")
	}
	ev := sample(51)
	mustAppend(t, tr, ev)
	if ev.Seq != 51 {
		t.Fatalf("Seq = %d, want 51", ev.Seq)
	}
}

func (s *suite) testRetentionAge(t *testing.T) {
	if !s.f.Age {
		t.Skip("no age retention")
	}
	tr := s.open(t, t.TempDir(), Retention{MaxAge: time.Hour})
	drain(tr)
	now := time.Now()
	for i := 1; i <= 10; i++ {
		ev := &transport.Event{ID: fmt.Sprint("e", i), Time: now.Add(-2 * time.Hour)}
		if i > 5 {
			ev.Time = now
		}
		mustAppend(t, tr, ev)
	}
	waitFor(t, "events older than MaxAge to go", func() bool {
		return slices.Equal(seqs(replayAll(t, tr, 0, 10)), span(6, 10))
	})
	if _, ok := lookup(t, tr, "e3"); ok {
		t.Error("expired id still resolves")
	}
	if seq, ok := lookup(t, tr, "e6"); !ok || seq != 6 {
		t.Errorf("Lookup(e6) = %d, %v; want 6", seq, ok)
	}
}

// testRetentionAgeIdle: events expire while nobody appends.
func (s *suite) testRetentionAgeIdle(t *testing.T) {
	if !s.f.Age {
		t.Skip("no age retention")
	}
	const maxAge = 200 * time.Millisecond
	tr := s.open(t, t.TempDir(), Retention{MaxAge: maxAge})
	drain(tr)
	ev := &transport.Event{ID: "short-lived"}
	mustAppend(t, tr, ev)
	if _, ok := lookup(t, tr, ev.ID); !ok && time.Since(ev.Time) < maxAge/2 {
		t.Fatal("a fresh event is already gone")
	}
	waitFor(t, "an idle event to expire", func() bool {
		_, ok := lookup(t, tr, ev.ID)
		return !ok
	})
	if got := replayAll(t, tr, 0, 1); len(got) != 0 {
		t.Fatalf("an expired event is still replayed")
	}
}

// waitFor polls cond until it holds, failing after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// closeWhileBlocked waits until the transport has stored at least progress
// events (appenders may or may not be blocked on the feed by then: Close
// must work either way), closes it, and checks that Close returns and
// that every appender in wg is released. what names the appenders in
// failure messages.
func closeWhileBlocked(t *testing.T, tr transport.Transport, wg *sync.WaitGroup, progress uint64, what string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for tr.LastSeq() < progress {
		if time.Now().After(deadline) {
			t.Fatalf("%s made no progress: LastSeq %d", what, tr.LastSeq())
		}
		time.Sleep(time.Millisecond) // polling, not synchronisation
	}
	closed := make(chan error, 1)
	go func() { closed <- tr.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Close did not return while %s were blocked on the feed", what)
	}
	released := make(chan struct{})
	go func() { wg.Wait(); close(released) }()
	select {
	case <-released:
	case <-time.After(waitLimit):
		t.Fatalf("%s still blocked after Close", what)
	}
}
