package spectests_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/hub"
)

// Section 1.8 of the checklist (active subscriptions: EVT, API), PAY-1 in
// events, LEG-18..23 and §2.4 points 7-8 (each generation in its shape).

const (
	subsPath = hub.Path + "/subscriptions"
	// eventsPattern selects every draft-08 subscription event.
	eventsPattern = subsPath + "/:t/:m/:s"
	// legacyEventsSelector is the 0.x docs' selector for subscription
	// events (LEG-20).
	legacyEventsSelector = subsPath + "{/topic}{/subscriber}"
	marker               = "https://example.com/marker"
)

var (
	subsAnon    = Options{Subscriptions: true, Anonymous: true}
	subsPrivate = Options{Subscriptions: true}
)

// watcher subscribes to every draft-08 subscription event and to the public
// marker topic, with a token granting the events.
func (h *Harness) watcher(t testing.TB) *Stream {
	t.Helper()
	tok := h.modernSub(tm(eventsPattern, "urlpattern"))
	return h.sub(t, q("match_urlpattern", eventsPattern, "match", marker), tok)
}

// legacyWatcher is a 0.x client following subscription events (LEG-20).
func (h *Harness) legacyWatcher(t testing.TB) *Stream {
	t.Helper()
	return h.sub(t, q("topic", legacyEventsSelector, "topic", marker), h.legacySub(legacyEventsSelector))
}

// untilMarker publishes a public marker and returns the events s receives
// before it: delivery follows publication order, so these are all the
// events published earlier that s may see. Earlier markers are skipped.
func (h *Harness) untilMarker(t testing.TB, s *Stream) []*Event {
	t.Helper()
	id := h.publish(t, "topic", marker, "data", "marker")
	var before []*Event
	for {
		ev := s.event(t)
		if ev.ID == id {
			return before
		}
		if ev.DataString() != "marker" {
			before = append(before, ev)
		}
	}
}

// compact is the compact form of a JSON value, for comparisons.
func compact(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compacting %q: %v", raw, err)
	}
	return b.String()
}

