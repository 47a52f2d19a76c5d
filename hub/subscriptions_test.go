package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/memory"
)

func TestEVT4_SegmentEncodedOnceAsAWhole(t *testing.T) {
	for in, want := range map[string]string{
		"a%b c":                       "a%25b%20c",
		"a%25b%20c":                   "a%2525b%2520c", // already encoded: encoded again, as a string
		"https://e.com/x":             "https%3A%2F%2Fe.com%2Fx",
		"https://e.com/:selector":     "https%3A%2F%2Fe.com%2F%3Aselector",
		"urn:uuid:bb3de268":           "urn%3Auuid%3Abb3de268",
		"AZaz09-._~":                  "AZaz09-._~",
		"a+b":                         "a%2Bb",
		"é":                           "%C3%A9",
		"*":                           "%2A",
		"{id}?q=1&r=2#f":              "%7Bid%7D%3Fq%3D1%26r%3D2%23f",
		"/.well-known/mercure/x/../y": "%2F.well-known%2Fmercure%2Fx%2F..%2Fy",
	} {
		if got := escapeSegment(in); got != want {
			t.Errorf("escapeSegment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLEG18_LegacySegmentIsQueryEscape(t *testing.T) {
	for in, want := range map[string]string{
		"a b":                         "a+b",
		"a+b":                         "a%2Bb",
		"https://example.com/{sel}":   "https%3A%2F%2Fexample.com%2F%7Bsel%7D",
		"urn:uuid:bb3de268-05b0-4c65": "urn%3Auuid%3Abb3de268-05b0-4c65",
	} {
		if got := legacyEscapeSegment(in); got != want {
			t.Errorf("legacyEscapeSegment(%q) = %q, want %q", in, got, want)
		}
	}
}

const testSubscriberID = "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6"

func testSubscriber(t testing.TB, grant *auth.Grant, ms ...*topic.Matcher) *subscriber {
	s := newSubscriber(ms, grant, 1<<20)
	s.id = testSubscriberID
	return s
}

func TestEVT2_TopicByGeneration(t *testing.T) {
	cases := []struct {
		m    *topic.Matcher
		want string
	}{
		{mustMatcher(t, topic.TypeExact, "https://e.com/x"),
			"/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fe.com%2Fx/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"},
		{mustMatcher(t, topic.TypeURLPattern, "https://example.com/:selector"),
			"/.well-known/mercure/subscriptions/urlpattern/https%3A%2F%2Fexample.com%2F%3Aselector/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"},
		{mustMatcher(t, topic.TypeExact, "a b"),
			"/.well-known/mercure/subscriptions/exact/a%20b/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"},
		// LEG-18: two segments, QueryEscape.
		{mustMatcher(t, topic.TypeLegacy, "https://example.com/{selector}"),
			"/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2F%7Bselector%7D/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"},
		{mustMatcher(t, topic.TypeLegacy, "a b"),
			"/.well-known/mercure/subscriptions/a+b/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"},
	}
	for _, c := range cases {
		if got := subscriptionTopic(c.m, testSubscriberID); got != c.want {
			t.Errorf("%s %q: topic %q, want %q", c.m.Type(), c.m.Pattern(), got, c.want)
		}
	}
}

func TestEVT6_EVT8_ModernEventShape(t *testing.T) {
	m := mustMatcher(t, topic.TypeURLPattern, "https://example.com/:selector")
	s := testSubscriber(t, nil, m)
	ev, err := subscriptionEvent(s, m, true)
	if err != nil {
		t.Fatal(err)
	}
	wantTopic := "/.well-known/mercure/subscriptions/urlpattern/https%3A%2F%2Fexample.com%2F%3Aselector/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"
	if len(ev.Topics) != 1 || ev.Topics[0] != wantTopic {
		t.Errorf("topics %q, want [%q]", ev.Topics, wantTopic)
	}
	if !ev.Private {
		t.Error("the event is public, want private (EVT-7)")
	}
	if ev.Type != "mercure" {
		t.Errorf("type %q, want mercure (EVT-8)", ev.Type)
	}
	if !strings.HasPrefix(ev.ID, "urn:uuid:") {
		t.Errorf("id %q, want a urn:uuid", ev.ID)
	}
	// Key order, 2-space indent, no payload for an anonymous grant.
	wantData := `{
  "id": "` + wantTopic + `",
  "type": "subscription",
  "subscriber": "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
  "match": "https://example.com/:selector",
  "match_type": "urlpattern",
  "active": true
}`
	if ev.Data != wantData {
		t.Errorf("data\n%s\nwant\n%s", ev.Data, wantData)
	}
	if !strings.HasPrefix(string(ev.Frame), "event: mercure\nid: "+ev.ID+"\ndata: {\n") {
		t.Errorf("frame %q does not start with the event type, the id and the first data line", ev.Frame)
	}

	ended, err := subscriptionEvent(s, m, false)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(ended.Data), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["active"] != false || doc["id"] != wantTopic {
		t.Errorf("end event %v, want active false and id %q", doc, wantTopic)
	}
	if ended.ID == ev.ID {
		t.Error("two events share an id")
	}
}

func TestLEG19_LegacyEventShape(t *testing.T) {
	m := mustMatcher(t, topic.TypeLegacy, "https://example.com/{selector}")
	grant := &auth.Grant{Payload: json.RawMessage(`{"user":"https://example.com/users/dunglas","n":1}`)}
	s := testSubscriber(t, grant, m)
	ev, err := subscriptionEvent(s, m, true)
	if err != nil {
		t.Fatal(err)
	}
	wantTopic := "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2F%7Bselector%7D/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"
	if len(ev.Topics) != 1 || ev.Topics[0] != wantTopic {
		t.Errorf("topics %q, want [%q]", ev.Topics, wantTopic)
	}
	if !ev.Private || ev.Type != "" {
		t.Errorf("private %v, type %q: want private and no type (§2.4 point 7)", ev.Private, ev.Type)
	}
	wantData := `{
  "@context": "https://mercure.rocks/",
  "id": "` + wantTopic + `",
  "type": "Subscription",
  "subscriber": "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
  "topic": "https://example.com/{selector}",
  "active": true,
  "payload": {
    "user": "https://example.com/users/dunglas",
    "n": 1
  }
}`
	if ev.Data != wantData {
		t.Errorf("data\n%s\nwant\n%s", ev.Data, wantData)
	}
	if !strings.HasPrefix(string(ev.Frame), "id: ") {
		t.Errorf("frame %q: want no event line", ev.Frame)
	}
}

func TestParseSubscriptionsPath(t *testing.T) {
	const p = subscriptionsPath
	ok := []struct {
		path string
		want apiRequest
	}{
		{p, apiRequest{root: true}},
		{p + "/exact/a%20b", apiRequest{matchType: "exact", match: "a b"}},
		{p + "/urlpattern/https%3A%2F%2Fe.com%2F%3Ax", apiRequest{matchType: "urlpattern", match: "https://e.com/:x"}},
		{p + "/exact/a+b/urn%3Auuid%3A1", apiRequest{matchType: "exact", match: "a+b", subscriber: "urn:uuid:1"}},
		{p + "/exact/a%2525b", apiRequest{matchType: "exact", match: "a%25b"}},
		// Legacy: one segment, or two whose first is not a matcher type.
		{p + "/a+b", apiRequest{legacy: true, match: "a b"}},
		{p + "/exact", apiRequest{legacy: true, match: "exact"}},
		{p + "/https%3A%2F%2Fe.com%2F%7Bid%7D/urn%3Auuid%3A1", apiRequest{legacy: true, match: "https://e.com/{id}", subscriber: "urn:uuid:1"}},
		{p + "/Exact/x", apiRequest{legacy: true, match: "Exact", subscriber: "x"}},
	}
	for _, c := range ok {
		got, err := parseSubscriptionsPath(c.path)
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
			continue
		}
		if got != c.want {
			t.Errorf("%q: %+v, want %+v", c.path, got, c.want)
		}
	}
	bad := []struct {
		path   string
		status int
	}{
		{p + "/", http.StatusBadRequest},
		{p + "/exact//x", http.StatusBadRequest},
		{p + "/Exact/x/y", http.StatusBadRequest}, // match types are case-sensitive
		{p + "/other/x/y", http.StatusBadRequest},
		{p + "/exact/%zz", http.StatusBadRequest},
		{p + "/%zz", http.StatusBadRequest},
		{p + "/a/b/c/d", http.StatusNotFound},
		{p + "x", http.StatusNotFound},
		{"/elsewhere", http.StatusNotFound},
	}
	for _, c := range bad {
		_, err := parseSubscriptionsPath(c.path)
		var re *requestError
		if !errors.As(err, &re) || re.status != c.status {
			t.Errorf("%q: error %v, want status %d", c.path, err, c.status)
		}
	}
}

func TestAPI10_IfNoneMatch(t *testing.T) {
	const tag = `"urn:uuid:1"`
	for _, c := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{tag}, true},
		{[]string{`W/"urn:uuid:1"`}, true},
		{[]string{`"x", "urn:uuid:1"`}, true},
		{[]string{`"x"`, tag}, true},
		{[]string{`"a,b" , W/"urn:uuid:1"`}, true},
		{[]string{"*"}, true},
		{[]string{" * "}, true},
		{[]string{"*x"}, false},
		{[]string{`"urn:uuid:2"`}, false},
		{[]string{`urn:uuid:1`}, false}, // unquoted: not an entity tag
		{[]string{`"urn:uuid:1`}, false},
		{[]string{`garbage, "urn:uuid:1"`}, false},
		{[]string{`""`}, false},
	} {
		if got := ifNoneMatch(c.values, tag); got != c.want {
			t.Errorf("If-None-Match %q: %v, want %v", c.values, got, c.want)
		}
	}
}

