package hub

import (
	"sync"
	"time"
)

// holdWheel ends the holds of the coalescing window (h1conn.framesQueued):
// it releases each held connection at the window's end, with one timer for
// the whole writer pool instead of one per connection.
//
// Why: under load nearly every write to a busy stream follows a hold, and a
// per-connection timer cost a timer update, a firing and a goroutine for
// each: with 5,000 subscribers at 30 updates/s that was 70,000 firings a
// second and several percent of the hub's core. Here a hold is an append to
// the slot of its moment (slots of holdTick), and a firing releases every
// connection whose moment has come, together.
//
// A hold ends up to holdTick after its moment (moments are rounded up to a
// slot). An entry whose connection was written or held anew meanwhile is
// stale; release skips it (h1conn.holdEnded compares the moment).
//
// Lock order: h1conn.mu, then holdWheel.mu (h1conn.run holds with its lock
// held); fire calls release with no lock held.
type holdWheel struct {
	epoch   time.Time
	release func(c *h1conn, at time.Time)

	mu      sync.Mutex
	slots   [holdSlots][]heldConn // slot tick%holdSlots holds the entries of tick
	pending int
	armed   int64 // the tick the timer is set for; -1: not set
	timer   *time.Timer
	due     []heldConn // fire's buffer, reused
}

type heldConn struct {
	c  *h1conn
	at time.Time
}

const (
	holdTick = time.Millisecond
	// holdSlots ticks cover the widest window with room: an entry is never
	// more than holdSlots-1 ticks ahead (add clamps it).
	holdSlots = 128
)

func newHoldWheel(release func(c *h1conn, at time.Time)) *holdWheel {
	w := &holdWheel{epoch: time.Now(), release: release, armed: -1}
	w.timer = time.AfterFunc(time.Duration(1<<63-1), w.fire)
	return w
}

// tick is the slot of t, rounded up: a hold never ends before its moment.
func (w *holdWheel) tick(t time.Time) int64 {
	return int64((t.Sub(w.epoch) + holdTick - 1) / holdTick)
}

// add holds c until at; now is the caller's clock reading.
func (w *holdWheel) add(c *h1conn, at, now time.Time) {
	// A moment past is due now; one beyond the ring is released early,
	// and c holds again.
	cur := int64(now.Sub(w.epoch) / holdTick)
	tick := min(max(w.tick(at), cur), cur+holdSlots-1)
	w.mu.Lock()
	s := &w.slots[tick%holdSlots]
	*s = append(*s, heldConn{c: c, at: at})
	w.pending++
	if w.armed < 0 || tick < w.armed {
		w.armed = tick
		w.timer.Reset(max(w.epoch.Add(time.Duration(tick)*holdTick).Sub(now), 0))
	}
	w.mu.Unlock()
}

// fire releases the entries whose moment has come and sets the timer for
// the next one.
func (w *holdWheel) fire() {
	w.mu.Lock()
	now := int64(time.Since(w.epoch) / holdTick)
	if w.armed < 0 || w.armed > now {
		// An earlier add moved the timer, and a firing for it ran first.
		w.mu.Unlock()
		return
	}
	due := w.due[:0]
	for t := w.armed; t <= now && t < w.armed+holdSlots; t++ {
		s := &w.slots[t%holdSlots]
		due = append(due, *s...)
		clear(*s)
		*s = (*s)[:0]
	}
	w.pending -= len(due)
	w.armed = -1
	if w.pending > 0 {
		for t := now + 1; t < now+holdSlots; t++ {
			if len(w.slots[t%holdSlots]) > 0 {
				w.armed = t
				w.timer.Reset(time.Until(w.epoch.Add(time.Duration(t) * holdTick)))
				break
			}
		}
	}
	// The buffer is this firing's while the lock is released; one that
	// runs meanwhile starts a buffer of its own.
	w.due = nil
	w.mu.Unlock()
	for _, h := range due {
		w.release(h.c, h.at)
	}
	clear(due)
	w.mu.Lock()
	if w.due == nil {
		w.due = due[:0]
	}
	w.mu.Unlock()
}
