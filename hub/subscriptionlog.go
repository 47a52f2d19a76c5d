package hub

import (
	"github.com/hermes-hub/hermes/transport"
)

// Subscription events are state, not history (issue 10 finding 3).
//
// They used to be appended to the transport like updates: with a durable
// transport every stream that opened and closed stored (and fsynced) one
// event per selector, kept as long as updates, and with a size-bounded
// history, connection churn pushed real updates out. A listener needs the
// latest changes, and the subscription API serves the current state, so:
//
//   - subscription events are dispatched live, straight from the stream
//     that opens or closes, and never reach the transport's history; with
//     several nodes they reach the others on the transport's state
//     channel, and each node keeps them like its own
//     (subscriptionstate.go);
//   - the hub keeps the latest of them in memory (stateLog, bounded in
//     events and bytes), so that a listener resuming from a cursor (the
//     API's, API-7, or an event's id) gets the changes it missed while
//     they are still kept. A cursor older than what is kept resolves like
//     any unknown cursor ("earliest", no replay); the listener then reads
//     the API again. They do not survive a restart: neither do the streams
//     they describe;
//   - one stream may only describe so much: the selectors of a
//     subscription announced in events are bounded in bytes
//     (MaxAnnouncedBytes, 400 past it).
//
// Order: each kept event notes the Seq of the last update dispatched
// before it (pos). A cursor naming an update selects the subscription
// events emitted after that update; one naming a subscription event, those
// after it. A resuming listener is sent, in this order, the updates from
// history, the selected subscription events, then its live queue.

// stateEntry is one kept subscription event.
type stateEntry struct {
	ev  *transport.Event
	n   uint64 // position among subscription events, from 1
	pos uint64 // registry.lastSeq when it was emitted
}

// stateLog is the bounded list of the latest subscription events, guarded
// by registry.mu.
type stateLog struct {
	maxEvents, maxBytes int
	entries             []stateEntry // oldest first
	bytes               int
	n                   uint64 // n of the newest entry ever kept
}

// stateFrom selects the kept subscription events a subscriber resumes
// with: none unless ok, else those with n > afterN emitted at or after
// update fromPos.
type stateFrom struct {
	ok      bool
	afterN  uint64
	fromPos uint64
}

// entrySize is what an entry counts against maxBytes: its frame and its
// topic, which it holds, plus the bookkeeping.
func entrySize(ev *transport.Event) int {
	n := len(ev.Frame) + len(ev.ID) + 64
	for _, t := range ev.Topics {
		n += len(t)
	}
	return n
}

// push keeps ev, dropping the oldest events past the bounds. What it keeps
// is a copy of ev without its data: a kept event is only ever written as
// its frame, which holds the data already, and with an event kept per open
// subscription the data twice would cost each subscriber its document
// again (design.md, "Memory per idle subscriber").
func (l *stateLog) push(ev *transport.Event, pos uint64) {
	if ev.Frame == nil {
		ev.Frame = encodeEvent(ev)
	}
	kept := *ev
	kept.Data = ""
	ev = &kept
	l.n++
	l.entries = append(l.entries, stateEntry{ev: ev, n: l.n, pos: pos})
	l.bytes += entrySize(ev)
	drop := 0
	for len(l.entries)-drop > l.maxEvents || (l.bytes > l.maxBytes && len(l.entries)-drop > 1) {
		l.bytes -= entrySize(l.entries[drop].ev)
		l.entries[drop] = stateEntry{}
		drop++
	}
	if drop > 0 {
		l.entries = l.entries[drop:]
	}
	// Dropping from the front leaves the backing array's head unused;
	// copy once it is mostly waste, so memory stays bounded.
	if cap(l.entries) > 2*max(l.maxEvents, 16) {
		l.entries = append([]stateEntry(nil), l.entries...)
	}
}

// lookup finds a kept event by id: its n and pos.
func (l *stateLog) lookup(id string) (n, pos uint64, ok bool) {
	// Newest first: a listener usually resumes from a recent event.
	for i := len(l.entries) - 1; i >= 0; i-- {
		if e := l.entries[i]; e.ev.ID == id {
			return e.n, e.pos, true
		}
	}
	return 0, 0, false
}

// since returns the kept events from selects, oldest first.
func (l *stateLog) since(from stateFrom) []*transport.Event {
	if !from.ok {
		return nil
	}
	var out []*transport.Event
	for _, e := range l.entries {
		if e.n > from.afterN && e.pos >= from.fromPos {
			out = append(out, e.ev)
		}
	}
	return out
}

// emitState dispatches subscription events to the registered subscribers
// and keeps them. It returns the number of deliveries.
func (r *registry) emitState(evs []*transport.Event) (delivered, keptBytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		r.lastID = ev.ID
		r.state.push(ev, r.lastSeq)
		delivered += r.fanOut(ev, frame(ev))
	}
	return delivered, r.state.bytes
}

// lookupState resolves a cursor naming a kept subscription event: the
// update history to replay starts after pos, the subscription events
// after this one.
func (r *registry) lookupState(id string) (after uint64, from stateFrom, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, pos, ok := r.state.lookup(id)
	if !ok {
		return 0, stateFrom{}, false
	}
	return pos, stateFrom{ok: true, afterN: n}, true
}

// replayState writes the kept subscription events this subscriber may see
// (subscriptionlog.go), after its history and before its live queue.
func (st *stream) replayState(evs []*transport.Event) error {
	n := 0
	for _, ev := range evs {
		if !st.s.wants(ev) {
			continue
		}
		if err := st.write(frame(ev)); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		st.h.metrics.Delivered(n)
	}
	return nil
}