// subDoc is a subscription event or API document, both shapes.
type subDoc struct {
	Context     string          `json:"@context"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Subscriber  string          `json:"subscriber"`
	Match       string          `json:"match"`
	MatchType   string          `json:"match_type"`
	Topic       string          `json:"topic"`
	Active      *bool           `json:"active"`
	LastEventID string          `json:"lastEventID"`
	Payload     json.RawMessage `json:"payload"`
}

// collDoc is an API collection, both shapes.
type collDoc struct {
	Context       string   `json:"@context"`
	ID            string   `json:"id"`
	Type          string   `json:"type"`
	LastEventID   string   `json:"lastEventID"`
	Subscriptions []subDoc `json:"subscriptions"`
}

func decode[T any](t testing.TB, data string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("decoding %q: %v", data, err)
	}
	return v
}

// keys returns the members of a JSON object in document order.
func keys(t testing.TB, data string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q is not an object", data)
	}
	var out []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// subEvent reads the next event, which must be a subscription event, and
// decodes it.
func subEvent(t testing.TB, s *Stream) (*Event, subDoc) {
	t.Helper()
	ev := s.event(t)
	return ev, decode[subDoc](t, ev.DataString())
}

// wantActive checks the activity of a document.
func wantActive(t testing.TB, d subDoc, want bool) {
	t.Helper()
	if d.Active == nil || *d.Active != want {
		t.Errorf("document %+v: active %v, want %v", d, d.Active, want)
	}
}

// escape is the EVT-4 encoding, written independently of the hub's.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex2(c)))
	}
	return b.String()
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// apiTok is a modern token allowed on the whole API.
func (h *Harness) apiTok() string {
	return h.modernSub(tm(subsPath, ""), tm(subsPath+"/*", "urlpattern"))
}

// ---------------------------------------------------------------------------
// Events (EVT)

func TestEVT1_CreatedThenEndedEvents(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		// The hub emits draft-08 creation events after registering the
		// subscriber (the reference hub's order): the watcher sees its
		// own two subscriptions first.
		own := h.untilMarker(t, w)
		if len(own) != 2 {
			t.Fatalf("the watcher saw %d events before the marker, want its own 2", len(own))
		}
		for _, ev := range own {
			d := decode[subDoc](t, ev.DataString())
			wantActive(t, d, true)
			if d.Subscriber != decode[subDoc](t, own[0].DataString()).Subscriber {
				t.Errorf("the watcher's two subscriptions have different subscriber ids")
			}
		}

		s := h.sub(t, q("match", "x"))
		_, on := subEvent(t, w)
		wantActive(t, on, true)
		if on.Match != "x" || on.MatchType != "exact" {
			t.Errorf("creation event %+v, want match x, exact", on)
		}
		s.Close()
		_, off := subEvent(t, w)
		wantActive(t, off, false)
		if off.ID != on.ID || off.Subscriber != on.Subscriber || off.Match != "x" {
			t.Errorf("end event %+v does not describe the subscription %+v", off, on)
		}
	})
}

func TestEVT1_OneEventPerMatcherParameter(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		// Duplicates included: one subscription per parameter.
		s := h.sub(t, q("match", "a", "match_urlpattern", "https://example.com/:x", "match", "a"))
		var got []string
		var subscriber string
		for range 3 {
			_, d := subEvent(t, w)
			wantActive(t, d, true)
			got = append(got, d.MatchType+" "+d.Match)
			if subscriber == "" {
				subscriber = d.Subscriber
			} else if d.Subscriber != subscriber {
				t.Errorf("one connection, several subscriber ids: %q and %q (EVT-3)", subscriber, d.Subscriber)
			}
		}
		if want := []string{"exact a", "urlpattern https://example.com/:x", "exact a"}; !reflect.DeepEqual(got, want) {
			t.Errorf("creation events %q, want %q", got, want)
		}
		s.Close()
		for range 3 {
			_, d := subEvent(t, w)
			wantActive(t, d, false)
		}
	})
}

func TestEVT2_TopicIsHubPathTypeMatchSubscriber(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		const pattern = "https://example.com/:selector"
		s := h.sub(t, q("match_urlpattern", pattern))
		_, d := subEvent(t, w)
		want := subsPath + "/urlpattern/https%3A%2F%2Fexample.com%2F%3Aselector/" + escape(d.Subscriber)
		if d.ID != want {
			t.Errorf("id %q, want %q", d.ID, want)
		}
		// The id is the event's topic: a subscriber of exactly that topic,
		// with a grant on it alone, receives the end event and nothing
		// else.
		exact := h.sub(t, q("match", d.ID), h.modernSub(d.ID))
		s.Close()
		_, off := subEvent(t, exact)
		wantActive(t, off, false)
		if off.ID != d.ID {
			t.Errorf("end event %q, want %q", off.ID, d.ID)
		}
	})
}

func TestEVT3_EVT5_SubscriberIDsAreRandomPerConnection(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		tok := h.modernSub("x")
		// The same token on two connections: two subscribers.
		h.sub(t, q("match", "x"), tok)
		h.sub(t, q("match", "x"), tok)
		_, a := subEvent(t, w)
		_, b := subEvent(t, w)
		for _, d := range []subDoc{a, b} {
			if !uuidV4ID.MatchString(d.Subscriber) {
				t.Errorf("subscriber %q, want urn:uuid: + a v4 UUID", d.Subscriber)
			}
		}
		if a.Subscriber == b.Subscriber {
			t.Errorf("two connections share the subscriber id %q", a.Subscriber)
		}
	})
}

func TestEVT4_SegmentsEncodedOnceAsAWhole(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		h.subscribe(t, Req{Query: "match=a%25b%20c"}) // the topic "a%b c"
		_, d := subEvent(t, w)
		if d.Match != "a%b c" {
			t.Errorf("match %q, want %q", d.Match, "a%b c")
		}
		want := subsPath + "/exact/a%25b%20c/" + escape(d.Subscriber)
		if d.ID != want {
			t.Errorf("id %q, want %q (uppercase hex, space %%20, %% encoded once)", d.ID, want)
		}
	})
}

func TestEVT6_EventDocument(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		h.sub(t, q("match", "https://example.com/books/1"))
		ev, d := subEvent(t, w)
		if got, want := keys(t, ev.DataString()), []string{"id", "type", "subscriber", "match", "match_type", "active"}; !reflect.DeepEqual(got, want) {
			t.Errorf("members %q, want %q (no payload for an anonymous subscriber)", got, want)
		}
		if d.Type != "subscription" || d.MatchType != "exact" || d.Match != "https://example.com/books/1" {
			t.Errorf("document %+v", d)
		}
		wantActive(t, d, true)
		if d.Context != "" || d.Topic != "" {
			t.Errorf("a draft-08 document carries legacy members: %+v", d)
		}
		if len(ev.Data) < 3 || ev.Data[0] != "{" || ev.Data[1] != `  "id": "`+d.ID+`",` {
			t.Errorf("data lines %q, want a pretty-printed document", ev.Data)
		}
	})
}

func TestEVT7_AnonymousListenerGetsNothing(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		anon := h.sub(t, q("match_urlpattern", subsPath+"/*", "match_urlpattern", eventsPattern, "match", marker))
		w := h.watcher(t)
		h.untilMarker(t, w)
		s := h.sub(t, q("match", "x"))
		s.Close()
		_, on := subEvent(t, w)
		_, off := subEvent(t, w)
		wantActive(t, on, true)
		wantActive(t, off, false)
		// Both events were dispatched before the marker: the anonymous
		// stream would have had them first.
		if got := h.untilMarker(t, anon); len(got) != 0 {
			t.Errorf("an anonymous subscriber received %d subscription events, first %q", len(got), got[0].Raw)
		}
	})
}

func TestEVT7_ListenerNeedsAGrantOnTheEvents(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		// A token whose grant does not cover the events: nothing.
		other := h.sub(t, q("match_urlpattern", eventsPattern, "match", marker), h.modernSub("https://example.com/other"))
		h.sub(t, q("match", "x"))
		if got := h.untilMarker(t, other); len(got) != 0 {
			t.Errorf("a subscriber without a grant on the events received %d of them", len(got))
		}
	})
}

func TestEVT8_EventTypeMercure(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		h.sub(t, q("match", "x"))
		ev, _ := subEvent(t, w)
		if ev.Type != "mercure" || !strings.HasPrefix(ev.Raw, "event: mercure\n") {
			t.Errorf("frame %q, want it to start with event: mercure", ev.Raw)
		}
	})
}

func TestEVT1_DisabledFeatureEmitsNothing(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.sub(t, q("match", "x"))
		if got := h.untilMarker(t, w); len(got) != 0 {
			t.Errorf("%d subscription events with the feature off", len(got))
		}
		wantStatus(t, h.call(t, Req{Path: subsPath, Token: h.modernSub("*")}), http.StatusNotFound, "the API with the feature off")
	})
}

// payloadClaims is a draft-08 subscriber token whose details carry
// payloads: the first detail covering a subscription's own matcher wins, `*`
// is the default (PAY-1).
func (h *Harness) payloadToken() string {
	foo := detail([]string{"subscribe"}, "https://e.com/foo")
	foo["payload"] = map[string]any{"a": 1}
	all := detail([]string{"subscribe"}, "*")
	all["payload"] = map[string]any{"b": 2}
	return h.signSub(modernHeader, h.modernClaims(foo, all))
}

func TestPAY1_PayloadPerSubscriptionInEventsAndAPI(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		h.sub(t, q("match", "https://e.com/foo", "match", "x"), h.payloadToken())
		_, foo := subEvent(t, w)
		_, x := subEvent(t, w)
		if compact(t, foo.Payload) != `{"a":1}` || compact(t, x.Payload) != `{"b":2}` {
			t.Errorf("payloads %s (foo) and %s (x), want {\"a\":1} and {\"b\":2}", foo.Payload, x.Payload)
		}
		res := h.call(t, Req{Path: foo.ID, Token: h.apiTok()})
		wantStatus(t, res, http.StatusOK, "GET "+foo.ID)
		if d := decode[subDoc](t, res.Body); compact(t, d.Payload) != `{"a":1}` {
			t.Errorf("API payload %s, want {\"a\":1}", d.Payload)
		}
	})
}

// ---------------------------------------------------------------------------
// API

func TestAPI2_Endpoints(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		w := h.watcher(t)
		h.untilMarker(t, w)
		h.sub(t, q("match_urlpattern", "https://example.com/:selector", "match", "https://example.com/a-topic"))
		_, a := subEvent(t, w)
		_, b := subEvent(t, w)
		tok := h.apiTok()

		byMatcher := subsPath + "/urlpattern/" + escape("https://example.com/:selector")
		res := h.call(t, Req{Path: byMatcher, Token: tok})
		wantStatus(t, res, http.StatusOK, "GET "+byMatcher)
		coll := decode[collDoc](t, res.Body)
		if coll.ID != byMatcher || coll.Type != "subscriptions" || len(coll.Subscriptions) != 1 || coll.Subscriptions[0].ID != a.ID {
			t.Errorf("collection by matcher %+v, want only %q", coll, a.ID)
		}

		res = h.call(t, Req{Path: b.ID, Token: tok})
		wantStatus(t, res, http.StatusOK, "GET "+b.ID)
		single := decode[subDoc](t, res.Body)
		// API-5: the same document as the creation event.
		if !reflect.DeepEqual(single, b) {
			t.Errorf("single document %+v, want the event's %+v", single, b)
		}

		res = h.call(t, Req{Path: subsPath, Token: tok})
		wantStatus(t, res, http.StatusOK, "GET "+subsPath)
		all := decode[collDoc](t, res.Body)
		var ids []string
		for _, d := range all.Subscriptions {
			ids = append(ids, d.ID)
		}
		for _, id := range []string{a.ID, b.ID} {
			if !strings.Contains(strings.Join(ids, " "), id) {
				t.Errorf("collection %q lacks %q", ids, id)
			}
		}
		// The watcher's own 2 and these 2.
		if len(all.Subscriptions) != 4 {
			t.Errorf("collection of %d subscriptions, want 4", len(all.Subscriptions))
		}
		wantStatus(t, h.call(t, Req{Method: http.MethodHead, Path: subsPath, Token: tok}), http.StatusOK, "HEAD "+subsPath)
		wantStatus(t, h.call(t, Req{Method: http.MethodPost, Path: subsPath, Token: tok}), http.StatusMethodNotAllowed, "POST "+subsPath)
	})
}

func TestAPI2_BadPathsAre400(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		tok := h.modernSub("*")
		for _, p := range []string{
			subsPath + "/Exact/x/y", // types are case-sensitive
			subsPath + "/other/x/y", // unknown type
			subsPath + "/exact//y",  // empty segment
			subsPath + "/",          // empty segment
		} {
			wantStatus(t, h.call(t, Req{Path: p, Token: tok}), http.StatusBadRequest, "GET "+p)
		}
		wantStatus(t, h.call(t, Req{Path: subsPath + "/a/b/c/d", Token: tok}), http.StatusNotFound, "four segments")
	})
}

func TestAPI3_Authorization(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		single := subsPath + "/exact/x"
		// No token: 401 with a bare challenge, although the hub takes
		// anonymous subscribers: the list is never public.
		wantAuthError(t, h.call(t, Req{Path: subsPath}), http.StatusUnauthorized, "", "no token")
		wantAuthError(t, h.call(t, Req{Path: subsPath, Token: "garbage.token.value-long-enough-for-the-header-check"}), http.StatusUnauthorized, "invalid_token", "invalid token")

		onlyRoot := h.modernSub(subsPath)
		wantStatus(t, h.call(t, Req{Path: subsPath, Token: onlyRoot}), http.StatusOK, "exact grant on the collection")
		// The query is not part of the topic checked.
		wantStatus(t, h.call(t, Req{Path: subsPath, Query: "x=1", Token: onlyRoot}), http.StatusOK, "exact grant, query added")
		wantAuthError(t, h.call(t, Req{Path: single, Token: onlyRoot}), http.StatusForbidden, "insufficient_scope", "exact grant on another path")

		wild := h.modernSub("*")
		for _, p := range []string{subsPath, single, single + "/urn%3Auuid%3Ax"} {
			res := h.call(t, Req{Path: p, Token: wild})
			if res.Status != http.StatusOK && res.Status != http.StatusNotFound {
				t.Errorf("GET %s with a * grant: %d, want 200 or 404", p, res.Status)
			}
		}

		// Exact grants compare the escaped path byte for byte.
		escaped := subsPath + "/exact/a%3Ab"
		wantStatus(t, h.call(t, Req{Path: escaped, Token: h.modernSub(escaped)}), http.StatusOK, "exact grant on the escaped path")
		wantAuthError(t, h.call(t, Req{Path: subsPath + "/exact/a%3ab", Token: h.modernSub(escaped)}), http.StatusForbidden, "insufficient_scope", "lowercase escape")

		// A relative URL pattern resolves against the hub URL.
		pattern := h.modernSub(tm(subsPath+"/:t/:m", "urlpattern"))
		wantStatus(t, h.call(t, Req{Path: single, Token: pattern}), http.StatusOK, "URL pattern grant")
		wantAuthError(t, h.call(t, Req{Path: subsPath, Token: pattern}), http.StatusForbidden, "insufficient_scope", "URL pattern grant, other path")

		// A token without a subscribe grant.
		wantAuthError(t, h.call(t, Req{Path: subsPath, Token: h.modernPub("*")}), http.StatusUnauthorized, "invalid_token", "publisher token")
		wantAuthError(t, h.call(t, Req{Path: subsPath, Token: h.modernSub("https://example.com/x")}), http.StatusForbidden, "insufficient_scope", "unrelated grant")
	})
}

func TestAPI4_ContentTypeAndExposedLink(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example"
	each(t, Options{Subscriptions: true, Anonymous: true, CORSOrigins: []string{origin}}, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Path: subsPath, Token: h.apiTok(), Header: http.Header{"Origin": {origin}}})
		wantStatus(t, res, http.StatusOK, "GET "+subsPath)
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if !hasItem(headerList(res.Header, "Access-Control-Expose-Headers"), "link") {
			t.Errorf("Access-Control-Expose-Headers %q does not expose Link", res.Header.Values("Access-Control-Expose-Headers"))
		}
	})
}

func TestAPI5_UnknownAndEndedSubscriptionsAre404(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		tok := h.apiTok()
		wantStatus(t, h.call(t, Req{Path: subsPath + "/exact/x/" + escape("urn:uuid:00000000-0000-4000-8000-000000000000"), Token: tok}), http.StatusNotFound, "unknown subscription")

		w := h.watcher(t)
		h.untilMarker(t, w)
		s := h.sub(t, q("match", "x"))
		_, on := subEvent(t, w)
		wantStatus(t, h.call(t, Req{Path: on.ID, Token: tok}), http.StatusOK, "open subscription")
		// Same subscriber, other matcher: no such subscription.
		other := subsPath + "/exact/y/" + escape(on.Subscriber)
		wantStatus(t, h.call(t, Req{Path: other, Token: tok}), http.StatusNotFound, "another matcher of the subscriber")
		s.Close()
		// The end event is emitted after the subscription left the list.
		_, off := subEvent(t, w)
		wantActive(t, off, false)
		wantStatus(t, h.call(t, Req{Path: on.ID, Token: tok}), http.StatusNotFound, "ended subscription")
	})
}

func TestAPI6_CollectionDocument(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		empty := subsPath + "/exact/" + escape("https://example.com/nobody")
		res := h.call(t, Req{Path: empty, Token: h.apiTok()})
		wantStatus(t, res, http.StatusOK, "GET "+empty)
		if !strings.Contains(res.Body, `"subscriptions":[]`) {
			t.Errorf("empty collection %s, want \"subscriptions\":[]", res.Body)
		}
		if got, want := keys(t, res.Body), []string{"id", "type", "subscriptions"}; !reflect.DeepEqual(got, want) {
			t.Errorf("members %q, want %q", got, want)
		}
		coll := decode[collDoc](t, res.Body)
		if coll.ID != empty || coll.Type != "subscriptions" {
			t.Errorf("collection %+v, want id %q and type subscriptions", coll, empty)
		}
		// id is the request path, without the query.
		res = h.call(t, Req{Path: subsPath, Query: "page=2", Token: h.apiTok()})
		if coll := decode[collDoc](t, res.Body); coll.ID != subsPath {
			t.Errorf("collection id %q, want %q", coll.ID, subsPath)
		}
	})
}

// linkCursor returns the last-event-id of the API response's Link, checking
// the whole header (API-7, API-8).
func linkCursor(t testing.TB, res Result) string {
	t.Helper()
	link := res.Header.Get("Link")
	const head = `</.well-known/mercure>; rel="mercure"; last-event-id="`
	const tail = `"; type="mercure"; content-type="application/json"`
	if !strings.HasPrefix(link, head) || !strings.HasSuffix(link, tail) {
		t.Fatalf("Link %q, want %s<id>%s", link, head, tail)
	}
	return link[len(head) : len(link)-len(tail)]
}