func TestAPI10_ETagAndLinkValues(t *testing.T) {
	if got := etagEscape(`a"b%c d` + "\x7f\u00e9"); got != "a%22b%25c%20d%7F\u00e9" {
		t.Errorf("etagEscape: %q", got)
	}
	if got := etagEscape("urn:uuid:5e94c686"); got != "urn:uuid:5e94c686" {
		t.Errorf("etagEscape changed a plain id: %q", got)
	}
	if got := quoteString(`a"b\c` + "\r\n"); got != `"a\"b\\c"` {
		t.Errorf("quoteString: %q", got)
	}
	if got := headerSafe("a b\r\nc"); got != "a b%0D%0Ac" {
		t.Errorf("headerSafe: %q", got)
	}
}

func TestActiveSubscriptionsListOldestFirst(t *testing.T) {
	var a activeSubscriptions
	m := mustMatcher(t, topic.TypeExact, "x")
	s1, s2, s3 := newSubscriber([]*topic.Matcher{m}, nil, 1), newSubscriber([]*topic.Matcher{m}, nil, 1), newSubscriber([]*topic.Matcher{m}, nil, 1)
	if s1.id == s2.id || !strings.HasPrefix(s1.id, "urn:uuid:") {
		t.Fatalf("subscriber ids %q and %q: want distinct urn:uuid ids (EVT-3)", s1.id, s2.id)
	}
	a.add(s1)
	a.add(s2)
	a.add(s3)
	a.add(s2) // idempotent
	if !a.remove(s2) || a.remove(s2) {
		t.Error("remove: want true once, then false")
	}
	got := a.snapshot()
	if len(got) != 2 || got[0] != s1 || got[1] != s3 {
		t.Errorf("snapshot %v, want [s1 s3]", got)
	}
	if a.get(s3.id) != s3 || a.get(s2.id) != nil {
		t.Error("get does not follow the list")
	}
}

