// Package memory is a transport that keeps a bounded history in the
// process's memory. It is the default for a single hub that can afford to
// forget its history on restart, and the reference the conformance suite is
// easiest to read against.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// DefaultSize is the number of events kept when Options.Size is zero.
const DefaultSize = 10_000

// replayScan is how many events a replay examines per lock acquisition,
// kept or filtered out: enough to amortise the lock, few enough that a
// replay never holds it for long while publishers wait. What one page keeps
// is bounded in bytes (transport.ReplayPageBytes).
const replayScan = 1024

// feedBuffer lets publishers run ahead of the dispatcher by this many events
// before Append starts to wait for it.
const feedBuffer = 1024

// Options configures a memory transport.
type Options struct {
	// Size is the number of most recent events kept; older ones are dropped.
	// Zero or a negative value means DefaultSize.
	Size int
}

// Transport is an in-memory, bounded, ordered event log with an id index.
type Transport struct {
	size int

	// sendSlot serialises Appends from the moment they take a Seq until the
	// event is on the feed, so that the feed is in Seq order. It is a
	// channel rather than a mutex so that waiting for it can be abandoned
	// when the context ends or the transport closes.
	sendSlot chan struct{}
	feed     chan *transport.Event
	closing  chan struct{}

	closeOnce sync.Once

	mu     sync.Mutex
	closed bool
	// ring holds the kept events, oldest at ring[head]; its Seqs are dense,
	// from first to last.
	ring  []*transport.Event
	head  int
	count int
	first uint64 // Seq of the oldest kept event (meaningful when count > 0)
	last  uint64 // Seq of the last appended event, 0 when none
	// index maps an id to the Seqs of its kept occurrences, oldest first,
	// so that Lookup stays exact when the oldest occurrence is trimmed and
	// a later one is still kept.
	index map[string][]uint64
}

var (
	_ transport.Transport        = (*Transport)(nil)
	_ transport.Checker          = (*Transport)(nil)
	_ transport.BatchAppender    = (*Transport)(nil)
	_ transport.FilteredReplayer = (*Transport)(nil)
)

// New returns an empty memory transport.
func New(opts Options) *Transport {
	size := opts.Size
	if size <= 0 {
		size = DefaultSize
	}
	return &Transport{
		size:     size,
		sendSlot: make(chan struct{}, 1),
		feed:     make(chan *transport.Event, feedBuffer),
		closing:  make(chan struct{}),
		// The ring grows on demand up to size so that a generous Size
		// does not cost memory up front.
		ring:  make([]*transport.Event, 0, min(size, 1024)),
		index: make(map[string][]uint64),
	}
}

// Append stores a copy of ev (without its Frame), assigns ev.Seq and sends
// ev itself on the feed. It sets ev.Time to the current time when it is zero.
// It waits while the feed is full.
func (t *Transport) Append(ctx context.Context, ev *transport.Event) error {
	if ev == nil {
		return fmt.Errorf("memory: append: nil event")
	}
	return t.appendEvents(ctx, "append", []*transport.Event{ev})
}

// AppendBatch is Append for several events at once: they take consecutive
// Seqs under one acquisition of the lock, so no concurrent Append can come
// between them, and they are fed in order before any other event.
func (t *Transport) AppendBatch(ctx context.Context, evs []*transport.Event) error {
	if len(evs) == 0 {
		return nil
	}
	for i, ev := range evs {
		if ev == nil {
			return fmt.Errorf("memory: append batch: event %d is nil", i)
		}
	}
	return t.appendEvents(ctx, "append batch", evs)
}

// appendEvents stores and feeds evs, none of which is nil; op names the
// caller in errors.
func (t *Transport) appendEvents(ctx context.Context, op string, evs []*transport.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	select {
	case t.sendSlot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("memory: %s: %w", op, ctx.Err())
	case <-t.closing:
		return transport.ErrClosed
	}
	defer func() { <-t.sendSlot }()

	now := time.Now()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return transport.ErrClosed
	}
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		t.last++
		ev.Seq = t.last
		stored := *ev
		stored.Frame = nil // the contract: events read back have no Frame
		t.push(&stored)
	}
	t.mu.Unlock()

	// Once stored, the events must reach the feed: giving up on ctx here
	// would leave a hole in the feed's sequence. Only Close may interrupt.
	for _, ev := range evs {
		select {
		case t.feed <- ev:
		case <-t.closing:
			return transport.ErrClosed
		}
	}
	return nil
}

