package bolt

import "sync"

// requestQueue is where Append and AppendBatch leave their requests for the
// writer goroutine.
//
// Why not a channel: with an unbuffered one, each publisher waited twice,
// once until the writer received its request (one receive per request,
// each making the sender runnable again) and once for its answer. Here a
// publisher waits only for its answer, and the writer takes every request
// that fits in a group under one lock. 64 publishers on one core spent a
// sixth of the hub's CPU in the scheduler, parking and waking them.
type requestQueue struct {
	mu     sync.Mutex
	reqs   []*request
	closed bool
	// bell holds a token when a request may have arrived since the writer
	// last looked. A token may be stale: the writer looks and finds none.
	bell chan struct{}
}

func newRequestQueue() *requestQueue {
	return &requestQueue{bell: make(chan struct{}, 1)}
}

// push queues r; it reports false once the queue is closed.
func (q *requestQueue) push(r *request) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.reqs = append(q.reqs, r)
	q.mu.Unlock()
	select {
	case q.bell <- struct{}{}:
	default: // a token is there already
	}
	return true
}

// groupState is what a group holds so far: its events and encoded bytes.
type groupState struct {
	events, bytes int
}

// take moves queued requests to batch, oldest first, while they fit in a
// group of at most limit events and maxBytes bytes, counted from g. A
// request is never split; the first request of an empty group is taken
// whatever its size, so that a batch beyond the limits is committed alone
// rather than refused. It reports whether it left a request that did not
// fit, which starts the next group.
func (q *requestQueue) take(batch []*request, g groupState, limit, maxBytes int) ([]*request, groupState, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for ; i < len(q.reqs); i++ {
		r := q.reqs[i]
		if len(batch) > 0 && (g.events+len(r.evs) > limit || g.bytes+r.size > maxBytes) {
			break
		}
		batch = append(batch, r)
		g.events += len(r.evs)
		g.bytes += r.size
	}
	left := copy(q.reqs, q.reqs[i:])
	clear(q.reqs[left:]) // the writer holds them now
	q.reqs = q.reqs[:left]
	return batch, g, left > 0
}

// close refuses further requests and returns those still queued, which
// the caller must answer.
func (q *requestQueue) close() []*request {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	left := q.reqs
	q.reqs = nil
	return left
}