func TestAPI7_LinkCarriesTheLastDispatchedID(t *testing.T) {
	t.Parallel()
	eachTransport(t, subsAnon, func(t *testing.T, h *Harness) {
		tok := h.apiTok()
		if got := linkCursor(t, h.call(t, Req{Path: subsPath, Token: tok})); got != "earliest" {
			t.Errorf("cursor of a hub that dispatched nothing: %q, want earliest", got)
		}
		m := h.sub(t, q("match", "m"))
		id := h.publish(t, "topic", "m", "id", `q"uote`)
		m.expectIDs(t, id) // dispatched
		res := h.call(t, Req{Path: subsPath, Token: tok})
		if link := res.Header.Get("Link"); !strings.Contains(link, `last-event-id="q\"uote"`) {
			t.Errorf("Link %q, want the last id with its quote escaped", link)
		}
		cursor := `q"uote`

		// Passed back as last_event_id, the cursor loses no change made
		// after the request.
		h.sub(t, q("match", "later"))
		w := h.sub(t, q("match_urlpattern", eventsPattern, "last_event_id", cursor), h.modernSub(tm(eventsPattern, "urlpattern")))
		_, d := subEvent(t, w)
		if d.Match != "later" {
			t.Errorf("first event after the cursor describes %q, want the later subscription", d.Match)
		}
	})
}