// replayOnly is a transport whose history holds one event and which serves
// Replay only: enough for the cursor of a hub that has not dispatched
// anything since it started.
type replayOnly struct {
	transport.Transport
	last *transport.Event
}

func (r replayOnly) Replay(_ context.Context, after, until uint64, fn func(*transport.Event) error) error {
	if r.last != nil && after < r.last.Seq && r.last.Seq <= until {
		return fn(r.last)
	}
	return nil
}

func TestAPI7_CursorAfterRestartIsNewestStoredEvent(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &Hub{
		cfg: Config{Transport: replayOnly{last: &transport.Event{Seq: 7, ID: "stored-7"}}},
		log: discard,
		reg: newRegistry(7),
	}
	if got := h.apiCursor(context.Background()); got != "stored-7" {
		t.Errorf("cursor %q, want the newest stored id", got)
	}
	h.reg.dispatch(&transport.Event{Seq: 8, ID: "live-8", Topics: []string{"t"}})
	if got := h.apiCursor(context.Background()); got != "live-8" {
		t.Errorf("cursor %q after a dispatch, want live-8", got)
	}

	empty := &Hub{cfg: Config{Transport: replayOnly{}}, log: discard, reg: newRegistry(0)}
	if got := empty.apiCursor(context.Background()); got != "earliest" {
		t.Errorf("cursor of an empty hub %q, want earliest", got)
	}
	gone := &Hub{cfg: Config{Transport: replayOnly{}}, log: discard, reg: newRegistry(3)}
	if got := gone.apiCursor(context.Background()); got != "earliest" {
		t.Errorf("cursor when the newest event is gone %q, want earliest", got)
	}
}

// grantAuth hands out the grant registered for the Authorization header
// value; no header is anonymous, an unknown one is an invalid token.
type grantAuth map[string]*auth.Grant

func (a grantAuth) Authenticate(r *http.Request, _ auth.Role) (*auth.Grant, error) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return nil, nil
	}
	if g, ok := a[v]; ok {
		return g, nil
	}
	return nil, &auth.Error{Status: http.StatusUnauthorized, Code: auth.CodeInvalidToken}
}

