package spectests_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
)

// Section 2.3 of the checklist: what legacy (0.x) clients rely on (LEG), and
// the rules of §2.4 for serving both generations from one hub.

func TestLEG1_TopicParametersSubscribe(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("topic", topicA, "topic", topicB))
		a := h.publish(t, "topic", topicA)
		h.publish(t, "topic", "https://example.com/c")
		b := h.publish(t, "topic", topicB)
		s.expectIDs(t, a, b)
	})
}

func TestLEG1_NoTopicAndNoMatchIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.call(t, Req{}), http.StatusBadRequest, "GET without parameters")
		wantStatus(t, h.call(t, Req{Query: "foo=bar"}), http.StatusBadRequest, "GET with an unrelated parameter only")
		wantStatus(t, h.call(t, Req{Query: q("last_event_id", "earliest")}), http.StatusBadRequest, "GET with a cursor only")
	})
}

func TestLEG1_NoTopicWithoutTokenIs401OnPrivateHub(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		// Authorization comes before parameter validation.
		wantAuthError(t, h.call(t, Req{}), http.StatusUnauthorized, "", "GET without parameters nor token")
	})
}

func TestLEG1_UpTo1000TopicParameters(t *testing.T) {
	t.Parallel()
	params := func(n int) string {
		kv := make([]string, 0, 2*n)
		for i := range n {
			kv = append(kv, "topic", fmt.Sprintf("https://example.com/t/%d", i))
		}
		return q(kv...)
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		// 0.x accepted 1000 selectors, far more than the 100 match
		// parameters of draft-08 (§2.4 rule 1, pitfall 27).
		s := h.sub(t, params(1000))
		id := h.publish(t, "topic", "https://example.com/t/999")
		s.expectIDs(t, id)
		wantStatus(t, h.call(t, Req{Query: params(1001)}), http.StatusBadRequest, "1001 topic parameters")
	})
}

func TestLEG1_DuplicateTopicsDeliverOnce(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("topic", topicA, "topic", topicA, "topic", "*"))
		a := h.publish(t, "topic", topicA)
		b := h.publish(t, "topic", topicA)
		s.expectIDs(t, a, b)
	})
}

func TestLEG2_SelectorMatching(t *testing.T) {
	t.Parallel()
	const tmpl = "https://example.com/books/{id}"
	each(t, anon, func(t *testing.T, h *Harness) {
		wild := h.sub(t, q("topic", "*"))
		template := h.sub(t, q("topic", tmpl, "topic", "marker"))
		broken := h.sub(t, q("topic", "https://example.com/{foo", "topic", "marker"))
		exact := h.sub(t, q("topic", "https://example.com/Books/1", "topic", "marker"))

		itself := h.publish(t, "topic", tmpl)
		one := h.publish(t, "topic", "https://example.com/books/1")
		brokenItself := h.publish(t, "topic", "https://example.com/{foo")
		h.publish(t, "topic", "https://example.com/{foo}")
		marker := h.publish(t, "topic", "marker")

		wild.expectIDs(t, itself, one, brokenItself)
		template.expectIDs(t, itself, one, marker)
		broken.expectIDs(t, brokenItself, marker)
		exact.expectIDs(t, marker)
	})
}

func TestLEG3_URITemplateSemantics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		selector string
		match    []string
		noMatch  []string
	}{
		{
			selector: "https://example.com/books/{id}",
			match:    []string{"https://example.com/books/1", "https://example.com/books/a,b", "https://example.com/books/", "https://example.com/books/%C3%A9", "https://example.com/books/a-b._~"},
			noMatch:  []string{"https://example.com/books/1/2", "https://example.com/books/1?x=y", "https://example.com/books/é", "https://example.com/books/a:b", "https://example.com/books"},
		},
		{
			selector: "https://example.com/users/foo/{?topic}",
			// The library's regex does not check the variable's name: any
			// single name=value pair matches, as it did in 0.x.
			match:   []string{"https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1", "https://example.com/users/foo/", "https://example.com/users/foo/?other=1"},
			noMatch: []string{"https://example.com/users/bar/?topic=x", "https://example.com/users/foo/?topic=a/b", "https://example.com/users/foo/?a=1&b=2"},
		},
		{
			selector: "https://example.com/{+path}",
			match:    []string{"https://example.com/a/b?c=d", "https://example.com/"},
			noMatch:  []string{"https://other.example/a"},
		},
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, c := range cases {
			s := h.sub(t, q("topic", c.selector, "topic", "marker"))
			var want []string
			for _, topic := range c.match {
				want = append(want, h.publish(t, "topic", topic))
			}
			for _, topic := range c.noMatch {
				h.publish(t, "topic", topic)
			}
			want = append(want, h.publish(t, "topic", "marker"))
			t.Run(c.selector, func(t *testing.T) { s.expectIDs(t, want...) })
			s.Close()
		}
	})
}