func TestAPI10_ETagRevalidation(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		tok := h.apiTok()
		w := h.watcher(t)
		h.untilMarker(t, w) // everything so far is dispatched
		res := h.call(t, Req{Path: subsPath, Token: tok})
		cursor := linkCursor(t, res)
		etag := res.Header.Get("ETag")
		if etag != `"`+cursor+`"` {
			t.Errorf("ETag %q, want the quoted cursor %q", etag, cursor)
		}
		res = h.call(t, Req{Path: subsPath, Token: tok, Header: http.Header{"If-None-Match": {etag}}})
		wantStatus(t, res, http.StatusNotModified, "If-None-Match with the current ETag")
		if res.Body != "" {
			t.Errorf("304 with a body %q", res.Body)
		}

		h.sub(t, q("match", "x"))
		_, _ = subEvent(t, w) // the change is dispatched
		res = h.call(t, Req{Path: subsPath, Token: tok, Header: http.Header{"If-None-Match": {etag}}})
		wantStatus(t, res, http.StatusOK, "If-None-Match with a stale ETag")
		if res.Header.Get("ETag") == etag {
			t.Errorf("ETag %q unchanged after a new subscription", etag)
		}
	})
}

// ---------------------------------------------------------------------------
// Legacy shapes (LEG-18..23, §2.4 points 7-8)

