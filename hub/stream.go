package hub

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/transport"
)

// stream is one subscriber's response from its admission to its end: the
// phases of subscribe (subscribe.go) run on it, and close tears it down.
type stream struct {
	h        *Hub
	s        *subscriber
	release  func(reason string) // the admission's, called once by close
	deadline time.Time           // when the stream ends itself
	// hardDeadline is the limit no write may pass: the token's exp or the
	// full write timeout.
	hardDeadline time.Time

	// ctx is the request's context, also ended by stop: the replay reads
	// history under it, and live returns when it is done.
	ctx    context.Context
	cancel context.CancelFunc

	// prev and next link the stream into Hub.open while linked
	// (openstreams.go), guarded by its lock.
	prev, next *stream

	stopMu     sync.Mutex
	stopReason string  // the first reason stop was given
	conn       *h1conn // set when the connection was taken over (h1conn.go)
	closed     bool
	// linked is next to closed (not next to prev and next, which it goes
	// with) so that the two share a word: a stream is kept per idle
	// subscriber.
	linked bool

	// The response, written by the handler goroutine.
	w  http.ResponseWriter
	rc *http.ResponseController
	// ioMu orders interrupt against the start and end of each write, so
	// that an overflow either stops a write from starting or breaks the
	// one in progress, never lets one block until its deadline.
	ioMu    sync.Mutex
	writing bool
}

// newStream creates the stream of an accepted request. release is the
// admission's: close calls it with the reason the stream ended.
func (h *Hub) newStream(w http.ResponseWriter, r *http.Request, sub *subscription, grant *auth.Grant, release func(string)) *stream {
	s := newSubscriber(sub.matchers, grant, h.cfg.QueueBytes)
	s.annotate = sub.annotate
	s.pooled = sub.pooled
	st := &stream{h: h, s: s, release: release, w: w, rc: http.NewResponseController(w)}
	st.ctx, st.cancel = context.WithCancel(r.Context())
	st.deadline, st.hardDeadline = h.deadline(grant)
	s.onKick = func() { st.stop(DisconnectOverflow) }
	return st
}

// takenOver returns the stream's taken-over connection, or nil while its
// handler serves it.
func (st *stream) takenOver() *h1conn {
	st.stopMu.Lock()
	defer st.stopMu.Unlock()
	return st.conn
}

// stop asks the stream to end for reason; the first reason given wins. An
// overflow also breaks a write in progress (interrupt). A taken-over
// connection is woken to end (h1conn.stop).
func (st *stream) stop(reason string) {
	st.stopMu.Lock()
	if st.stopReason == "" {
		st.stopReason = reason
	}
	c, cancel := st.conn, st.cancel
	st.stopMu.Unlock()
	cancel()
	if c != nil {
		c.stop(reason)
		return
	}
	if reason == DisconnectOverflow {
		st.interrupt()
	}
}

// stopped returns the reason stop was given, or "".
func (st *stream) stopped() string {
	st.stopMu.Lock()
	defer st.stopMu.Unlock()
	return st.stopReason
}

// close tears the stream down once it has ended for reason: out of the
// hub's open streams and unregistered first, then its end events (subscriptions.go), its matchers and its slot
// given back. It runs once.
func (st *stream) close(reason string) {
	st.stopMu.Lock()
	if st.closed {
		st.stopMu.Unlock()
		return
	}
	st.closed = true
	cancel := st.cancel
	st.stopMu.Unlock()
	cancel()
	h := st.h
	h.open.remove(st)
	h.reg.remove(st.s)
	st.s.end()
	h.subscriptionsClosed(st.s) // end events, after removal
	h.pool.release(st.s.pooled)
	st.release(reason)
}

// errOverflow ends a stream whose queue overflowed (subscriber.kicked).
var errOverflow = errors.New("subscriber queue overflow")

// guarded runs fn, which writes to the client, with a fresh write deadline
// (see setWriteDeadline). It does not start once the subscriber overflowed,
// and a write failure after an overflow is the overflow's doing (interrupt
// broke the write): both report errOverflow.
func (st *stream) guarded(fn func() error) error {
	st.ioMu.Lock()
	if st.s.kicked() {
		st.ioMu.Unlock()
		return errOverflow
	}
	st.writing = true
	st.setWriteDeadline()
	st.ioMu.Unlock()
	err := fn()
	st.ioMu.Lock()
	st.writing = false
	st.ioMu.Unlock()
	if err != nil && st.s.kicked() {
		return errOverflow
	}
	return err
}

// interrupt breaks a write in progress with a deadline in the past: a
// client that stopped reading blocks the write once the socket buffers are
// full, and the stream would otherwise only notice its overflow at the
// write deadline, counted as a client disconnect. A write that has not
// started yet checks the overflow itself (guarded).
func (st *stream) interrupt() {
	st.ioMu.Lock()
	defer st.ioMu.Unlock()
	if st.writing {
		_ = st.rc.SetWriteDeadline(time.Now())
	}
}

// warnOverflow logs an overflow disconnect, at most once a second.
func (st *stream) warnOverflow() {
	st.h.warnings.warn("subscriber too slow: its queue passed its bound; disconnected", "queue_bytes", st.h.cfg.QueueBytes)
}