func TestLEG4_PrivateDeliveryThroughTheAlternateTopicTrick(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("topic", "https://example.com/books/{id}"), h.legacySub("https://example.com/users/foo/{?topic}"))
		anonymous := h.sub(t, q("topic", "https://example.com/books/{id}"))
		noSubscribeKey := h.sub(t, q("topic", "https://example.com/books/{id}"), h.legacy(h.subKey, map[string]any{"publish": []any{"*"}}))

		delivered := h.publish(t, "topic", "https://example.com/books/1",
			"topic", "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1", "private", "on")
		h.publish(t, "topic", "https://example.com/books/1", "private", "on")
		marker := h.publish(t, "topic", "https://example.com/books/2")
		s.expectIDs(t, delivered, marker)
		anonymous.expectIDs(t, marker)
		noSubscribeKey.expectIDs(t, marker)
	})
}

func TestLEG5_InvalidTokenIsNotDowngradedToAnonymous(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		expired := h.signSub(legacyHeader, claims{"exp": time.Now().Add(-time.Minute).Unix(), "mercure": map[string]any{"subscribe": []any{"*"}}})
		res := h.call(t, Req{Query: q("topic", topicA), Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: expired}}})
		wantStatus(t, res, http.StatusUnauthorized, "expired cookie on an anonymous hub")
		badSig := h.legacy([]byte("not the subscriber key, not it!!"), map[string]any{"subscribe": []any{"*"}})
		wantStatus(t, h.call(t, Req{Query: q("topic", topicA), Token: badSig}), http.StatusUnauthorized, "bad signature on an anonymous hub")
		wantStatus(t, h.call(t, Req{Query: q("topic", topicA)}), http.StatusOK, "no token on an anonymous hub")
	})
}

func TestLEG6_TokenPresentations(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		tok := h.legacySub(topicA)
		for what, r := range map[string]Req{
			"header":              {Query: q("topic", topicA), Token: tok},
			"authorization query": {Query: q("topic", topicA, "authorization", tok)},
			"legacy cookie":       {Query: q("topic", topicA), Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: tok}}},
		} {
			s := h.subscribe(t, r)
			private := h.publish(t, "topic", topicA, "private", "on")
			t.Run(what, func(t *testing.T) { s.expectIDs(t, private) })
			s.Close()
		}
	})
}

func TestLEG6_HeaderBeatsQueryBeatsCookie(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		granted := h.legacySub(topicA)
		notGranted := h.legacySub(topicB)
		for what, r := range map[string]Req{
			"header over query":  {Query: q("topic", topicA, "authorization", granted), Token: notGranted},
			"header over cookie": {Query: q("topic", topicA), Token: notGranted, Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: granted}}},
			"query over cookie":  {Query: q("topic", topicA, "authorization", notGranted), Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: granted}}},
		} {
			s := h.subscribe(t, r)
			h.publish(t, "topic", topicA, "private", "on")
			marker := h.publish(t, "topic", topicA)
			t.Run(what, func(t *testing.T) { s.expectIDs(t, marker) })
			s.Close()
		}
		// A malformed header is an error, not a reason to try the cookie.
		res := h.call(t, Req{Query: q("topic", topicA), Header: http.Header{"Authorization": {"Basic eHl6"}},
			Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: granted}}})
		if res.Status/100 == 2 {
			t.Errorf("malformed header with a valid cookie: status %d, want an error", res.Status)
		}
	})
}