func TestLEG18_LegacyEventTopicAndNoOwnEvent(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		lw := h.legacyWatcher(t)
		// 0.x announces a subscription before registering it: a legacy
		// subscriber never receives its own creation event.
		if own := h.untilMarker(t, lw); len(own) != 0 {
			t.Fatalf("the legacy watcher received %d events about itself", len(own))
		}
		const selector = "https://example.com/{selector}"
		s := h.sub(t, q("topic", selector))
		ev, d := subEvent(t, lw)
		want := subsPath + "/" + url.QueryEscape(selector) + "/" + url.QueryEscape(d.Subscriber)
		if d.ID != want || !strings.HasPrefix(want, subsPath+"/https%3A%2F%2Fexample.com%2F%7Bselector%7D/urn%3Auuid%3A") {
			t.Errorf("id %q, want %q", d.ID, want)
		}
		if !uuidV4ID.MatchString(d.Subscriber) {
			t.Errorf("subscriber %q, want urn:uuid: + a v4 UUID", d.Subscriber)
		}
		wantActive(t, d, true)
		if ev.Type != "" {
			t.Errorf("event type %q: a 0.x subscription event has none (§2.4 point 7)", ev.Type)
		}
		s.Close()
		_, off := subEvent(t, lw)
		wantActive(t, off, false)
		if off.ID != d.ID {
			t.Errorf("end event id %q, want %q", off.ID, d.ID)
		}
	})
}

