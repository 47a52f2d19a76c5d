package hub

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// Active subscriptions (checklist §1.8, §2.3 LEG-18..23, §2.4 points 7-8).
//
// Each subscription (one per matcher parameter) is announced by a private
// update when its connection opens and when it ends, and the open ones are
// listed by a read-only web API. Both speak the generation of the
// subscription: a `topic=` subscription is described in the 0.x JSON-LD
// shape, a `match*` one in the draft-08 shape, because the clients that
// follow each kind (Laravel presence channels, Symfony; draft-08 clients)
// only understand their own.
//
// Timing. Creation events are emitted before the stream's headers are
// sent:
//   - legacy ones before the subscriber is registered for delivery, so a
//     legacy subscriber never receives its own (LEG-18, what 0.x did);
//   - modern ones after, so a subscriber listening to subscription events
//     receives its own (EVT-1, what the reference hub does).
//
// A subscriber that reconnects with a cursor is registered at the end of its
// replay; its creation events are emitted before the replay starts, so it
// reads them (legacy ones included) from the kept events, as it would have
// from a 0.x hub with a durable transport. End events are emitted after the
// subscriber was unregistered (LEG-18).
//
// Subscription events are state, not history: they advance the cursor and
// are replayed to authorized listeners that reconnect while the hub still
// keeps them, but they are never stored in the transport
// (subscriptionlog.go).

// subscriptionsPath is the root of the API and of the event topics.
const subscriptionsPath = Path + "/subscriptions"

const (
	// subscriptionEventType is the SSE event type of draft-08 subscription
	// events (EVT-8). Publishers cannot use it (PUB-11), so it proves the
	// event came from the hub.
	subscriptionEventType = "mercure"
	// jsonLDContext is the @context of the 0.x documents (LEG-19, LEG-23).
	jsonLDContext = "https://mercure.rocks/"
)

// isModernMatcher tells a draft-08 (match*) subscription from a legacy
// (topic=) one.
func isModernMatcher(m *topic.Matcher) bool { return m.Type() != topic.TypeLegacy }

// knownMatchType reports whether a path segment names a draft-08 matcher
// type, which is what makes /subscriptions/X/Y modern (§2.4 point 8).
// Names are case-sensitive (EVT-2).
func knownMatchType(s string) bool { return s == topic.TypeExact || s == topic.TypeURLPattern }

// ---------------------------------------------------------------------------
// Topics and documents

