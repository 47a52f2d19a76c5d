package hub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
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

// subscribe handles GET, HEAD and QUERY. Once the request is accepted
// (token, admission, body, matchers), a stream goes through four phases,
// each a function below, always in this order:
//
//	resolve the cursor  resolveCursor: which stored events the client missed
//	open the stream     streamHeaders, then stream.open: the headers and the
//	                    first bytes (HEAD ends after the headers)
//	attach              stream.attach: the one registration site, with the
//	                    hand-off from history to the live queue (see
//	                    "The hand-off" below)
//	live                stream.live on the handler goroutine, or, for
//	                    HTTP/1.x, the writer pool once the connection was
//	                    taken over (h1conn.go): queued events, heartbeats,
//	                    the end
//
// The only order that depends on the request: a stream with nothing to
// replay attaches before it opens, one with history to replay after (rule
// 5 of the hand-off).
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

	if err := h.checkAnnounceable(sub.matchers); err != nil {
		h.pool.release(sub.pooled)
		h.writeError(w, r, err)
		return
	}

	cur, err := h.resolveCursor(r, sub)
	if err != nil {
		h.pool.release(sub.pooled)
		h.writeError(w, r, err)
		return
	}
	if cur.replay && h.historyDamaged(r.Context()) {
		h.pool.release(sub.pooled)
		http.Error(w, "history is unavailable", http.StatusServiceUnavailable)
		return
	}
	h.streamHeaders(w.Header(), sub, cur)
	if r.Method == http.MethodHead {
		h.pool.release(sub.pooled)
		w.WriteHeader(http.StatusOK)
		return
	}
	// The stream owns the pooled matchers and the slot from here on: its
	// close gives them back.
	st := h.newStream(w, r, sub, grant, adm.start(len(sub.matchers)))
	st.run(cur, canTakeOver(w, r), r.ProtoAtLeast(1, 1))
}

// cursor is where a stream starts in history: the outcome of the first
// phase.
type cursor struct {
	// replay: the events after Seq after are sent from history before the
	// live ones.
	replay bool
	after  uint64
	// answer is the Last-Event-ID header's value ("" when the client sent
	// no cursor: no header).
	answer string
	// state selects the kept subscription events to send after the
	// replay (subscriptionlog.go).
	state stateFrom
}

// resolveCursor is phase 1: it maps the client's cursor to a position in
// history, before anything is registered or sent (a lookup is an index
// read, and a failure can still be answered with a status).
func (h *Hub) resolveCursor(r *http.Request, sub *subscription) (cursor, error) {
	var cur cursor
	if !sub.hasCursor {
		return cur, nil
	}
	cur.answer = earliest
	switch sub.cursor {
	case "", earliest:
		cur.replay = sub.cursor == earliest
		cur.state.ok = cur.replay
	default:
		if pos, from, ok := h.reg.lookupState(sub.cursor); ok {
			// The cursor names a kept subscription event.
			cur.after, cur.state, cur.replay, cur.answer = pos, from, true, sub.cursor
			break
		}
		seq, ok, err := h.cfg.Transport.Lookup(r.Context(), sub.cursor)
		if err != nil {
			return cur, &storageError{OpLookup, "history is unavailable", fmt.Errorf("cursor lookup: %w", err)}
		}
		if ok {
			cur.after, cur.replay, cur.answer = seq, true, sub.cursor
			cur.state = stateFrom{ok: true, fromPos: seq}
		}
	}
	// A replay served, or a cursor that names nothing we keep.
	if unknown := !cur.replay && sub.cursor != ""; (cur.replay || unknown) && r.Method != http.MethodHead {
		h.metrics.Replay(unknown)
	}
	return cur, nil
}