func TestLEG18_SpaceIsPlusAndModernEventsAreNotLegacy(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		all := h.sub(t, q("topic", "*"), h.legacySub("*"))
		if own := h.untilMarker(t, all); len(own) != 0 {
			t.Fatalf("a legacy subscriber to * received %d events about itself", len(own))
		}
		h.sub(t, q("topic", "a b", "match", "c d"))
		_, legacy := subEvent(t, all)
		if !strings.HasPrefix(legacy.ID, subsPath+"/a+b/") || legacy.Topic != "a b" {
			t.Errorf("legacy event %+v, want its topic segment a+b", legacy)
		}
		ev, modern := subEvent(t, all)
		if ev.Type != "mercure" || !strings.HasPrefix(modern.ID, subsPath+"/exact/c%20d/") {
			t.Errorf("modern event %q, want the draft-08 shape for a match parameter", ev.Raw)
		}
		// The 0.x selector does not match the three segments of draft-08
		// topics (§2.4 point 7).
		lw := h.legacyWatcher(t)
		h.sub(t, q("match", "m"))
		if got := h.untilMarker(t, lw); len(got) != 0 {
			t.Errorf("the legacy watcher received %d draft-08 events", len(got))
		}
	})
}

func TestLEG19_LegacyEventDocument(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		lw := h.legacyWatcher(t)
		h.untilMarker(t, lw)
		tok := h.legacy(h.subKey, map[string]any{"payload": map[string]any{"user": "https://example.com/users/dunglas"}})
		h.sub(t, q("topic", "https://example.com/books/{id}"), tok)
		ev, d := subEvent(t, lw)
		want := "{\n" +
			`  "@context": "https://mercure.rocks/",` + "\n" +
			`  "id": "` + d.ID + `",` + "\n" +
			`  "type": "Subscription",` + "\n" +
			`  "subscriber": "` + d.Subscriber + `",` + "\n" +
			`  "topic": "https://example.com/books/{id}",` + "\n" +
			`  "active": true,` + "\n" +
			`  "payload": {` + "\n" +
			`    "user": "https://example.com/users/dunglas"` + "\n" +
			`  }` + "\n" +
			"}"
		if ev.DataString() != want {
			t.Errorf("data\n%s\nwant\n%s", ev.DataString(), want)
		}
	})
}

