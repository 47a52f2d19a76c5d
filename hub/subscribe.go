package hub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// earliest is the cursor that means "all history" and the answer for a
// cursor that names nothing we keep (REC-8, REC-11).
const earliest = "earliest"

// subscription is a parsed subscribe request.
type subscription struct {
	matchers []*topic.Matcher
	// pooled[i] is the shared entry of matchers[i], or nil: the caller
	// releases them (matcherPool.release) when the request ends.
	pooled []*poolEntry
	// cursor is the requested Last-Event-ID; hasCursor is true when any
	// cursor source was present, even empty (REC-10).
	cursor    string
	hasCursor bool
	// annotate asks for the routing comments of hermes.js (annotate.go).
	annotate bool
}

// cursorParams are the query (and QUERY body) names of the cursor, in
// precedence order after the Last-Event-ID header: draft-08, then the 0.14+
// legacy name, then event-source-polyfill's default spelling, then the
// pre-0.14 name.
var cursorParams = [...]string{"last_event_id", "lastEventID", "lastEventId", "Last-Event-ID"}

// parseSubscription reads matchers and the cursor from the query and, for
// QUERY, the body: one subscription per matcher parameter, the union of
// both sources, the query first (SUB-3).
func (h *Hub) parseSubscription(r *http.Request, body []pair) (*subscription, error) {
	query, ok := parseForm(r.URL.RawQuery, h.cfg.MaxLegacyTopics+h.cfg.MaxMatchers+64)
	if !ok {
		return nil, badRequest("too many query parameters")
	}
	sub := &subscription{annotate: wantsAnnotations(query) || wantsAnnotations(body)}
	var cursors [len(cursorParams)]*string
	var legacy, modern int
	type param struct {
		typ, value string
		cost       int
	}
	var params []param
	total := 0
	for _, p := range append(query, body...) {
		typ, isMatcher, err := matcherType(p.name)
		if err != nil {
			return nil, err
		}
		if !isMatcher {
			for i, name := range cursorParams {
				if p.name == name && cursors[i] == nil {
					v := p.value
					cursors[i] = &v
				}
			}
			continue
		}
		if typ == topic.TypeLegacy {
			if legacy++; legacy > h.cfg.MaxLegacyTopics {
				return nil, badRequest("more than %d topic parameters", h.cfg.MaxLegacyTopics)
			}
		} else if modern++; modern > h.cfg.MaxMatchers {
			return nil, badRequest("more than %d match parameters", h.cfg.MaxMatchers)
		}
		if len(p.value) > h.cfg.MaxPatternBytes {
			return nil, badRequest("a matcher exceeds %d bytes", h.cfg.MaxPatternBytes)
		}
		if !utf8.ValidString(p.value) {
			return nil, badRequest("a matcher is not valid UTF-8")
		}
		// The whole subscription's cost is known before anything is
		// compiled (matcherbudget.go).
		c := topic.Estimate(typ, p.value, h.cfg.TopicOptions)
		if total += c; h.cfg.MaxSubscriptionCost >= 0 && total > h.cfg.MaxSubscriptionCost {
			h.metrics.Rejected(RejectSubscriptionCost)
			return nil, badRequest("the topic matchers of this subscription are too complex (over %d cost units in all)", h.cfg.MaxSubscriptionCost)
		}
		params = append(params, param{typ, p.value, c})
	}
	if len(params) == 0 {
		return nil, badRequest(`missing "topic" or "match" parameter`)
	}
	for _, p := range params {
		var m *topic.Matcher
		var e *poolEntry
		var err error
		if p.cost == 0 {
			// Compared by equality: nothing to share or to budget.
			m, err = topic.Compile(p.typ, p.value, h.cfg.TopicOptions)
		} else if e, err = h.pool.acquire(p.typ, p.value, p.cost, h.cfg.TopicOptions); err == nil {
			m = e.m
		}
		if err != nil {
			h.pool.release(sub.pooled)
			if errors.Is(err, errMatcherBudget) {
				h.metrics.Rejected(RejectMatcherBudget)
				return nil, err
			}
			// The compiler's message is not echoed (SUB-8).
			return nil, badRequest("invalid topic matcher pattern")
		}
		sub.matchers = append(sub.matchers, m)
		sub.pooled = append(sub.pooled, e)
	}

	// The header wins over every parameter (REC-5); an empty value falls
	// through to the next source but still counts as a cursor (REC-10).
	if vs, ok := r.Header["Last-Event-Id"]; ok {
		sub.hasCursor = true
		if len(vs) > 0 {
			sub.cursor = vs[0]
		}
	}
	for _, c := range cursors {
		if c == nil {
			continue
		}
		sub.hasCursor = true
		if sub.cursor == "" {
			sub.cursor = *c
		}
	}
	return sub, nil
}