func (grantAuth) ResourceID() string { return "http://hub.test" + Path }

func newSubscriptionsHub(t *testing.T, enabled bool, grants grantAuth) (*Hub, *httptest.Server) {
	t.Helper()
	return serveHub(t, Config{
		Transport:     memory.New(memory.Options{Size: 100}),
		Auth:          grants,
		Anonymous:     true,
		Subscriptions: enabled,
		Heartbeat:     -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func apiGet(t *testing.T, u, authorization string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirect following
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestACT1_DisabledAPIIs404AndEmitsNothing(t *testing.T) {
	all := &auth.Grant{Modern: true, Subscribe: []*topic.Matcher{mustMatcher(t, topic.TypeExact, "*")}}
	h, srv := newSubscriptionsHub(t, false, grantAuth{"Bearer all": all})
	for _, p := range []string{subscriptionsPath, subscriptionsPath + "/exact/https%3A%2F%2Fe.com%2Fx"} {
		if resp := apiGet(t, srv.URL+p, "Bearer all"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s with the feature off: %d, want 404", p, resp.StatusCode)
		}
	}
	resp := apiGet(t, srv.URL+Path+"?match=x", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	resp.Body.Close()
	if n := h.cfg.Transport.LastSeq(); n != 0 {
		t.Errorf("the transport holds %d events, want none with the feature off", n)
	}
}

func TestAPI2_EncodedSlashesAreNotRedirected(t *testing.T) {
	all := &auth.Grant{Modern: true, Subscribe: []*topic.Matcher{mustMatcher(t, topic.TypeExact, "*")}}
	_, srv := newSubscriptionsHub(t, true, grantAuth{"Bearer all": all})
	resp := apiGet(t, srv.URL+subscriptionsPath+"/exact/https%3A%2F%2Fe.com%2Fx", "Bearer all")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d (Location %q), want 200", resp.StatusCode, resp.Header.Get("Location"))
	}
	var doc subscriptionsDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != subscriptionsPath+"/exact/https%3A%2F%2Fe.com%2Fx" || doc.Type != "subscriptions" || doc.Subscriptions == nil {
		t.Errorf("document %+v", doc)
	}
	if resp := apiGet(t, srv.URL+subscriptionsPath, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token on an anonymous hub: %d, want 401 (API-3)", resp.StatusCode)
	}
}

// keptEvents returns the subscription events the hub keeps.
// keptEvents returns the kept subscription events, each with its data
// read back from its frame: the log keeps no data of its own
// (stateLog.push), only what it sends.
func keptEvents(h *Hub) []*transport.Event {
	h.reg.mu.Lock()
	kept := h.reg.state.since(stateFrom{ok: true})
	h.reg.mu.Unlock()
	out := make([]*transport.Event, 0, len(kept))
	for _, ev := range kept {
		c := *ev
		var data []string
		for _, line := range strings.Split(string(ev.Frame), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				data = append(data, d)
			}
		}
		c.Data = strings.Join(data, "\n")
		out = append(out, &c)
	}
	return out
}

func TestLEG18_SubscriptionLifecycleEvents(t *testing.T) {
	all := &auth.Grant{Modern: true, Subscribe: []*topic.Matcher{mustMatcher(t, topic.TypeExact, "*")}}
	h, srv := newSubscriptionsHub(t, true, grantAuth{"Bearer all": all})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+Path+"?topic=a+b&match=x", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Two creation events are emitted once the headers are out: legacy
	// before registration, modern after.
	if n := len(keptEvents(h)); n != 2 {
		t.Errorf("%d events after subscribing, want 2", n)
	}
	cancel()
	resp.Body.Close()
	// The end events are emitted once the hub notices the disconnect.
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(keptEvents(h)) < 4 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d events, want 4: no end events", len(keptEvents(h)))
		}
	}
	var got []string
	for _, ev := range keptEvents(h) {
		var doc struct {
			Type   string `json:"type"`
			Active bool   `json:"active"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &doc); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type+"/"+doc.Type+"/"+map[bool]string{true: "on", false: "off"}[doc.Active])
	}
	want := "/Subscription/on mercure/subscription/on /Subscription/off mercure/subscription/off"
	if strings.Join(got, " ") != want {
		t.Errorf("events %q, want %q", strings.Join(got, " "), want)
	}
	// State, not history (issue 10 finding 3): nothing reached the
	// transport.
	if n := h.cfg.Transport.LastSeq(); n != 0 {
		t.Errorf("the transport holds %d events, want none", n)
	}
}

func FuzzParseSubscriptionsPath(f *testing.F) {
	for _, s := range []string{
		subscriptionsPath, subscriptionsPath + "/", subscriptionsPath + "/exact/a%20b/urn%3Auuid%3A1",
		subscriptionsPath + "/a+b/c", subscriptionsPath + "/%zz", subscriptionsPath + "/urlpattern/x",
		subscriptionsPath + "/a/b/c/d/e", "/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		req, err := parseSubscriptionsPath(path)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || (re.status != http.StatusBadRequest && re.status != http.StatusNotFound) {
				t.Fatalf("%q: error %v, want a 400 or 404", path, err)
			}
			return
		}
		if !req.root && req.match == "" {
			t.Fatalf("%q: no matcher in %+v", path, req)
		}
		if !req.root && req.legacy == (req.matchType != "") {
			t.Fatalf("%q: inconsistent generation in %+v", path, req)
		}
		// A modern single subscription path round-trips through the
		// event topic encoding.
		if !req.legacy && req.subscriber != "" {
			want := subscriptionsPath + "/" + req.matchType + "/" + escapeSegment(req.match) + "/" + escapeSegment(req.subscriber)
			again, err := parseSubscriptionsPath(want)
			if err != nil || again != req {
				t.Fatalf("%q: re-encoded as %q parses to %+v, %v", path, want, again, err)
			}
		}
	})
}

func FuzzIfNoneMatch(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a", "b"`, "*", `"a`, "", `,,"a"`, `*, "x"`} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, header, id string) {
		etag := `"` + etagEscape(id) + `"`
		// Must not panic; the exact tag, alone or listed, always matches.
		_ = ifNoneMatch([]string{header}, etag)
		if !ifNoneMatch([]string{etag}, etag) || !ifNoneMatch([]string{`"other", ` + etag}, etag) {
			t.Fatalf("tag %q not matched by itself", etag)
		}
	})
}