func TestLEG20_LegacyListenerNeedsTheSelectorInItsToken(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		noGrant := h.sub(t, q("topic", legacyEventsSelector, "topic", marker), h.legacySub("https://example.com/other"))
		lw := h.legacyWatcher(t)
		h.untilMarker(t, lw)
		h.sub(t, q("topic", "t"))
		_, _ = subEvent(t, lw)
		if got := h.untilMarker(t, noGrant); len(got) != 0 {
			t.Errorf("a legacy listener without the selector in mercure.subscribe received %d events", len(got))
		}
	})
}

func TestLEG21_LEG23_LegacyAPI(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		lw := h.legacyWatcher(t)
		h.untilMarker(t, lw)
		payload := map[string]any{"room": "lobby"}
		h.sub(t, q("topic", "https://example.com/rooms/{id}", "match", "modern"), h.legacy(h.subKey, map[string]any{"payload": payload}))
		_, ev := subEvent(t, lw)
		tok := h.legacySub(legacyEventsSelector)

		// Collection: JSON-LD, the cursor in the body, a raw ETag, no Link.
		res := h.call(t, Req{Path: subsPath, Token: tok})
		wantStatus(t, res, http.StatusOK, "GET "+subsPath)
		if ct := res.Header.Get("Content-Type"); ct != "application/ld+json" {
			t.Errorf("Content-Type %q, want application/ld+json", ct)
		}
		if got, want := keys(t, res.Body), []string{"@context", "id", "type", "lastEventID", "subscriptions"}; !reflect.DeepEqual(got, want) {
			t.Errorf("members %q, want %q", got, want)
		}
		coll := decode[collDoc](t, res.Body)
		if coll.Context != "https://mercure.rocks/" || coll.ID != subsPath || coll.Type != "Subscriptions" {
			t.Errorf("collection %+v", coll)
		}
		if coll.LastEventID == "" || res.Header.Get("ETag") != coll.LastEventID {
			t.Errorf("ETag %q, want the raw lastEventID %q", res.Header.Get("ETag"), coll.LastEventID)
		}
		if l := res.Header.Get("Link"); l != "" {
			t.Errorf("Link %q on a 0.x response", l)
		}
		// The watcher's 2 and the room; the draft-08 subscription is not
		// in the legacy list.
		var topics []string
		for _, d := range coll.Subscriptions {
			topics = append(topics, d.Topic)
			if d.Context != "" || d.Type != "Subscription" || d.MatchType != "" {
				t.Errorf("item %+v, want a 0.x item without @context", d)
			}
		}
		if want := []string{legacyEventsSelector, marker, "https://example.com/rooms/{id}"}; !reflect.DeepEqual(topics, want) {
			t.Errorf("listed topics %q, want %q", topics, want)
		}
		wantStatus(t, h.call(t, Req{Path: subsPath, Token: tok, Header: http.Header{"If-None-Match": {coll.LastEventID}}}), http.StatusNotModified, "If-None-Match with the raw ETag")

		// Filtered by selector.
		byTopic := subsPath + "/" + url.QueryEscape("https://example.com/rooms/{id}")
		res = h.call(t, Req{Path: byTopic, Token: tok})
		wantStatus(t, res, http.StatusOK, "GET "+byTopic)
		if c := decode[collDoc](t, res.Body); len(c.Subscriptions) != 1 || c.Subscriptions[0].ID != ev.ID || c.ID != byTopic {
			t.Errorf("collection by selector %+v, want only %q", c, ev.ID)
		}

		// Single: the event document plus lastEventID.
		res = h.call(t, Req{Path: ev.ID, Token: tok})
		wantStatus(t, res, http.StatusOK, "GET "+ev.ID)
		if got, want := keys(t, res.Body), []string{"@context", "id", "type", "subscriber", "topic", "active", "lastEventID", "payload"}; !reflect.DeepEqual(got, want) {
			t.Errorf("members %q, want %q", got, want)
		}
		single := decode[subDoc](t, res.Body)
		if single.ID != ev.ID || single.Subscriber != ev.Subscriber || string(single.Payload) != `{"room":"lobby"}` || single.LastEventID == "" {
			t.Errorf("single %+v", single)
		}
		wantStatus(t, h.call(t, Req{Path: subsPath + "/nothing/" + url.QueryEscape(ev.Subscriber), Token: tok}), http.StatusNotFound, "unknown legacy subscription")

		// Empty list.
		res = h.call(t, Req{Path: subsPath + "/nobody", Token: tok})
		if !strings.Contains(res.Body, `"subscriptions":[]`) {
			t.Errorf("empty legacy collection %s", res.Body)
		}
	})
}