func TestLEG8_LaravelTokenWithoutExpPublishes(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		laravel := signHMAC(h.pubKey, map[string]any{"alg": "HS256"}, claims{"mercure": map[string]any{"publish": []any{"*"}}})
		wantStatus(t, h.publishAs(t, laravel, "topic", topicA, "data", "{}"), http.StatusOK, "Laravel publisher token")
		docs := signHMAC(h.pubKey, map[string]any{"alg": "HS256"}, claims{"mercure": map[string]any{
			"publish":   []any{"*"},
			"subscribe": []any{"https://example.com/my-private-topic", "{scheme}://{+host}/demo/books/{id}.jsonld"},
			"payload":   map[string]any{"user": "https://example.com/users/dunglas", "remoteAddr": "127.0.0.1"},
		}})
		wantStatus(t, h.publishAs(t, docs, "topic", topicA), http.StatusOK, "0.x docs token")
		laravelSub := signHMAC(h.subKey, map[string]any{"alg": "HS256", "typ": "JWT"}, claims{"mercure": map[string]any{"subscribe": []any{topicA}}})
		s := h.sub(t, q("topic", topicA), laravelSub)
		private := h.publish(t, "topic", topicA, "private", "on")
		s.expectIDs(t, private)
	})
}

func TestLEG8_FractionalExpIsAccepted(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		exp := float64(time.Now().Add(time.Hour).UnixMicro()) / 1e6
		iat := float64(time.Now().UnixMicro()) / 1e6
		tok := signHMAC(h.pubKey, legacyHeader, claims{"iat": iat, "nbf": iat - 1, "exp": exp, "mercure": map[string]any{"publish": []any{"*"}}})
		wantStatus(t, h.publishAs(t, tok, "topic", topicA), http.StatusOK, "lcobucci token with fractional iat/nbf/exp")
		past := float64(time.Now().Add(-time.Minute).UnixMicro()) / 1e6
		tok = signHMAC(h.pubKey, legacyHeader, claims{"exp": past, "mercure": map[string]any{"publish": []any{"*"}}})
		wantAuthError(t, h.publishAs(t, tok, "topic", topicA), http.StatusUnauthorized, "invalid_token", "fractional exp in the past")
	})
}

func TestLEG8_ExpAndNbfAreEnforcedWhenPresent(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		now := time.Now()
		for what, c := range map[string]claims{
			"expired":           {"exp": now.Add(-time.Second).Unix(), "mercure": map[string]any{"publish": []any{"*"}}},
			"nbf in the future": {"nbf": now.Add(time.Minute).Unix(), "mercure": map[string]any{"publish": []any{"*"}}},
		} {
			wantAuthError(t, h.publishAs(t, signHMAC(h.pubKey, legacyHeader, c), "topic", topicA), http.StatusUnauthorized, "invalid_token", what)
		}
		// No aud, iss or typ checks on legacy tokens.
		odd := signHMAC(h.pubKey, map[string]any{"alg": "HS256", "typ": "JWT"},
			claims{"aud": "https://elsewhere.example", "iss": "whoever", "sub": 42, "mercure": map[string]any{"publish": []any{"*"}}})
		wantStatus(t, h.publishAs(t, odd, "topic", topicA), http.StatusOK, "legacy token with foreign aud and iss")
	})
}

func TestLEG8_NamespacedClaimReplacesMercure(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		tok := signHMAC(h.pubKey, legacyHeader, claims{
			"mercure":                map[string]any{"publish": []any{"*"}},
			"https://mercure.rocks/": map[string]any{"publish": []any{topicA}},
		})
		wantStatus(t, h.publishAs(t, tok, "topic", topicA), http.StatusOK, "topic granted by the namespaced claim")
		wantAuthError(t, h.publishAs(t, tok, "topic", topicB), http.StatusForbidden, "insufficient_scope", "topic granted only by the replaced mercure claim")
		only := signHMAC(h.pubKey, legacyHeader, claims{"https://mercure.rocks/": map[string]any{"publish": []any{"*"}}})
		wantStatus(t, h.publishAs(t, only, "topic", topicB), http.StatusOK, "namespaced claim alone")
	})
}