// writeFailed is the reason a stream ends after a failed write: an
// overflow (the write was interrupted, or refused to start) or the client.
func (st *stream) writeFailed(err error) string {
	if errors.Is(err, errOverflow) {
		st.warnOverflow()
		return DisconnectOverflow
	}
	return DisconnectClient
}

// write sends b with a write deadline of DispatchTimeout, capped at the
// stream's deadline, so a stuck client costs one timeout, not a goroutine
// forever.
func (st *stream) write(b []byte) error {
	return st.guarded(func() error {
		_, err := st.w.Write(b)
		return err
	})
}

func (st *stream) setWriteDeadline() {
	// Not every ResponseWriter supports deadlines (httptest recorders); the
	// stream still works without them.
	_ = st.rc.SetWriteDeadline(st.writeDeadline(time.Now()))
}

// writeDeadline is the deadline of a write starting at now: DispatchTimeout
// later, but never past the stream's end (plus endGrace) nor its hard
// deadline.
func (st *stream) writeDeadline(now time.Time) time.Time {
	d := now.Add(st.h.cfg.DispatchTimeout)
	if !st.deadline.IsZero() {
		limit := st.deadline.Add(endGrace)
		if st.hardDeadline.Before(limit) {
			limit = st.hardDeadline
		}
		if limit.Before(d) {
			d = limit
		}
	}
	return d
}

func (st *stream) flush() error {
	return st.guarded(st.rc.Flush)
}

// replayRange writes the events in (after, until] that this subscriber may
// see, re-checked against its current token (REC-7), flushing per page.
func (st *stream) replayRange(after, until uint64) error {
	n := 0
	var clientErr error
	write := func(ev *transport.Event) error {
		if !st.s.wants(ev) {
			return nil
		}
		if err := st.write(st.s.annotated(ev, frame(ev))); err != nil {
			clientErr = err
			return err
		}
		if n++; n%64 == 0 {
			if err := st.flush(); err != nil {
				clientErr = err
				return err
			}
		}
		return nil
	}
	var err error
	if fr, ok := st.h.cfg.Transport.(transport.FilteredReplayer); ok {
		// The transport drops what this subscriber may not receive before
		// decoding it, and holds pages within the hub's replay memory.
		err = fr.ReplayFiltered(st.ctx, after, until, transport.ReplayOptions{
			Filter: st.s.wantsRoute,
			Budget: st.h.replayBudget,
		}, write)
	} else {
		err = st.h.cfg.Transport.Replay(st.ctx, after, until, write)
	}
	if n > 0 {
		st.h.metrics.Delivered(n)
	}
	if err != nil {
		if clientErr == nil && st.ctx.Err() == nil {
			return &replayError{err}
		}
		return err
	}
	return st.flush()
}

// live is phase 4 on the handler goroutine: it writes queued events as they
// come, a heartbeat after an idle period, and ends at the stream's
// deadline, on overflow, on client disconnect, when stopped or when the
// hub shuts down, and reports why it ended (a Disconnect* reason).
func (st *stream) live() string {
	var beat <-chan time.Time
	var beatTimer *time.Timer
	if st.h.cfg.Heartbeat > 0 {
		beatTimer = time.NewTimer(st.h.cfg.Heartbeat)
		defer beatTimer.Stop()
		beat = beatTimer.C
	}
	var end <-chan time.Time
	if !st.deadline.IsZero() {
		t := time.NewTimer(time.Until(st.deadline))
		defer t.Stop()
		end = t.C
	}
	// On shutdown each stream ends at its own random moment of the drain.
	draining := st.h.draining
	var drained <-chan time.Time
	// An overflow ends the stream through onKick (stop), as ctx.
	ready := st.s.listen()
	for {
		select {
		case <-ready:
			wrote := false
			err := st.guarded(func() error {
				var err error
				if wrote, err = st.s.writeQueued(st.w); err != nil || !wrote {
					return err
				}
				return st.rc.Flush()
			})
			if err != nil {
				return st.writeFailed(err)
			}
			if wrote && beatTimer != nil {
				beatTimer.Reset(st.h.cfg.Heartbeat)
			}
		case <-beat:
			if err := st.write(heartbeat); err != nil {
				return st.writeFailed(err)
			}
			if err := st.flush(); err != nil {
				return st.writeFailed(err)
			}
			beatTimer.Reset(st.h.cfg.Heartbeat)
		case <-end:
			st.endCleanly()
			return DisconnectDeadline
		case <-draining:
			draining = nil
			t := time.NewTimer(st.h.drainDelay())
			defer t.Stop()
			drained = t.C
		case <-drained:
			st.endCleanly()
			return DisconnectShutdown
		case <-st.ctx.Done():
			if reason := st.stopped(); reason != "" {
				if reason == DisconnectOverflow {
					st.warnOverflow()
				}
				return reason
			}
			return DisconnectClient
		}
	}
}

// isTimeout reports whether err is a write that passed its deadline.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// endCleanly gives the response's terminating bytes a write deadline of
// their own, so the client sees a clean end of stream and reconnects.
func (st *stream) endCleanly() {
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.h.cfg.DispatchTimeout))
}