// push adds ev at the end of the ring, dropping the oldest event when full.
// The caller holds t.mu.
func (t *Transport) push(ev *transport.Event) {
	if t.count == t.size {
		old := t.ring[t.head]
		t.ring[t.head] = nil
		t.head = (t.head + 1) % len(t.ring)
		t.count--
		t.first++
		t.unindex(old)
	}
	if t.count == 0 {
		t.first = ev.Seq
	}
	if len(t.ring) < t.size && t.head == 0 {
		// Still growing: the ring is a plain slice in Seq order.
		t.ring = append(t.ring, ev)
	} else {
		t.ring[(t.head+t.count)%len(t.ring)] = ev
	}
	t.count++
	t.index[ev.ID] = append(t.index[ev.ID], ev.Seq)
}

// unindex removes the oldest occurrence of old.ID, which is old itself
// because events leave the log in Seq order. The caller holds t.mu.
func (t *Transport) unindex(old *transport.Event) {
	seqs := t.index[old.ID]
	if len(seqs) <= 1 {
		delete(t.index, old.ID)
		return
	}
	t.index[old.ID] = seqs[1:]
}

// at returns the kept event with the given Seq; first <= seq <= last and
// the caller holds t.mu.
func (t *Transport) at(seq uint64) *transport.Event {
	return t.ring[(t.head+int(seq-t.first))%len(t.ring)]
}

// Feed returns the channel on which every appended event arrives in Seq
// order. It is closed by Close.
func (t *Transport) Feed() <-chan *transport.Event { return t.feed }

// Lookup returns the Seq of the earliest kept occurrence of id.
func (t *Transport) Lookup(ctx context.Context, id string) (uint64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, fmt.Errorf("memory: lookup: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, false, transport.ErrClosed
	}
	seqs, ok := t.index[id]
	if !ok {
		return 0, false, nil
	}
	return seqs[0], true, nil
}

// Replay calls fn for every kept event with after < Seq <= until, copying
// them out in pages under the lock and calling fn without holding it. Events
// trimmed while the replay runs are skipped.
func (t *Transport) Replay(ctx context.Context, after, until uint64, fn func(*transport.Event) error) error {
	return t.ReplayFiltered(ctx, after, until, transport.ReplayOptions{}, fn)
}

// ReplayFiltered is Replay with opts.Filter applied under the lock, so that
// a page holds only events the caller receives, pages bounded in bytes
// (transport.ReplayPageBytes) and each page covered by opts.Budget. The
// events are shared with the ring, but a page may keep alive events that
// retention dropped meanwhile, which is what the budget accounts for.
func (t *Transport) ReplayFiltered(ctx context.Context, after, until uint64, opts transport.ReplayOptions, fn func(*transport.Event) error) error {
	read := func(next uint64, limit int64) (page []*transport.Event, resume uint64, need int64, done bool, err error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.closed {
			return nil, 0, 0, false, transport.ErrClosed
		}
		if t.count == 0 || next > t.last {
			return nil, 0, 0, true, nil
		}
		next = max(next, t.first)
		end := min(until, t.last)
		var bytes int64
		resume = next
		for seq, scanned := next, 0; seq <= end; seq++ {
			if scanned == replayScan {
				return page, resume, 0, false, nil
			}
			scanned++
			ev := t.at(seq)
			if opts.Filter != nil && !opts.Filter(ev.Topics, ev.Private) {
				resume = seq + 1
				continue
			}
			size := transport.EventSize(ev)
			if bytes+size > limit {
				if len(page) == 0 {
					need = size
				}
				return page, resume, need, false, nil
			}
			page = append(page, ev)
			bytes += size
			resume = seq + 1
		}
		return page, resume, 0, true, nil
	}
	return transport.ReplayPages(ctx, "memory: replay", after, until, opts.Budget, read, fn)
}

// LastSeq returns the Seq of the last appended event.
func (t *Transport) LastSeq() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// Check reports whether the transport is open.
func (t *Transport) Check(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return transport.ErrClosed
	}
	return nil
}

// Close stops the transport: pending and later Appends fail with ErrClosed
// and the feed is closed once no Append is sending on it. The history is
// dropped. Close is idempotent.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		close(t.closing)
		// Wait for the Append that may be sending (it gives up on
		// closing), so that closing the feed cannot race with a send.
		t.sendSlot <- struct{}{}
		close(t.feed)
		t.mu.Lock()
		t.ring, t.index = nil, nil
		t.count = 0
		t.mu.Unlock()
	})
	return nil
}
