package hub

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// subscriber is one open stream: its matchers, its grant and a queue of
// frames waiting to be written. The dispatcher only appends to the queue
// (never blocks, never writes to the network); the stream's writer drains it:
// the handler goroutine (HTTP/2, stream.live) or the writer pool once an
// HTTP/1.1 connection was taken over (h1conn.go), with the same
// writeQueued step.
type subscriber struct {
	matchers []*topic.Matcher
	// pooled[i] is the shared entry of matchers[i] when it is a costly one
	// (matcherbudget.go), nil otherwise; it may be shorter than matchers.
	pooled []*poolEntry
	grant  *auth.Grant // nil: anonymous
	// id names the connection in subscription events and the API: random,
	// one per connection, never taken from the client (EVT-3).
	id string
	// since is when the stream opened: the subscription API lists the
	// oldest first.
	since time.Time

	// minSeq and lastGen are owned by the dispatcher (read and written under
	// registry.mu): events with Seq <= minSeq were or will be sent by the
	// replay; lastGen (registry.gen) deduplicates an event matched through
	// several matchers or topics.
	minSeq  uint64
	lastGen uint64
	// registered and group are the registry's (under registry.mu): group
	// is the entry of grant in the registry's grant index.
	registered bool
	// annotate: frames get the routing comments of hermes.js (annotate.go).
	// Next to registered, to share its word: a subscriber is kept per
	// idle connection (design.md, "Memory per idle subscriber").
	annotate bool
	group    *grantGroup

	mu       sync.Mutex
	queue    [][]byte
	spare    [][]byte // the previously drained queue, reused to avoid allocations
	queued   int      // bytes in queue
	maxBytes int

	// ready has a value when the queue went from empty to non-empty. It
	// is made by listen, for a stream served by its handler (stream.live):
	// a taken-over one, woken through notify, never pays for it.
	ready chan struct{}
	// notify, when set (setNotify), is called instead of signalling ready:
	// a connection served by the writer pool is woken through it
	// (h1conn.go). It is called without s.mu held.
	notify func()
	// overflowed is set when the subscriber must end (overflow); onKick
	// tells its stream.
	overflowed atomic.Bool
	gone       bool // overflowed or closed: enqueue drops everything (under mu)
	// onKick, when set (before the subscriber is registered), runs once in
	// a goroutine of its own when the queue overflows: the stream uses it
	// to break a write that is blocked on a client that does not read, so
	// that the stream ends now, as an overflow, and not at the write
	// deadline as a client error.
	onKick func()
}

func newSubscriber(matchers []*topic.Matcher, grant *auth.Grant, maxBytes int) *subscriber {
	return &subscriber{
		matchers: matchers,
		grant:    grant,
		id:       "urn:uuid:" + uuid.NewString(),
		since:    time.Now(),
		maxBytes: maxBytes,
	}
}

// wants reports whether ev is for this subscriber: one of its matchers
// routes one of the event's topics and, for a private event, its grant
// covers one of the event's topics (a separate check on purpose: the routing
// matcher never widens access, AZ-3, LEG-4).
func (s *subscriber) wants(ev *transport.Event) bool {
	return s.wantsRoute(ev.Topics, ev.Private)
}

// wantsRoute is wants on an event's topics and private flag alone: the
// filter a replay hands to the transport, evaluated before the event's
// data is decoded.
func (s *subscriber) wantsRoute(topics []string, private bool) bool {
	if private && !s.grant.CanSubscribe(topics) {
		return false
	}
	for _, m := range s.matchers {
		if m.MatchAny(topics) {
			return true
		}
	}
	return false
}

// enqueue adds a frame without blocking. When the queue passes its byte
// bound the subscriber is ended: it reconnects with its Last-Event-ID and
// history makes it whole, which is better than slowing every other
// subscriber or buffering without limit. It reports false on overflow.
func (s *subscriber) enqueue(b []byte) bool {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return true
	}
	if s.queued+len(b) > s.maxBytes {
		s.gone = true
		s.queue, s.queued = nil, 0
		s.overflowed.Store(true)
		s.mu.Unlock()
		if s.onKick != nil {
			// Not inline: enqueue runs under the registry lock, and
			// interrupting an HTTP/2 write goes through the connection's
			// serve loop.
			go s.onKick()
		}
		return false
	}
	wasEmpty := len(s.queue) == 0
	s.queue = append(s.queue, b)
	s.queued += len(b)
	notify, ready := s.notify, s.ready
	s.mu.Unlock()
	if wasEmpty {
		if notify != nil {
			notify()
		} else if ready != nil {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	}
	return true
}

// listen returns the channel that has a value when frames were queued,
// making it on the first call; it has one already when frames are queued
// now.
func (s *subscriber) listen() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == nil {
		s.ready = make(chan struct{}, 1)
		if len(s.queue) > 0 {
			s.ready <- struct{}{}
		}
	}
	return s.ready
}

// setNotify makes f the way s signals that its queue went from empty to
// non-empty, instead of the ready channel, and reports whether frames are
// queued already (the caller then wakes its writer itself: no signal will
// come for them).
func (s *subscriber) setNotify(f func()) (pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notify = f
	return len(s.queue) > 0
}

// writeQueued writes every queued frame to w and reports whether it wrote
// anything. The caller flushes once afterwards: one flush per batch, not per
// event.
func (s *subscriber) writeQueued(w io.Writer) (bool, error) {
	s.mu.Lock()
	batch := s.queue
	s.queue, s.spare = s.spare[:0], nil
	s.queued = 0
	s.mu.Unlock()
	if len(batch) == 0 {
		s.giveBack(batch)
		return false, nil
	}
	for i, b := range batch {
		if _, err := w.Write(b); err != nil {
			return true, err
		}
		batch[i] = nil // let the frame be collected once everyone wrote it
	}
	s.giveBack(batch)
	return true, nil
}

func (s *subscriber) giveBack(batch [][]byte) {
	s.mu.Lock()
	if s.spare == nil {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
}

// pending reports whether frames are queued.
func (s *subscriber) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0
}

// kicked reports whether the subscriber overflowed.
func (s *subscriber) kicked() bool {
	return s.overflowed.Load()
}

// end marks the subscriber gone so later enqueues are dropped.
func (s *subscriber) end() {
	s.mu.Lock()
	s.gone = true
	s.queue, s.spare, s.queued = nil, nil, 0
	s.mu.Unlock()
}