func TestLEG8_ClaimArraysHoldStrings(t *testing.T) {
	t.Parallel()
	// The token-size limit (400 invalid_request) is raised so that the
	// selector count is what gets checked.
	each(t, Options{Anonymous: true, MaxTokenBytes: 1 << 20}, func(t *testing.T, h *Harness) {
		for what, publish := range map[string]any{
			"number entry":   []any{1},
			"object entry":   []any{map[string]any{"match": "*"}},
			"string":         "*",
			"over 1000 long": make1001(),
		} {
			tok := h.legacy(h.pubKey, map[string]any{"publish": publish})
			wantAuthError(t, h.publishAs(t, tok, "topic", topicA), http.StatusUnauthorized, "invalid_token", "mercure.publish "+what)
		}
		for what, c := range map[string]any{"mercure string": "x", "mercure array": []any{"*"}} {
			tok := signHMAC(h.pubKey, legacyHeader, claims{"mercure": c})
			wantAuthError(t, h.publishAs(t, tok, "topic", topicA), http.StatusUnauthorized, "invalid_token", what)
		}
	})
}

func make1001() []any {
	out := make([]any, 1001)
	for i := range out {
		out[i] = fmt.Sprintf("https://example.com/%d", i)
	}
	return out
}

func TestLEG10_SymfonyPublishBody(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("topic", "https://ex.com/a"))
		subPrivate := h.sub(t, q("topic", "https://ex.com/a"), h.legacySub("https://ex.com/{x}"))
		// Byte for byte what Symfony's Hub::publish sends for a private
		// update (urlencode of each value).
		res := h.call(t, Req{Method: http.MethodPost, Token: h.legacyPub("https://ex.com/a"), ContentType: formType,
			Body: "topic=https%3A%2F%2Fex.com%2Fa&data=%7B%7D&private=on"})
		wantStatus(t, res, http.StatusOK, "Symfony private publish")
		if !uuidV4ID.MatchString(res.Body) {
			t.Errorf("body %q, want the generated id", res.Body)
		}
		full := h.call(t, Req{Method: http.MethodPost, Token: h.legacyPub("https://ex.com/a"), ContentType: formType,
			Body: "topic=https%3A%2F%2Fex.com%2Fa&data=%7B%22a%22%3A1%7D&id=sym-1&type=book&retry=3000"})
		wantStatus(t, full, http.StatusOK, "Symfony publish with every field")
		if full.Body != "sym-1" {
			t.Errorf("body %q, want sym-1", full.Body)
		}
		s.expectRaw(t, "event: book\nretry: 3000\nid: sym-1\ndata: {\"a\":1}\n\n")
		subPrivate.expectIDs(t, res.Body, "sym-1")
		wantStatus(t, h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, ContentType: formType, Body: "topic=a&retry=1.5"}),
			http.StatusBadRequest, "retry not a uint64")
		wantStatus(t, h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, ContentType: formType, Body: "data=x"}),
			http.StatusBadRequest, "missing topic")
	})
}

// LEG-11 with Hermes' status codes: a legacy grant that does not cover every
// topic is 403 (clients only check for 2xx, LEG-24).
func TestLEG11_LegacyPublishMustCoverEveryTopic(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for what, mercure := range map[string]map[string]any{
			"no publish key": {"subscribe": []any{"*"}},
			"empty publish":  {"publish": []any{}},
			"other topic":    {"publish": []any{topicB}},
			"template miss":  {"publish": []any{"https://example.com/books/{id}"}},
		} {
			tok := h.legacy(h.pubKey, mercure)
			wantAuthError(t, h.publishAs(t, tok, "topic", topicA), http.StatusForbidden, "insufficient_scope", what)
		}
		one := h.legacyPub(topicA)
		wantAuthError(t, h.publishAs(t, one, "topic", topicA, "topic", topicB), http.StatusForbidden, "insufficient_scope", "alternate not covered")
		wantStatus(t, h.publishAs(t, h.legacyPub(topicA, topicB), "topic", topicA, "topic", topicB), http.StatusOK, "both covered")
		tmpl := h.legacyPub("https://example.com/books/{id}")
		wantStatus(t, h.publishAs(t, tmpl, "topic", "https://example.com/books/7"), http.StatusOK, "covered by a template")
		// §4 pitfall 13: "*" among other selectors grants everything.
		wantStatus(t, h.publishAs(t, h.legacyPub(topicB, "*"), "topic", "urn:x:anything"), http.StatusOK, "* among other selectors")
	})
}