func FuzzEscapeSegment(f *testing.F) {
	for _, s := range []string{"a%b c", "https://e.com/x?y#z", "é", "+", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escapeSegment(s)
		for i := 0; i < len(e); i++ {
			c := e[i]
			if c == '%' {
				if i+2 >= len(e) || strings.IndexByte(upperHex, e[i+1]) < 0 || strings.IndexByte(upperHex, e[i+2]) < 0 {
					t.Fatalf("%q -> %q: bad escape at %d", s, e, i)
				}
				i += 2
				continue
			}
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
				t.Fatalf("%q -> %q: byte %q left unencoded", s, e, c)
			}
		}
		if back, err := url.PathUnescape(e); err != nil || back != s {
			t.Fatalf("%q -> %q -> %q, %v", s, e, back, err)
		}
		if back, err := url.QueryUnescape(legacyEscapeSegment(s)); err != nil || back != s {
			t.Fatalf("legacy %q -> %q, %v", s, back, err)
		}
	})
}

// TestStateLogKeepsTheLatestWithinBounds (issue 10 finding 3): the kept
// subscription events are bounded in number and bytes, oldest dropped
// first, and a cursor selects those after it.
func TestStateLogKeepsTheLatestWithinBounds(t *testing.T) {
	l := stateLog{maxEvents: 3, maxBytes: 1 << 20}
	ev := func(id string, size int) *transport.Event {
		return &transport.Event{ID: id, Topics: []string{"t"}, Frame: make([]byte, size)}
	}
	for i := range 5 {
		l.push(ev(fmt.Sprint(i), 10), uint64(i))
	}
	ids := func(evs []*transport.Event) string {
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return strings.Join(out, ",")
	}
	if got := ids(l.since(stateFrom{ok: true})); got != "2,3,4" {
		t.Fatalf("kept %q, want the latest three", got)
	}
	if _, _, ok := l.lookup("1"); ok {
		t.Error("a dropped event is still found")
	}
	n, _, ok := l.lookup("3")
	if !ok || ids(l.since(stateFrom{ok: true, afterN: n})) != "4" {
		t.Errorf("after event 3: %q", ids(l.since(stateFrom{ok: true, afterN: n})))
	}
	if got := ids(l.since(stateFrom{ok: true, fromPos: 3})); got != "3,4" {
		t.Errorf("emitted at or after update 3: %q", got)
	}
	if l.since(stateFrom{}) != nil {
		t.Error("no cursor selects something")
	}
	// Bytes: one large event pushes out the others, but is kept itself.
	l.push(ev("big", 2<<20), 9)
	if got := ids(l.since(stateFrom{ok: true})); got != "big" || l.bytes != entrySize(l.entries[0].ev) {
		t.Errorf("after a large event: kept %q, %d bytes", got, l.bytes)
	}
}
