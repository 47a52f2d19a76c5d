package hub

import (
	"io"
	"sync"

	"github.com/google/uuid"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// subscriber is one open stream: its matchers, its grant and a queue of
// frames waiting to be written. The dispatcher only appends to the queue
// (never blocks, never writes to the network); the stream's writer drains it.
// Keeping the two apart lets a future writer pool serve hijacked HTTP/1.1
// connections without a goroutine per subscriber (design.md).
type subscriber struct {
	matchers []*topic.Matcher
	// pooled[i] is the shared entry of matchers[i] when it is a costly one
	// (matcherbudget.go), nil otherwise; it may be shorter than matchers.
	pooled []*poolEntry
	grant  *auth.Grant // nil: anonymous
	// id names the connection in subscription events and the API: random,
	// one per connection, never taken from the client (EVT-3).
	id string
	// annotate: frames get the routing comments of hermes.js (annotate.go).
	annotate bool

	// minSeq and lastGen are owned by the dispatcher (read and written under
	// registry.mu): events with Seq <= minSeq were or will be sent by the
	// replay; lastGen (registry.gen) deduplicates an event matched through
	// several matchers or topics.
	minSeq  uint64
	lastGen uint64
	// registered and group are the registry's (under registry.mu): group
	// is the entry of grant in the registry's grant index.
	registered bool
	group      *grantGroup

	mu       sync.Mutex
	queue    [][]byte
	spare    [][]byte // the previously drained queue, reused to avoid allocations
	queued   int      // bytes in queue
	maxBytes int
	gone     bool // overflowed or closed: enqueue drops everything

	ready chan struct{} // has a value when the queue went from empty to non-empty
	kick  chan struct{} // closed when the subscriber must end (overflow)
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
		maxBytes: maxBytes,
		ready:    make(chan struct{}, 1),
		kick:     make(chan struct{}),
	}
}

// wants reports whether ev is for this subscriber: one of its matchers
// routes one of the event's topics and, for a private event, its grant
// covers one of the event's topics (a separate check on purpose: the routing
// matcher never widens access, AZ-3, LEG-4).
func (s *subscriber) wants(ev *transport.Event) bool {
	if ev.Private && !s.grant.CanSubscribe(ev.Topics) {
		return false
	}
	for _, m := range s.matchers {
		if m.MatchAny(ev.Topics) {
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
		s.mu.Unlock()
		close(s.kick)
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
	s.mu.Unlock()
	if wasEmpty {
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
	return true
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

// kicked reports whether the subscriber overflowed.
func (s *subscriber) kicked() bool {
	select {
	case <-s.kick:
		return true
	default:
		return false
	}
}

// end marks the subscriber gone so later enqueues are dropped.
func (s *subscriber) end() {
	s.mu.Lock()
	s.gone = true
	s.queue, s.spare, s.queued = nil, nil, 0
	s.mu.Unlock()
}