func TestLEG14_CursorSpellingsAndPrecedence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		query  []string
		header string
		after  string // the cursor that must win
	}{
		{"lastEventID alone", []string{"lastEventID", "b"}, "", "b"},
		{"lastEventId alone (event-source-polyfill)", []string{"lastEventId", "b"}, "", "b"},
		{"last_event_id over lastEventID", []string{"lastEventID", "a", "last_event_id", "b"}, "", "b"},
		{"lastEventID over lastEventId", []string{"lastEventId", "a", "lastEventID", "b"}, "", "b"},
		{"header over all", []string{"last_event_id", "a", "lastEventID", "a", "lastEventId", "a"}, "c", "c"},
		{"header over lastEventID", []string{"lastEventID", "a"}, "b", "b"},
		{"empty last_event_id falls through", []string{"last_event_id", "", "lastEventID", "b"}, "", "b"},
		{"Symfony Twig sends both names", []string{"lastEventID", "b", "Last-Event-ID", "b"}, "", "b"},
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, id := range []string{"a", "b", "c", "d"} {
			h.publish(t, "topic", "t", "id", id)
		}
		rest := map[string][]string{"a": {"b", "c", "d"}, "b": {"c", "d"}, "c": {"d"}}
		for _, c := range cases {
			r := Req{Query: q(append([]string{"topic", "t"}, c.query...)...)}
			if c.header != "" {
				r.Header = http.Header{"Last-Event-ID": {c.header}}
			}
			s := h.subscribe(t, r)
			t.Run(c.name, func(t *testing.T) {
				wantCursor(t, s, c.after)
				s.expectIDs(t, rest[c.after]...)
			})
			s.Close()
		}
	})
}

func TestLEG16_LastEventIDResponseHeader(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "t", "id", "a")
		s := h.sub(t, q("topic", "t", "lastEventID", "a"))
		if got := s.Resp.Header.Get("Last-Event-Id"); got != "a" {
			t.Errorf("Last-Event-Id %q, want a", got)
		}
		s = h.sub(t, q("topic", "t", "lastEventID", "nope"))
		wantCursor(t, s, "earliest")
		live := h.publish(t, "topic", "t")
		s.expectIDs(t, live)
		s = h.sub(t, q("topic", "t"))
		wantCursor(t, s, "")
	})
}

func TestLEG17_LegacyFramingIsTheSame(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.open(t, Req{Query: q("topic", "https://example.com/books/{id}")})
		if s.Resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", s.Resp.StatusCode)
		}
		hd := s.Resp.Header
		if hd.Get("Content-Type") != "text/event-stream" || hd.Get("X-Accel-Buffering") != "no" || !strings.Contains(hd.Get("Cache-Control"), "no-cache") {
			t.Errorf("headers %v", hd)
		}
		s.expectRaw(t, ":\n")
		h.publish(t, "topic", "https://example.com/books/1", "id", "1", "data", "line1\nline2")
		h.publish(t, "topic", "https://example.com/books/2", "id", "2", "type", "t", "retry", "5")
		s.expectRaw(t, "id: 1\ndata: line1\ndata: line2\n\nevent: t\nretry: 5\nid: 2\ndata: \n\n")
	})
}

func TestLEG17_LegacyHeartbeat(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, Heartbeat: 50 * time.Millisecond}, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("topic", topicA))
		s.expectRaw(t, ":\n")
	})
}