// matcherType maps a parameter name to a matcher type. Names starting with
// "match" in any case are reserved (SUB-7): an unsupported one is an error,
// not silently ignored.
func matcherType(name string) (typ string, ok bool, err error) {
	switch name {
	case "topic":
		return topic.TypeLegacy, true, nil
	case "match", "match_exact":
		return topic.TypeExact, true, nil
	case "match_urlpattern":
		return topic.TypeURLPattern, true, nil
	}
	if len(name) >= 5 && strings.EqualFold(name[:5], "match") {
		return "", false, badRequest("unsupported matcher parameter")
	}
	return "", false, nil
}

// subscribe handles GET, HEAD and QUERY: authorize, register, replay the
// history the cursor asks for, then stream live events.
func (h *Hub) subscribe(w http.ResponseWriter, r *http.Request) {
	// The token (header, cookie or query: never the body) is checked first
	// and the stream's slot taken next, both before a QUERY body is read: a
	// client without a token, or past the limits, costs neither the time
	// nor the memory of its body.
	grant, ok := h.authenticate(w, r, auth.Subscriber, h.cfg.Anonymous)
	if !ok {
		return
	}
	var adm *admission
	if r.Method != http.MethodHead {
		var ok bool
		if adm, ok = h.admit(w, r); !ok {
			return
		}
		defer adm.cancel()
	}
	var body []pair
	if r.Method == methodQuery {
		var err error
		if body, err = h.readForm(w, r, false); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	// From here on the request is a stream (or a HEAD answer): its body,
	// if any, no longer has to arrive.
	keepBody(r)
	sub, err := h.parseSubscription(r, body)
	if err != nil {
		if errors.Is(err, errMatcherBudget) {
			w.Header().Set("Retry-After", retryAfter())
		}
		h.writeError(w, r, err)
		return
	}
	defer h.pool.release(sub.pooled)
	if err := h.checkAnnounceable(sub.matchers); err != nil {
		h.writeError(w, r, err)
		return
	}

	// Resolve the cursor before registering: a lookup is an index read.
	var after uint64
	var state stateFrom // the kept subscription events to resume with (subscriptionlog.go)
	replay := false
	answer := ""
	if sub.hasCursor {
		answer = earliest
		switch sub.cursor {
		case "", earliest:
			replay = sub.cursor == earliest
			state.ok = replay
		default:
			if pos, from, ok := h.reg.lookupState(sub.cursor); ok {
				after, state, replay, answer = pos, from, true, sub.cursor
				break
			}
			seq, ok, err := h.cfg.Transport.Lookup(r.Context(), sub.cursor)
			if err != nil {
				h.writeError(w, r, &storageError{OpLookup, "history is unavailable", fmt.Errorf("cursor lookup: %w", err)})
				return
			}
			if ok {
				after, replay, answer = seq, true, sub.cursor
				state = stateFrom{ok: true, fromPos: seq}
			}
		}
		// A replay served, or a cursor that names nothing we keep.
		if unknown := !replay && sub.cursor != ""; (replay || unknown) && r.Method != http.MethodHead {
			h.metrics.Replay(unknown)
		}
	}

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0")
	hd.Set("Pragma", "no-cache")
	hd.Set("Expires", "0")
	// nginx buffers responses unless told otherwise; a buffered stream is no
	// stream at all.
	hd.Set("X-Accel-Buffering", "no")
	if sub.hasCursor {
		hd.Set("Last-Event-ID", answer)
		hd.Set("Mercure-Last-Event-ID", answer)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	release := adm.start(len(sub.matchers))
	reason := DisconnectClient
	defer func() { release(reason) }()
	s := newSubscriber(sub.matchers, grant, h.cfg.QueueBytes)
	s.annotate = sub.annotate
	s.pooled = sub.pooled
	st := &stream{h: h, w: w, rc: http.NewResponseController(w), s: s}
	s.onKick = st.interrupt
	st.deadline, st.hardDeadline = h.deadline(grant)
	defer func() {
		h.reg.remove(s)
		s.end()
		h.subscriptionsClosed(s) // end events, after removal (subscriptions.go)
	}()

	// Without history to replay, register before the headers go out: a
	// client may publish as soon as it sees them, and that update must reach
	// it. With a replay, registration happens at the end of the replay, and
	// anything published meanwhile is read from history or queued.
	// Events stored before this point but not dispatched yet were published
	// before the request: they are history, not live events, so minSeq
	// starts at the transport's last Seq, not at the last dispatched one.
	//
	// Subscription creation events: legacy ones before registration, modern
	// ones after (subscriptions.go).
	h.subscriptionsOpening(s)
	if !replay {
		h.reg.add(s, h.cfg.Transport.LastSeq())
	}
	h.subscriptionsOpened(s)
	w.WriteHeader(http.StatusOK)
	if err := st.write(heartbeat); err != nil {
		reason = st.writeFailed(err)
		return
	}
	if s.annotate && !replay {
		if id, ok := h.liveCursor(r.Context(), s); ok {
			if err := st.write([]byte(":cursor " + id + "\n")); err != nil {
				reason = st.writeFailed(err)
				return
			}
		}
	}
	if err := st.flush(); err != nil {
		reason = st.writeFailed(err)
		return
	}
	// The stream ends with the request or when the hub cuts the streams
	// left at the end of a shutdown, replay included.
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	defer context.AfterFunc(h.ctx, stop)()
	if replay {
		if err := st.replay(ctx, after, state); err != nil {
			var te *replayError
			switch {
			case errors.Is(err, errOverflow):
				reason = DisconnectOverflow
				st.warnOverflow()
			case errors.As(err, &te):
				reason = DisconnectError
				h.metrics.TransportError(OpReplay)
				h.warnings.warn("subscribe: reading history failed", "error", te.err)
			case h.ctx.Err() != nil:
				reason = DisconnectShutdown
			case !errors.Is(err, context.Canceled):
				h.log.Debug("subscribe: replay ended", "error", err)
			}
			return
		}
	}
	reason = st.live(ctx)
}

// replayError is a failure of the transport during a replay, as opposed
// to one of writing to the client.
type replayError struct{ err error }

func (e *replayError) Error() string { return "reading history: " + e.err.Error() }
func (e *replayError) Unwrap() error { return e.err }

// deadline is when a stream must end: the write timeout and the token's
// expiry, each randomized to 80-100 % of the time left so that clients do not
// all reconnect at once (AZ-5, LEG-9). hard is the unrandomized limit that
// no write may pass (the token's exp, the full write timeout). Zero means
// never.
func (h *Hub) deadline(grant *auth.Grant) (end, hard time.Time) {
	now := time.Now()
	jitter := func(left time.Duration) time.Time {
		return now.Add(left - time.Duration(rand.Float64()*0.2*float64(left)))
	}
	earliest := func(a, b time.Time) time.Time {
		if a.IsZero() || (!b.IsZero() && b.Before(a)) {
			return b
		}
		return a
	}
	if h.cfg.WriteTimeout > 0 {
		end, hard = jitter(h.cfg.WriteTimeout), now.Add(h.cfg.WriteTimeout)
	}
	if grant != nil && !grant.Expires.IsZero() {
		left := max(grant.Expires.Sub(now), 0)
		end, hard = earliest(end, jitter(left)), earliest(hard, grant.Expires)
	}
	// The stream ends itself a little before the write deadline cuts it:
	// an HTTP/2 stream whose write deadline passes is reset, and the
	// client would see an error instead of a clean end.
	if !end.IsZero() && hard.Sub(end) < endMargin {
		end = hard.Add(-endMargin)
		if end.Before(now) {
			end = now
		}
	}
	return end, hard
}

// endMargin is the least time between a stream's end and its hard deadline.
const endMargin = 100 * time.Millisecond

// endGrace is how long a write may run past the stream's end (never past
// the hard deadline): the stream's own timer, not a write deadline, should
// end it.
const endGrace = time.Second

// stream writes one subscriber's response.
type stream struct {
	h        *Hub
	w        http.ResponseWriter
	rc       *http.ResponseController
	s        *subscriber
	deadline time.Time // when the stream ends itself
	// hardDeadline is the limit no write may pass: the token's exp or the
	// full write timeout.
	hardDeadline time.Time

	// ioMu orders interrupt against the start and end of each write, so
	// that an overflow either stops a write from starting or breaks the
	// one in progress, never lets one block until its deadline.
	ioMu    sync.Mutex
	writing bool
}

// errOverflow ends a stream whose queue overflowed (subscriber.kick).
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
	d := time.Now().Add(st.h.cfg.DispatchTimeout)
	if !st.deadline.IsZero() {
		limit := st.deadline.Add(endGrace)
		if st.hardDeadline.Before(limit) {
			limit = st.hardDeadline
		}
		if limit.Before(d) {
			d = limit
		}
	}
	// Not every ResponseWriter supports deadlines (httptest recorders); the
	// stream still works without them.
	_ = st.rc.SetWriteDeadline(d)
}

func (st *stream) flush() error {
	return st.guarded(st.rc.Flush)
}

// maxCatchUpGap is how far behind the last stored event a replay may be when
// the subscriber registers: what remains is replayed while live events queue,
// so the queue only has to hold what arrives during a short tail.
const maxCatchUpGap = 256

// replay sends the stored events after the cursor, then registers the
// subscriber for live delivery with no gap and no duplicate (design.md,
// REC-15). Replay runs at the client's pace and has no length cap: while
// far behind, it reads history without being registered (nothing queues);
// once close to the end it registers, noting the last dispatched Seq under
// the registry lock, and replays the short tail up to it while live events
// queue.
func (st *stream) replay(ctx context.Context, after uint64, state stateFrom) error {
	tr := st.h.cfg.Transport
	for {
		last := tr.LastSeq()
		if last <= after+maxCatchUpGap {
			break
		}
		if err := st.replayRange(ctx, after, last); err != nil {
			return err
		}
		after = last
	}
	attach, kept := st.h.reg.attach(st.s, after, state)
	if attach > after {
		if err := st.replayRange(ctx, after, attach); err != nil {
			return err
		}
	}
	if err := st.replayState(kept); err != nil {
		return err
	}
	return st.flush()
}

// replayRange writes the events in (after, until] that this subscriber may
// see, re-checked against its current token (REC-7), flushing per page.
func (st *stream) replayRange(ctx context.Context, after, until uint64) error {
	n := 0
	var clientErr error
	err := st.h.cfg.Transport.Replay(ctx, after, until, func(ev *transport.Event) error {
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
	})
	if n > 0 {
		st.h.metrics.Delivered(n)
	}
	if err != nil {
		if clientErr == nil && ctx.Err() == nil {
			return &replayError{err}
		}
		return err
	}
	return st.flush()
}

// live writes queued events as they come, a heartbeat after an idle period,
// and ends at the stream's deadline, on overflow, on client disconnect or
// when the hub shuts down, and reports why it ended (a Disconnect* reason).
func (st *stream) live(ctx context.Context) string {
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
	for {
		select {
		case <-st.s.ready:
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
		case <-st.s.kick:
			st.warnOverflow()
			return DisconnectOverflow
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
		case <-ctx.Done():
			if st.h.ctx.Err() != nil {
				return DisconnectShutdown
			}
			return DisconnectClient
		}
	}
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

// endCleanly gives the response's terminating bytes a write deadline of
// their own, so the client sees a clean end of stream and reconnects.
func (st *stream) endCleanly() {
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.h.cfg.DispatchTimeout))
}
