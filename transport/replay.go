package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrCorrupt is wrapped by errors of a transport whose storage is damaged:
// a record that does not decode, a file that fails its consistency check, a
// panic of the storage library turned into an error. Unlike ErrClosed or a
// full disk it does not go away by retrying; an operator has to repair or
// replace the storage.
var ErrCorrupt = errors.New("transport: storage is damaged")

// ReplayPageBytes is how many bytes of events a FilteredReplayer holds in
// one page: a page always holds at least one event, whatever its size, and
// adds events while the total stays within this.
const ReplayPageBytes = 256 << 10

// ReplayOptions refine a replay (FilteredReplayer).
type ReplayOptions struct {
	// Filter, when non-nil, decides from an event's topics and private flag
	// whether the replay delivers it. It is called before the rest of the
	// event (its data above all) is read or decoded, and events it refuses
	// are neither held nor passed to fn: a replay that matches nothing
	// costs what reading the topics costs. It may be called while the
	// transport holds a read transaction or a lock, so it must be quick,
	// must not block and must not use the transport. It must not keep
	// topics after it returns.
	Filter func(topics []string, private bool) bool
	// Budget, when non-nil, bounds the bytes of events held by every replay
	// that shares it: a page is acquired from it before it is read, and
	// released once fn has consumed it. A replay waits for budget rather
	// than allocating past it.
	Budget *Budget
}

// FilteredReplayer is implemented by transports that can filter a replay
// before decoding events and bound what a replay holds in bytes. It is
// optional: the hub uses it when the transport offers it and falls back to
// Replay (and filters each event itself) otherwise.
type FilteredReplayer interface {
	// ReplayFiltered behaves like Replay, with these differences: events
	// that opts.Filter refuses are skipped before their data is read; a
	// page holds at most ReplayPageBytes of events (or one event, when a
	// single event is larger); and each page is covered by opts.Budget
	// (when set) from before it is read until fn has consumed it.
	ReplayFiltered(ctx context.Context, after, until uint64, opts ReplayOptions, fn func(*Event) error) error
}

// EventSize is the number of bytes an event is accounted for in a replay
// budget: its variable-length fields and a fixed overhead.
func EventSize(ev *Event) int64 {
	n := int64(64 + len(ev.ID) + len(ev.Type) + len(ev.Data))
	for _, t := range ev.Topics {
		n += int64(16 + len(t))
	}
	return n
}

// Budget is a semaphore counted in bytes, shared by concurrent replays so
// that together they never hold more than its capacity. Waiters are served
// in arrival order, so a replay that needs a large page is not starved by a
// stream of small ones.
type Budget struct {
	mu      sync.Mutex
	cap     int64
	used    int64
	waiters []*budgetWaiter // FIFO
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes were granted
}

// NewBudget returns a budget of capacity bytes; capacity must be positive.
func NewBudget(capacity int64) *Budget {
	if capacity <= 0 {
		panic("transport: NewBudget: capacity must be positive")
	}
	return &Budget{cap: capacity}
}

// Capacity is the most bytes the budget grants at once.
func (b *Budget) Capacity() int64 { return b.cap }

// Acquire waits until n bytes are available and takes them, or until ctx
// is done (it then takes nothing and returns an error wrapping ctx.Err()).
// A request larger than the capacity is reduced to the capacity, so that it
// waits for every other holder instead of forever. It returns the number of
// bytes taken, which the caller passes to Release.
func (b *Budget) Acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 1), b.cap)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.cap {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted meanwhile: give it back.
			b.used -= n
		default:
			for i, o := range b.waiters {
				if o == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.grantLocked()
		b.mu.Unlock()
		return 0, fmt.Errorf("transport: waiting for replay memory: %w", ctx.Err())
	}
}

// Release gives back n bytes taken by Acquire.
func (b *Budget) Release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.mu.Unlock()
		panic("transport: Budget.Release of more than was acquired")
	}
	b.grantLocked()
	b.mu.Unlock()
}

// InUse is the number of bytes currently taken (for tests and metrics).
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Waiting is the number of Acquires waiting for bytes (for tests).
func (b *Budget) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

// grantLocked wakes the waiters at the head of the queue that now fit.
func (b *Budget) grantLocked() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.cap {
			return
		}
		b.used += w.n
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		close(w.ready)
	}
}

// PageReader reads one page of a replay for ReplayPages: the events from
// Seq next on (up to the replay's end), in Seq order, that pass the replay's
// filter, as long as their sizes add up to at most limit bytes. It returns
// the page, the Seq to resume from, and done when nothing is left in the
// range after the page. When the first event it would keep is larger than
// limit, it returns an empty page and that event's size in need, and is
// called again with limit >= need.
type PageReader func(next uint64, limit int64) (page []*Event, resume uint64, need int64, done bool, err error)

// ReplayPages is the page loop of a FilteredReplayer, shared by the
// transports: for each page, it takes the page's bytes from budget (when
// not nil) before read fills it, calls fn for its events outside of read,
// and gives the bytes back. op prefixes its errors ("bolt: replay").
func ReplayPages(ctx context.Context, op string, after, until uint64, budget *Budget, read PageReader, fn func(*Event) error) error {
	acquire := func(n int64) (int64, error) {
		if budget == nil {
			return 0, nil
		}
		return budget.Acquire(ctx, n)
	}
	release := func(n int64) {
		if budget != nil {
			budget.Release(n)
		}
	}
	next := after + 1
	for next <= until && next != 0 { // next == 0: after was MaxUint64
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		limit := int64(ReplayPageBytes)
		held, err := acquire(limit)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		page, resume, need, done, err := read(next, limit)
		for err == nil && need > 0 {
			// One event larger than a page: wait for its size (at most the
			// whole budget) before reading it.
			release(held)
			if held, err = acquire(need); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			limit = need
			page, resume, need, done, err = read(next, limit)
		}
		if err != nil {
			release(held)
			return fmt.Errorf("%s: %w", op, err)
		}
		for _, ev := range page {
			if err := ctx.Err(); err != nil {
				release(held)
				return fmt.Errorf("%s: %w", op, err)
			}
			if err := fn(ev); err != nil {
				release(held)
				return err
			}
		}
		clear(page)
		release(held)
		if done {
			return nil
		}
		next = resume
	}
	return nil
}