// streamHeaders sets the headers of an event stream (phase 2, for GET,
// QUERY and HEAD alike).
func (h *Hub) streamHeaders(hd http.Header, sub *subscription, cur cursor) {
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0")
	hd.Set("Pragma", "no-cache")
	hd.Set("Expires", "0")
	// nginx buffers responses unless told otherwise; a buffered stream is no
	// stream at all.
	hd.Set("X-Accel-Buffering", "no")
	if sub.hasCursor {
		hd.Set("Last-Event-ID", cur.answer)
		hd.Set("Mercure-Last-Event-ID", cur.answer)
	}
}

// run takes an accepted stream through its phases and ends it, or hands
// it to the writer pool for its live phase (takeOver).
func (st *stream) run(cur cursor, takeOver, chunked bool) {
	h, s := st.h, st.s
	reason := DisconnectClient
	handedOver := false
	defer func() {
		if !handedOver {
			st.close(reason)
		}
	}()
	// From here on the stream is one of the hub's open streams
	// (openstreams.go), replay included: a loss of history ends it
	// (loss.go), and so does the cut at the end of a shutdown, which it
	// checks itself in case the cut's walk came just before it was added.
	h.open.add(st)
	if h.ctx.Err() != nil {
		st.stop(DisconnectShutdown)
	}

	// Subscription creation events: legacy ones before registration (and
	// before the hand-off reads the transport's last Seq), modern ones after
	// (subscriptions.go, rule 6 of the hand-off).
	h.subscriptionsOpening(s)
	if !cur.replay {
		// Nothing to replay: attached before the headers go out (rule 5).
		_ = st.attach(h.cfg.Transport.LastSeq(), false, stateFrom{})
	}
	h.subscriptionsOpened(s)
	if takeOver {
		// The hub writes the chunk framing once it has the connection
		// (h1conn.go); the client must not reuse a connection the stream's
		// end closes.
		hd := st.w.Header()
		if chunked {
			hd.Set("Transfer-Encoding", "chunked")
		}
		hd.Set("Connection", "close")
	}
	if err := st.open(!cur.replay); err != nil {
		reason = st.writeFailed(err)
		return
	}
	if cur.replay {
		if err := st.attach(cur.after, true, cur.state); err != nil {
			reason = st.attachFailed(err)
			return
		}
		if err := st.flush(); err != nil {
			reason = st.writeFailed(err)
			return
		}
	}
	if takeOver && st.takeOver(chunked) {
		handedOver = true // live on the writer pool; it closes the stream
		return
	}
	reason = st.live()
}

// open is phase 2 on the wire: the status line and headers, a first
// heartbeat so that proxies and clients see the response at once, and for
// an annotating client attached without a replay the cursor of the live
// part (annotate.go).
func (st *stream) open(attached bool) error {
	st.w.WriteHeader(http.StatusOK)
	if err := st.write(heartbeat); err != nil {
		return err
	}
	if st.s.annotate && attached {
		if id, ok := st.h.liveCursor(st.ctx, st.s); ok {
			if err := st.write([]byte(":cursor " + id + "\n")); err != nil {
				return err
			}
		}
	}
	return st.flush()
}