// LEG-24: Hermes answers legacy clients with RFC 6750 challenges too; they
// only look at "2xx or not".
func TestLEG24_LegacyAuthFailuresAreNon2xxWithChallenge(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		bad := h.legacy([]byte("not the publisher key, not it!!!"), map[string]any{"publish": []any{"*"}})
		wantAuthError(t, h.publishAs(t, bad, "topic", topicA), http.StatusUnauthorized, "invalid_token", "bad signature")
		wantAuthError(t, h.publishAs(t, h.legacyPub(topicB), "topic", topicA), http.StatusForbidden, "insufficient_scope", "not granted")
		wantAuthError(t, h.publishAs(t, "", "topic", topicA), http.StatusUnauthorized, "", "no token")
	})
}

// LEG-25: what 0.x CORS allowed stays allowed.
func TestLEG25_LegacyCORSPreflight(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, CORSOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
			res := h.call(t, Req{Method: http.MethodOptions, Header: http.Header{
				"Origin":                         {appOrigin},
				"Access-Control-Request-Method":  {method},
				"Access-Control-Request-Headers": {"authorization,cache-control,last-event-id"},
			}})
			if res.Header.Get("Access-Control-Allow-Origin") != appOrigin || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("preflight %s: status %d headers %v", method, res.Status, res.Header)
			}
		}
	})
}

// §2.4 rule 1: topic= and match* parameters in the same request.
func TestDual1_TopicAndMatchInOneRequest(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("topic", "https://example.com/books/{id}", "match_urlpattern", "https://example.com/users/:id", "match", topicA))
		a := h.publish(t, "topic", "https://example.com/books/1")
		b := h.publish(t, "topic", "https://example.com/users/2")
		c := h.publish(t, "topic", topicA)
		s.expectIDs(t, a, b, c)
	})
}

// §2.4 rule 4: a token's dialect is decided per token, on one hub.
func TestDual4_BothTokenDialectsOnOneHub(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		modern := h.sub(t, q("match", topicA), h.modernSub(topicA))
		legacy := h.sub(t, q("topic", topicA), h.legacySub(topicA))
		one := h.publishAs(t, h.modernPub(topicA), "topic", topicA, "private", "on")
		two := h.publishAs(t, h.legacyPub(topicA), "topic", topicA, "private", "on")
		wantStatus(t, one, http.StatusOK, "modern publisher")
		wantStatus(t, two, http.StatusOK, "legacy publisher")
		modern.expectIDs(t, one.Body, two.Body)
		legacy.expectIDs(t, one.Body, two.Body)
		// A token with authorization_details is modern, whatever its typ:
		// typ JWT is then refused (and the mercure claim is no way around).
		mixed := signHMAC(h.pubKey, legacyHeader, with(h.modernClaims(detail([]string{"publish"}, "*")), "mercure", map[string]any{"publish": []any{"*"}}))
		wantAuthError(t, h.publishAs(t, mixed, "topic", topicA), http.StatusUnauthorized, "invalid_token", "authorization_details with typ JWT")
	})
}

// LEG-12 with Hermes' choice (§2.4 rule 6): the draft-08 input rules apply
// to every publisher, whatever its token's dialect.
func TestLEG12_ModernInputRulesApplyToLegacyPublishers(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for what, kv := range map[string][]string{
			"topic *":          {"topic", "*"},
			"id #x":            {"topic", topicA, "id", "#x"},
			"id earliest":      {"topic", topicA, "id", "earliest"},
			"type mercure":     {"topic", topicA, "type", "mercure"},
			"reserved topic":   {"topic", "https://example.com/.well-known/mercure/subscriptions/x"},
			"control in topic": {"topic", "https://example.com/a\x01"},
			"invalid UTF-8":    {"topic", topicA, "data", "\xff"},
		} {
			wantStatus(t, h.publishAs(t, h.pubAll, kv...), http.StatusBadRequest, what)
		}
	})
}

func TestLEG15_EarliestReplaysLegacySelections(t *testing.T) {
	t.Parallel()
	eachTransport(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "https://example.com/books/1", "id", "1")
		h.publish(t, "topic", "https://example.com/users/1", "id", "x")
		h.publish(t, "topic", "https://example.com/books/2", "id", "2")
		s := h.sub(t, q("topic", "https://example.com/books/{id}", "lastEventID", "earliest"))
		wantCursor(t, s, "earliest")
		s.expectIDs(t, "1", "2")
	})
}