func TestLEG22_LegacyAPIAuthorizationIncludesTheQuery(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		tok := h.legacySub(legacyEventsSelector)
		wantStatus(t, h.call(t, Req{Path: subsPath, Token: tok}), http.StatusOK, "selector matching the path")
		wantAuthError(t, h.call(t, Req{Path: subsPath, Query: "x=1", Token: tok}), http.StatusForbidden, "insufficient_scope", "selector not matching path and query")
		wild := h.legacySub("*")
		res := h.call(t, Req{Path: subsPath, Query: "x=1", Token: wild})
		wantStatus(t, res, http.StatusOK, "* selector")
		if c := decode[collDoc](t, res.Body); c.ID != subsPath+"?x=1" {
			t.Errorf("legacy collection id %q, want the request URI with its query", c.ID)
		}
		wantAuthError(t, h.call(t, Req{Path: subsPath, Token: h.legacy(h.subKey, map[string]any{"payload": 1})}), http.StatusForbidden, "insufficient_scope", "no mercure.subscribe")
		wantAuthError(t, h.call(t, Req{Path: subsPath}), http.StatusUnauthorized, "", "no token")
	})
}

func TestLEG22_ShapeByTokenForTheRootAndByRouteElsewhere(t *testing.T) {
	t.Parallel()
	each(t, subsAnon, func(t *testing.T, h *Harness) {
		h.sub(t, q("topic", "legacy-topic", "match", "modern-topic"))
		modern := decode[collDoc](t, h.call(t, Req{Path: subsPath, Token: h.modernSub("*")}).Body)
		if modern.Type != "subscriptions" || len(modern.Subscriptions) != 1 || modern.Subscriptions[0].Match != "modern-topic" {
			t.Errorf("root with a draft-08 token: %+v, want the draft-08 list of the match subscription", modern)
		}
		legacy := decode[collDoc](t, h.call(t, Req{Path: subsPath, Token: h.legacySub("*")}).Body)
		if legacy.Type != "Subscriptions" || len(legacy.Subscriptions) != 1 || legacy.Subscriptions[0].Topic != "legacy-topic" {
			t.Errorf("root with a 0.x token: %+v, want the 0.x list of the topic subscription", legacy)
		}
		// A draft-08 route answers in its shape whatever the token.
		res := h.call(t, Req{Path: subsPath + "/exact/modern-topic", Token: h.legacySub("*")})
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("draft-08 route with a 0.x token: Content-Type %q", ct)
		}
	})
}

func TestLEG22_PrivateHubRefusesBadTokens(t *testing.T) {
	t.Parallel()
	each(t, subsPrivate, func(t *testing.T, h *Harness) {
		wantAuthError(t, h.call(t, Req{Path: subsPath}), http.StatusUnauthorized, "", "no token")
		wantStatus(t, h.call(t, Req{Path: subsPath, Token: h.legacySub("*")}), http.StatusOK, "legacy * token")
	})
}