// escapeSegment percent-encodes a whole string once for a draft-08 event
// topic or API path (EVT-4): every byte outside the unreserved ALPHA / DIGIT
// / "-._~" becomes %XX with uppercase hex, a `%` already in the value
// included, and a space is %20.
func escapeSegment(s string) string {
	// QueryEscape leaves exactly the unreserved set alone and writes a space
	// as '+'; a literal '+' comes out as %2B, so every '+' left is a space.
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// legacyEscapeSegment is the 0.x encoding (LEG-18): QueryEscape, so a space
// is '+'. Legacy listeners' templates and clients' string building expect
// these exact bytes.
func legacyEscapeSegment(s string) string { return url.QueryEscape(s) }

// subscriptionTopic is the event topic of subscriber id's subscription m,
// which is also the id of its documents: draft-08
// /subscriptions/{match_type}/{match}/{subscriber} (EVT-2), or 0.x
// /subscriptions/{topic}/{subscriber} (LEG-18).
func subscriptionTopic(m *topic.Matcher, id string) string {
	return entryTopic(subscriptionEntry{Type: m.Type(), Pattern: m.Pattern()}, id)
}

// entryTopic is subscriptionTopic for a recorded subscription.
func entryTopic(e subscriptionEntry, id string) string {
	if !e.modern() {
		return subscriptionsPath + "/" + legacyEscapeSegment(e.Pattern) + "/" + legacyEscapeSegment(id)
	}
	return subscriptionsPath + "/" + e.Type + "/" + escapeSegment(e.Pattern) + "/" + escapeSegment(id)
}

// subscriptionDoc is a draft-08 subscription document: the data of its
// events and the API's single resource (EVT-6, API-5). Members are in the
// reference hub's order.
type subscriptionDoc struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Subscriber string          `json:"subscriber"`
	Match      string          `json:"match"`
	MatchType  string          `json:"match_type"`
	Active     bool            `json:"active"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// subscriptionsDoc is a draft-08 collection (API-6).
type subscriptionsDoc struct {
	ID            string            `json:"id"`
	Type          string            `json:"type"`
	Subscriptions []subscriptionDoc `json:"subscriptions"`
}

// legacySubscriptionDoc is a 0.x subscription document (LEG-19, LEG-23).
// Context is empty for the items of a collection (their parent defines it)
// and LastEventID is set on the single resource only.
type legacySubscriptionDoc struct {
	Context     string          `json:"@context,omitempty"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Subscriber  string          `json:"subscriber"`
	Topic       string          `json:"topic"`
	Active      bool            `json:"active"`
	LastEventID string          `json:"lastEventID,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

// legacySubscriptionsDoc is a 0.x collection (LEG-23).
type legacySubscriptionsDoc struct {
	Context       string                  `json:"@context"`
	ID            string                  `json:"id"`
	Type          string                  `json:"type"`
	LastEventID   string                  `json:"lastEventID"`
	Subscriptions []legacySubscriptionDoc `json:"subscriptions"`
}

// modernDoc describes subscription e of subscriber id. The payload is the
// one PAY-1 selected for e's own pattern (entryOf).
func modernDoc(id string, e subscriptionEntry, active bool) subscriptionDoc {
	return subscriptionDoc{
		ID:         entryTopic(e, id),
		Type:       "subscription",
		Subscriber: id,
		Match:      e.Pattern,
		MatchType:  e.Type,
		Active:     active,
		Payload:    e.Payload,
	}
}

// legacyDoc describes subscription e of subscriber id in the 0.x shape,
// without @context. For a legacy token the payload is the token-wide
// mercure.payload (LEG-19); a draft-08 token on a topic= subscription gets
// its PAY-1 payload.
func legacyDoc(id string, e subscriptionEntry, active bool) legacySubscriptionDoc {
	return legacySubscriptionDoc{
		ID:         entryTopic(e, id),
		Type:       "Subscription",
		Subscriber: id,
		Topic:      e.Pattern,
		Active:     active,
		Payload:    e.Payload,
	}
}

// marshalJSON encodes v without HTML escaping (topics are URLs full of `&`),
// with a 2-space indent when indent is set, and without a final newline.
func marshalJSON(v any, indent bool) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// subscriptionEvent builds the update announcing that subscription m of s
// became active or ended. Both shapes are private (EVT-7, LEG-18) and
// pretty-printed with a 2-space indent like the reference hubs' (several
// data: lines); the draft-08 one has the event type `mercure` (EVT-8), the
// 0.x one none, so that it reaches EventSource.onmessage (§2.4 point 7).
func subscriptionEvent(s *subscriber, m *topic.Matcher, active bool) (*transport.Event, error) {
	return entryEvent(s.id, entryOf(s, m), active)
}

// entryEvent is subscriptionEvent for a recorded subscription (one of a
// dead node, say).
func entryEvent(id string, e subscriptionEntry, active bool) (*transport.Event, error) {
	ev := &transport.Event{
		// v4 like published ids: a time-ordered id would date the
		// connection for anyone who sees the cursor.
		ID:      "urn:uuid:" + uuid.NewString(),
		Topics:  []string{entryTopic(e, id)},
		Private: true,
		Time:    time.Now(),
	}
	var doc any
	if e.modern() {
		ev.Type = subscriptionEventType
		doc = modernDoc(id, e, active)
	} else {
		d := legacyDoc(id, e, active)
		d.Context = jsonLDContext
		doc = d
	}
	data, err := marshalJSON(doc, true)
	if err != nil {
		return nil, err
	}
	ev.Data = string(data)
	ev.Frame = encodeEvent(ev)
	return ev, nil
}

// ---------------------------------------------------------------------------
// The list of open subscribers

// activeSubscriptions lists the subscribers whose subscriptions are active,
// oldest first, for the API. It is kept apart from the dispatch index: it
// includes a reconnecting subscriber from the start of its replay, and
// listing it never holds the dispatcher's lock.
type activeSubscriptions struct {
	mu    sync.Mutex
	order list.List                // of *subscriber, oldest first
	byID  map[string]*list.Element // subscriber id -> its element in order

	// bootSeq and bootID cache the id of the newest stored event when
	// nothing was dispatched since the hub started (see apiCursor).
	bootSeq uint64
	bootID  string
}

// add lists s.
func (a *activeSubscriptions) add(s *subscriber) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byID == nil {
		a.byID = make(map[string]*list.Element)
	}
	if _, ok := a.byID[s.id]; ok {
		return
	}
	a.byID[s.id] = a.order.PushBack(s)
}

// remove unlists s and reports whether it was listed.
func (a *activeSubscriptions) remove(s *subscriber) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.byID[s.id]
	if !ok {
		return false
	}
	a.order.Remove(e)
	delete(a.byID, s.id)
	return true
}

// get returns the listed subscriber with this id, or nil.
func (a *activeSubscriptions) get(id string) *subscriber {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.byID[id]; ok {
		return e.Value.(*subscriber)
	}
	return nil
}

// snapshot returns the listed subscribers, oldest first. Their matchers and
// grants are immutable, so the caller reads them without the lock.
func (a *activeSubscriptions) snapshot() []*subscriber {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*subscriber, 0, a.order.Len())
	for e := a.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*subscriber))
	}
	return out
}

// ---------------------------------------------------------------------------
// Hooks called by subscribe

// subscriptionsOpening lists s and announces its legacy subscriptions. The
// caller registers s for delivery only afterwards, so a legacy subscriber
// never receives its own creation event live (LEG-18).
func (h *Hub) subscriptionsOpening(s *subscriber) {
	if !h.cfg.Subscriptions {
		return
	}
	// Listed before any event is appended: a client that reads an event and
	// then the API finds the subscription (see apiCursor for the converse).
	h.reg.active.add(s)
	h.storeAdd(s)
	h.announce(s, true, func(m *topic.Matcher) bool { return !isModernMatcher(m) })
}

// subscriptionsOpened announces the draft-08 subscriptions of s once it is
// registered (EVT-1).
func (h *Hub) subscriptionsOpened(s *subscriber) {
	if !h.cfg.Subscriptions {
		return
	}
	h.announce(s, true, isModernMatcher)
}

// subscriptionsClosed unlists s and announces the end of each of its
// subscriptions, after the caller unregistered it (LEG-18, EVT-1). A
// subscriber that was never listed announces nothing.
func (h *Hub) subscriptionsClosed(s *subscriber) {
	if !h.cfg.Subscriptions || !h.reg.active.remove(s) {
		return
	}
	h.storeRemove(s)
	h.announce(s, false, func(*topic.Matcher) bool { return true })
}

// announce emits one event per subscription of s that which selects, in
// parameter order, duplicates included (one subscription per parameter).
// The context of the broadcast is not the request's: the end events are
// sent after the client has gone. One bound covers the whole batch so that
// a stuck transport delays a closing stream by one timeout, not one per
// matcher.
//
// The events of one call are emitted together, in order, under the
// registry lock: no other event comes between them (on other nodes too:
// they travel as one batch).
func (h *Hub) announce(s *subscriber, active bool, which func(*topic.Matcher) bool) {
	evs := make([]*transport.Event, 0, len(s.matchers))
	for _, m := range s.matchers {
		if !which(m) {
			continue
		}
		ev, err := subscriptionEvent(s, m, active)
		if err != nil {
			h.log.Warn("subscription event: encoding failed", "subscriber", s.id, "error", err)
			continue
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return
	}
	// State, not history: dispatched live and kept in memory, never
	// stored in the transport (subscriptionlog.go). Delivered here at once,
	// before the caller registers (legacy) or after it unregistered s, so
	// the timing rules above hold for this node's listeners.
	delivered, keptBytes := h.reg.emitState(evs)
	if delivered > 0 {
		h.metrics.Delivered(delivered)
	}
	h.metrics.SubscriptionEvents(len(evs), keptBytes)
	// Several nodes: the other nodes' listeners get them through the
	// transport's state channel, which skips them here (subscriptionstate.go).
	if sb, ok := h.cfg.Transport.(transport.StateBroadcaster); ok {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.DispatchTimeout)
		defer cancel()
		if err := sb.PublishState(ctx, evs); err != nil {
			h.warnings.warn("subscription events: sending them to the other nodes failed", "subscriber", s.id, "active", active, "error", err)
		}
	}
}

// checkAnnounceable refuses a subscription whose selectors, announced in
// subscription events, would exceed MaxAnnouncedBytes: each event carries
// its selector twice (topic and document), and every open and close of the
// stream emits them again.
func (h *Hub) checkAnnounceable(matchers []*topic.Matcher) error {
	if !h.cfg.Subscriptions {
		return nil
	}
	n := 0
	for _, m := range matchers {
		n += len(m.Pattern())
	}
	if n > h.cfg.MaxAnnouncedBytes {
		return badRequest("the topic selectors of this subscription exceed %d bytes in all, the most subscription events may describe", h.cfg.MaxAnnouncedBytes)
	}
	return nil
}

// ---------------------------------------------------------------------------
// The API

// withSubscriptionsAPI routes the subscription API before the router: its
// paths carry percent-encoded slashes (`https%3A%2F%2F…`) that the router
// would decode and then "clean" with a redirect. The paths are taken
// encoded and never cleaned (LEG-21). With the feature off they answer 404.
func (h *Hub) withSubscriptionsAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if p == subscriptionsPath || strings.HasPrefix(p, subscriptionsPath+"/") {
			h.subscriptionsAPI(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiRequest is a parsed API path.
type apiRequest struct {
	legacy bool // a 0.x route (decided by the token's dialect for the root)
	root   bool // /subscriptions itself
	// matchType is the draft-08 type of a modern route, "" for legacy ones.
	matchType string
	// match is the matcher (modern) or selector (legacy) asked for; ""
	// with root.
	match string
	// subscriber is set for a single subscription.
	subscriber string
}

// parseSubscriptionsPath reads an escaped request path under
// subscriptionsPath (§2.4 point 8):
//
//	/subscriptions                              root collection
//	/subscriptions/{match_type}/{match}          modern, by matcher
//	/subscriptions/{match_type}/{match}/{sub}    modern, one subscription
//	/subscriptions/{topic}                       legacy, by selector
//	/subscriptions/{topic}/{sub}                 legacy, one subscription
//
// Two segments are modern when the first names a known matcher type. Modern
// segments are path-unescaped (EVT-4 never writes '+'), legacy ones
// query-unescaped (LEG-18 writes a space as '+'). An empty or badly escaped
// segment, or three segments without a known type, is a 400; more segments
// than any route has is a 404.
func parseSubscriptionsPath(escaped string) (apiRequest, error) {
	rest, ok := strings.CutPrefix(escaped, subscriptionsPath)
	if !ok || (rest != "" && rest[0] != '/') {
		return apiRequest{}, notFound()
	}
	if rest == "" {
		return apiRequest{root: true}, nil
	}
	segs := strings.SplitN(rest[1:], "/", 4)
	if len(segs) > 3 {
		return apiRequest{}, notFound()
	}
	for _, s := range segs {
		if s == "" {
			return apiRequest{}, badRequest("empty path segment")
		}
	}
	unescape := func(s string, legacy bool) (string, error) {
		var v string
		var err error
		if legacy {
			v, err = url.QueryUnescape(s)
		} else {
			v, err = url.PathUnescape(s)
		}
		if err != nil {
			return "", badRequest("badly escaped path segment")
		}
		return v, nil
	}
	var req apiRequest
	var err error
	switch {
	case len(segs) >= 2 && knownMatchType(segs[0]):
		req.matchType = segs[0]
		if req.match, err = unescape(segs[1], false); err != nil {
			return apiRequest{}, err
		}
		if len(segs) == 3 {
			if req.subscriber, err = unescape(segs[2], false); err != nil {
				return apiRequest{}, err
			}
		}
	case len(segs) == 3:
		return apiRequest{}, badRequest("unknown matcher type")
	default:
		req.legacy = true
		if req.match, err = unescape(segs[0], true); err != nil {
			return apiRequest{}, err
		}
		if len(segs) == 2 {
			if req.subscriber, err = unescape(segs[1], true); err != nil {
				return apiRequest{}, err
			}
		}
	}
	return req, nil
}

func notFound() error {
	return &requestError{http.StatusNotFound, "no such subscription resource"}
}

// subscriptionsAPI serves GET and HEAD on the subscription API.
//
// Authorization comes first (a request without a valid token learns
// nothing, not even whether its path is well formed) and is never waived:
// an anonymous hub keeps its subscriber list private (API-3, unlike the
// reference hubs without a subscriber key). A draft-08 token needs a
// subscribe grant on the escaped request path without the query, as a topic
// (API-3); a 0.x token a mercure.subscribe selector matching the path with
// the query (LEG-22). A refusal is a 403 with an RFC 6750 challenge for both
// generations: 0.x clients only test for success.
func (h *Hub) subscriptionsAPI(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Subscriptions {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	grant, ok := h.authenticate(w, r, auth.Subscriber, false)
	if !ok {
		return
	}
	path := r.URL.EscapedPath()
	resource := path
	if !grant.Modern {
		resource = r.URL.RequestURI()
	}
	if !grant.CanSubscribe([]string{resource}) {
		h.writeError(w, r, auth.ErrInsufficientScope("no subscribe grant on the subscription API path"))
		return
	}
	req, err := parseSubscriptionsPath(path)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.root {
		req.legacy = !grant.Modern
	}

	// The cursor is read before the list: every subscription change is
	// made to the list before its event is appended, so every event up to
	// the cursor is reflected in the list, and a client resuming events
	// from the cursor misses nothing (it may see a change twice).
	cursor := h.apiCursor(r.Context())
	subs, err := h.listRecords(r.Context())
	if err != nil {
		// The shared list is unreachable (Redis down): say so rather
		// than answer an empty or partial list.
		h.warnings.warn("subscription API", "error", err)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "subscription list unavailable", http.StatusServiceUnavailable)
		return
	}

	hd := w.Header()
	// Authorized, volatile data: no shared cache, and revalidate (API-10).
	hd.Set("Cache-Control", "private, no-cache")
	hd.Add("Vary", "Authorization, Cookie")
	if req.legacy {
		h.serveLegacySubscriptions(w, r, req, cursor, subs)
		return
	}
	h.serveSubscriptions(w, r, req, cursor, subs)
}

// serveSubscriptions answers a draft-08 route (API-4..10).
func (h *Hub) serveSubscriptions(w http.ResponseWriter, r *http.Request, req apiRequest, cursor string, subs []subscriptionRecord) {
	hd := w.Header()
	hd.Set("Link", "<"+Path+`>; rel="mercure"; last-event-id=`+quoteString(cursor)+`; type="mercure"; content-type="application/json"`)
	var doc any
	if req.subscriber != "" {
		e, ok := findEntry(subs, req.subscriber, func(e subscriptionEntry) bool {
			return e.Type == req.matchType && e.Pattern == req.match
		})
		if !ok {
			http.Error(w, "no such subscription", http.StatusNotFound)
			return
		}
		doc = modernDoc(req.subscriber, e, true)
	} else {
		coll := subscriptionsDoc{ID: r.URL.EscapedPath(), Type: "subscriptions", Subscriptions: []subscriptionDoc{}}
		for _, s := range subs {
			for _, e := range s.Entries {
				if !e.modern() || (!req.root && (e.Type != req.matchType || e.Pattern != req.match)) {
					continue
				}
				coll.Subscriptions = append(coll.Subscriptions, modernDoc(s.Subscriber, e, true))
			}
		}
		doc = coll
	}
	etag := `"` + etagEscape(cursor) + `"`
	hd.Set("ETag", etag)
	if ifNoneMatch(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.writeDocument(w, "application/json", doc)
}

// serveLegacySubscriptions answers a 0.x route (LEG-21, LEG-23): JSON-LD,
// the cursor in the body, a raw ETag and no Link.
func (h *Hub) serveLegacySubscriptions(w http.ResponseWriter, r *http.Request, req apiRequest, cursor string, subs []subscriptionRecord) {
	var doc any
	if req.subscriber != "" {
		e, ok := findEntry(subs, req.subscriber, func(e subscriptionEntry) bool {
			return !e.modern() && e.Pattern == req.match
		})
		if !ok {
			http.Error(w, "no such subscription", http.StatusNotFound)
			return
		}
		d := legacyDoc(req.subscriber, e, true)
		d.Context, d.LastEventID = jsonLDContext, cursor
		doc = d
	} else {
		coll := legacySubscriptionsDoc{
			Context:       jsonLDContext,
			ID:            r.URL.RequestURI(),
			Type:          "Subscriptions",
			LastEventID:   cursor,
			Subscriptions: []legacySubscriptionDoc{},
		}
		for _, s := range subs {
			for _, e := range s.Entries {
				if e.modern() || (!req.root && e.Pattern != req.match) {
					continue
				}
				coll.Subscriptions = append(coll.Subscriptions, legacyDoc(s.Subscriber, e, true))
			}
		}
		doc = coll
	}
	etag := headerSafe(cursor)
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || ifNoneMatch(r.Header.Values("If-None-Match"), `"`+etag+`"`)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.writeDocument(w, "application/ld+json", doc)
}

// findEntry returns the first subscription of subscriber id that want
// selects.
func findEntry(subs []subscriptionRecord, id string, want func(subscriptionEntry) bool) (subscriptionEntry, bool) {
	for _, s := range subs {
		if s.Subscriber != id {
			continue
		}
		for _, e := range s.Entries {
			if want(e) {
				return e, true
			}
		}
	}
	return subscriptionEntry{}, false
}

// writeDocument writes doc with a 200.
func (h *Hub) writeDocument(w http.ResponseWriter, contentType string, doc any) {
	b, err := marshalJSON(doc, false)
	if err != nil {
		h.log.Warn("subscription API: encoding failed", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// apiCursor is the id of the last dispatched event, or earliest if there is
// none (API-7, LEG-23). Before anything is dispatched after a start on a
// durable transport, it is the id of the newest stored event, read once
// from history (0.x loaded it from its database).
func (h *Hub) apiCursor(ctx context.Context) string {
	h.reg.mu.Lock()
	seq, id := h.reg.lastSeq, h.reg.lastID
	h.reg.mu.Unlock()
	if id != "" {
		return id
	}
	if seq == 0 {
		return earliest
	}
	a := &h.reg.active
	a.mu.Lock()
	if a.bootSeq == seq && a.bootID != "" {
		id = a.bootID
	}
	a.mu.Unlock()
	if id != "" {
		return id
	}
	err := h.cfg.Transport.Replay(ctx, seq-1, seq, func(ev *transport.Event) error {
		id = ev.ID
		return nil
	})
	if err != nil || id == "" {
		// Removed by retention, or unreadable: earliest makes a client
		// replay more than needed, never miss anything.
		if err != nil {
			h.log.Warn("subscription API: reading the last event failed", "error", err)
		}
		return earliest
	}
	a.mu.Lock()
	a.bootSeq, a.bootID = seq, id
	a.mu.Unlock()
	return id
}

// ---------------------------------------------------------------------------
// Header values

const upperHex = "0123456789ABCDEF"

// etagEscape makes s an opaque-tag body (RFC 9110 etagc: %x21, %x23-7E and
// obs-text) by percent-encoding every other byte, and `%` itself so that
// distinct ids never share a tag.
func etagEscape(s string) string {
	return percentEncode(s, func(c byte) bool {
		return c == 0x21 || (c >= 0x23 && c <= 0x7e && c != '%') || c >= 0x80
	})
}

// headerSafe percent-encodes the bytes a header field value cannot carry
// (controls other than tab). Ids never contain them; the 0.x ETag is
// otherwise the raw id (LEG-23).
func headerSafe(s string) string {
	return percentEncode(s, func(c byte) bool { return c == '\t' || (c >= 0x20 && c != 0x7f) })
}

func percentEncode(s string, keep func(byte) bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
	}
	return string(b)
}

// ifNoneMatch reports whether the If-None-Match field values select etag (a
// strong, quoted tag) with the weak comparison of RFC 9110 §13.1.2: `*`,
// or a listed tag with the same opaque part, W/ or not. A malformed member
// ends the parse without a match, so a garbled header costs a full
// response, never a wrong 304.
func ifNoneMatch(values []string, etag string) bool {
	for _, v := range values {
		for {
			v = strings.TrimLeft(v, " \t,")
			if v == "" {
				break
			}
			if v[0] == '*' {
				rest := strings.TrimLeft(v[1:], " \t")
				return rest == "" || rest[0] == ','
			}
			v = strings.TrimPrefix(v, "W/")
			if v == "" || v[0] != '"' {
				return false
			}
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				return false
			}
			if v[:end+2] == etag {
				return true
			}
			v = v[end+2:]
		}
	}
	return false
}
