package hub

import "sync"

// openStreams is the set of streams between the start of their phases
// (stream.run) and their teardown (stream.close). The hub walks it to end
// them all at the end of a shutdown's drain and on a loss of history, and
// to start the drain of the taken-over ones: one set for the whole hub
// instead of a context registration per stream and per reason, which an
// idle subscriber would pay for in memory (design.md, "Memory per idle
// subscriber").
//
// The set is an intrusive list (stream.prev and stream.next), so a stream
// costs two pointers in it. Its lock is a leaf: nothing else is taken
// while it is held, and walkers copy the set out before acting on it.
type openStreams struct {
	mu   sync.Mutex
	head *stream
}

// add links st. A stream is added at most once.
func (o *openStreams) add(st *stream) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st.next = o.head
	if o.head != nil {
		o.head.prev = st
	}
	o.head = st
	st.linked = true
}

// remove unlinks st; it is a no-op for a stream that is not in the set.
func (o *openStreams) remove(st *stream) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !st.linked {
		return
	}
	if st.prev != nil {
		st.prev.next = st.next
	} else {
		o.head = st.next
	}
	if st.next != nil {
		st.next.prev = st.prev
	}
	st.prev, st.next, st.linked = nil, nil, false
}

// snapshot returns the streams in the set now. A stream added after it
// returned is not in it: whoever walks the set makes sure such a stream
// sees the reason for the walk itself (see Hub.stopStreams).
func (o *openStreams) snapshot() []*stream {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*stream
	for st := o.head; st != nil; st = st.next {
		out = append(out, st)
	}
	return out
}

// stopStreams ends every open stream with reason and returns how many it
// stopped. A stream added concurrently, after the snapshot, is not stopped
// by it: for a shutdown it checks h.ctx itself (cutStreams); a loss of
// history ends the streams open when it is reported, and a stream that
// starts after it is served as usual (watchLosses).
func (h *Hub) stopStreams(reason string) int {
	streams := h.open.snapshot()
	for _, st := range streams {
		st.stop(reason)
	}
	return len(streams)
}

// cutStreams ends every stream still open at the end of a shutdown's drain
// (or at Close). A stream that starts its phases after this is stopped by
// run, which checks h.ctx after adding itself to the set.
func (h *Hub) cutStreams() {
	h.cancel()
	h.stopStreams(DisconnectShutdown)
}

// takenOverConns returns the taken-over connections of the open streams
// (the writer pool keeps no set of its own).
func (h *Hub) takenOverConns() []*h1conn {
	var out []*h1conn
	for _, st := range h.open.snapshot() {
		if c := st.takenOver(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// drainTakenOver starts the drain of every taken-over connection; the
// streams still served by their handler drain in live. A connection taken
// over after this walk checks h.stopping itself (stream.takeOver).
func (h *Hub) drainTakenOver() {
	for _, c := range h.takenOverConns() {
		c.drain()
	}
}