// The hand-off
//
// A stream delivers every event after its cursor exactly once, in order,
// with no gap between history and live delivery (REC-15, design.md),
// while history is read at the client's pace and the live queue stays
// bounded. These rules make it so; attach applies them, and nothing else
// registers a subscriber.
//
//  1. Dispatch order is Seq order. The dispatcher hands events to the
//     registry one at a time, in Seq order, under registry.mu, and notes
//     the last one as registry.lastSeq.
//  2. Registration notes the hand-off point. registry.add(s, from), under
//     the same lock, sets s.minSeq = max(from, registry.lastSeq) and
//     returns registry.lastSeq, the attach point. From then on the
//     dispatcher queues for s every event it wants with Seq > minSeq, and
//     none with Seq <= minSeq.
//  3. History covers the rest. Before anything from its queue, the stream
//     writes the stored events in (from, attach] itself. With rule 2: the
//     events after from come once each, from history up to
//     max(from, attach) and from the queue after it.
//  4. Far behind, the replay runs unregistered. While the transport's last
//     Seq is more than maxCatchUpGap past the replay's position, the
//     stream reads history without being registered (nothing queues for
//     it), so the queue only ever holds what arrives during a short tail.
//  5. A stream without history to replay (no cursor, an empty or unknown
//     one) has nothing to write before its live part: it registers with
//     from = the transport's last Seq, read just before, and replays
//     nothing, so it starts after max(from, attach). Events stored before
//     the request but not dispatched yet are history, not live events. It
//     attaches before its headers go out, so an update published by a
//     client that saw the headers reaches it. A stream with a replay sends
//     its headers first and attaches at the end of its replay.
//  6. Subscription events (subscriptions.go, subscriptionlog.go) are not
//     history: they are dispatched live under registry.mu, each with a
//     generation of its own (registry.gen), and the latest are kept in
//     memory. Legacy creation events are emitted before registration, so
//     a subscriber never receives its own (LEG-18); draft-08 ones after,
//     so it does (EVT-1). A replaying stream is also sent, after its
//     history and before its queue, the kept ones its cursor selects:
//     registry.attach picks them under the same lock as the registration,
//     so each later one reaches the queue instead.
//
// The queue may fill while the tail is replayed; an overflow ends the
// stream like any other, and the client resumes from its Last-Event-ID.

// attach is phase 3: it registers the subscriber for live delivery after
// Seq from and, when replay is set, replays from history whatever the
// hand-off rules leave to it. It returns an error only when writing to the
// client or reading history failed; without replay it writes nothing and
// cannot fail.
func (st *stream) attach(from uint64, replay bool, state stateFrom) error {
	tr := st.h.cfg.Transport
	for replay { // rule 4
		last := tr.LastSeq()
		if last <= from+maxCatchUpGap {
			break
		}
		if err := st.replayRange(from, last); err != nil {
			return err
		}
		from = last
	}
	// Rule 2: the one registration site.
	attach, kept := st.h.reg.attach(st.s, from, state)
	if !replay {
		return nil // rule 5
	}
	if attach > from { // rule 3
		if err := st.replayRange(from, attach); err != nil {
			return err
		}
	}
	return st.replayState(kept) // rule 6
}

// maxCatchUpGap is how far behind the last stored event a replay may be when
// the subscriber registers: what remains is replayed while live events queue,
// so the queue only has to hold what arrives during a short tail.
const maxCatchUpGap = 256

// attachFailed is the reason a stream ends when its replay failed.
func (st *stream) attachFailed(err error) string {
	h := st.h
	var te *replayError
	switch {
	case errors.Is(err, errOverflow) || st.s.kicked():
		st.warnOverflow()
		return DisconnectOverflow
	case errors.As(err, &te):
		h.metrics.TransportError(OpReplay)
		h.warnings.warn("subscribe: reading history failed", "error", te.err)
		return DisconnectError
	}
	if reason := st.stopped(); reason != "" {
		return reason
	}
	if !errors.Is(err, context.Canceled) {
		h.log.Debug("subscribe: replay ended", "error", err)
	}
	return DisconnectClient
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

// historyDamaged reports whether the transport says its storage is damaged
// (transport.ErrCorrupt from its Checker): a replay would fail halfway, so
// the subscriber is answered 503 before any header goes out. Other check
// failures (a full disk refusing appends) do not stop replays.
func (h *Hub) historyDamaged(ctx context.Context) bool {
	c, ok := h.cfg.Transport.(transport.Checker)
	if !ok {
		return false
	}
	err := c.Check(ctx)
	if err == nil || !errors.Is(err, transport.ErrCorrupt) {
		return false
	}
	h.metrics.TransportError(OpReplay)
	h.warnings.warn("subscribe: the history is damaged; replay refused", "error", err)
	return true
}
