package spectests_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Section 1.2 of the checklist: the subscription request (SUB).

const methodQuery = "QUERY"

func TestSUB1_GETSubscribes(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		if ct := s.Resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type %q, want text/event-stream", ct)
		}
		id := h.publish(t, "topic", "https://example.com/a")
		s.expectIDs(t, id)
	})
}

func TestSUB1_GETWithTokenOnNonAnonymousHub(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"), h.modernSub("https://example.com/other"))
		id := h.publish(t, "topic", "https://example.com/a")
		s.expectIDs(t, id)
		legacy := h.sub(t, q("topic", "https://example.com/a"), h.legacySub())
		id = h.publish(t, "topic", "https://example.com/a")
		legacy.expectIDs(t, id)
	})
}

func TestSUB2_QUERYWithFormBodySubscribes(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.subscribe(t, Req{Method: methodQuery, Body: form("match", "https://example.com/a"), ContentType: formType})
		id := h.publish(t, "topic", "https://example.com/a")
		s.expectIDs(t, id)
	})
}

func TestSUB2_QUERYBodyNamesAreChecked(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Method: methodQuery, Body: "mAtch=x", ContentType: formType})
		wantStatus(t, res, http.StatusBadRequest, "QUERY body mAtch=x")
		res = h.call(t, Req{Method: methodQuery, Body: "match=a%00", ContentType: formType})
		wantStatus(t, res, http.StatusBadRequest, "QUERY body match=a%00")
	})
}

func TestSUB2_QUERYBodyMustBeFormURLEncoded(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Method: methodQuery, Body: `{"match":"x"}`, ContentType: "application/json"})
		wantStatus(t, res, http.StatusBadRequest, "QUERY with a JSON body")
	})
}

func TestSUB2_QUERYBodyOver1MiBIs413(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		body := "match=x&foo=" + strings.Repeat("a", 1<<20)
		res := h.call(t, Req{Method: methodQuery, Body: body, ContentType: formType})
		wantStatus(t, res, http.StatusRequestEntityTooLarge, "QUERY body over 1 MiB")
	})
}

func TestSUB3_QUERYTakesTheUnionOfQueryAndBody(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.subscribe(t, Req{Method: methodQuery, Query: q("match", "https://example.com/a"),
			Body: form("match", "https://example.com/b"), ContentType: formType})
		a := h.publish(t, "topic", "https://example.com/a")
		b := h.publish(t, "topic", "https://example.com/b")
		s.expectIDs(t, a, b)
	})
}

func TestSUB3_CursorQueryBeatsBodyAndHeaderBeatsBoth(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		h.publish(t, "topic", "https://example.com/a", "id", "B")
		h.publish(t, "topic", "https://example.com/b", "id", "Q")
		h.publish(t, "topic", "https://example.com/a", "id", "X")
		h.publish(t, "topic", "https://example.com/b", "id", "Y")

		r := Req{Method: methodQuery, Query: q("match", "https://example.com/a", "last_event_id", "Q"),
			Body: form("match", "https://example.com/b", "last_event_id", "B"), ContentType: formType}
		s := h.subscribe(t, r)
		if got := s.Resp.Header.Get("Mercure-Last-Event-ID"); got != "Q" {
			t.Errorf("Mercure-Last-Event-ID %q, want Q", got)
		}
		s.expectIDs(t, "X", "Y")

		r.Header = http.Header{"Last-Event-ID": {"X"}}
		s = h.subscribe(t, r)
		if got := s.Resp.Header.Get("Mercure-Last-Event-ID"); got != "X" {
			t.Errorf("with header: Mercure-Last-Event-ID %q, want X", got)
		}
		s.expectIDs(t, "Y")
	})
}

func TestSUB5_MatchExactIsAnAliasOfMatch(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match_exact", "https://example.com/a"))
		h.publish(t, "topic", "https://example.com/A", "id", "other-case")
		id := h.publish(t, "topic", "https://example.com/a")
		s.expectIDs(t, id)
	})
}

func TestSUB5_MatcherTypesMixInOneRequest(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a", "match_urlpattern", "https://example.com/b/:id", "topic", "https://example.com/c/{id}"))
		a := h.publish(t, "topic", "https://example.com/a")
		b := h.publish(t, "topic", "https://example.com/b/1")
		c := h.publish(t, "topic", "https://example.com/c/1")
		s.expectIDs(t, a, b, c)
	})
}

func TestSUB6_QueryIsParsedAsURLSearchParams(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		plusEncoded := h.sub(t, "match=a%2Bb")
		plusIsSpace := h.sub(t, "match=a+b")
		semicolon := h.sub(t, "match=a;b")
		badEscape := h.sub(t, "match=a%zz")
		space := h.publish(t, "topic", "a b")
		plus := h.publish(t, "topic", "a+b")
		semi := h.publish(t, "topic", "a;b")
		pct := h.publish(t, "topic", "a%zz")
		marker := h.publish(t, "topic", "a b", "topic", "a+b", "topic", "a;b", "topic", "a%zz")
		plusEncoded.expectIDs(t, plus, marker)
		plusIsSpace.expectIDs(t, space, marker)
		semicolon.expectIDs(t, semi, marker)
		badEscape.expectIDs(t, pct, marker)
	})
}

func TestSUB6_NameWithoutEqualsHasEmptyValue(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		// "match" alone is a matcher for the empty topic: valid, so 200.
		s := h.sub(t, "match&match=https://example.com/a")
		id := h.publish(t, "topic", "https://example.com/a")
		s.expectIDs(t, id)
		wantStatus(t, h.call(t, Req{Query: "match"}), http.StatusOK, "?match")
	})
}

func TestSUB7_MatchPrefixIsReserved(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, query := range []string{"Match=a", "MATCH=a", "MATCH_urlpattern=x", "match_Exact=a", "match_URLPattern=x",
			"matches=a", "match_regex=a", "match_=a", "match_uri_template=a", "match=a&matchx=b"} {
			wantStatus(t, h.call(t, Req{Query: query}), http.StatusBadRequest, "?"+query)
		}
	})
}

func TestSUB7_UnrelatedNamesAreIgnored(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, "foo=a&match=https://example.com/b&xmatch=c&_match=d")
		id := h.publish(t, "topic", "https://example.com/b")
		s.expectIDs(t, id)
	})
}

func TestSUB8_MatcherValuesWithControlOrFormatCharactersAre400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, query := range []string{"match=a%00", "match=%E2%80%8B", "match=a%0Ab", "match=a%7F", "match=%C2%85",
			"match=%FF", "match_urlpattern=https://e.com/%E2%80%AE", "topic=a%00b"} {
			wantStatus(t, h.call(t, Req{Query: query}), http.StatusBadRequest, "?"+query)
		}
	})
}

func TestSUB8_InvalidURLPatternIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Query: q("match_urlpattern", "https://e.com/(")})
		wantStatus(t, res, http.StatusBadRequest, "match_urlpattern=https://e.com/(")
	})
}

func TestSUB9_AnyMatcherSelects(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a", "match", "https://example.com/b"))
		a := h.publish(t, "topic", "https://example.com/a")
		h.publish(t, "topic", "https://example.com/c")
		b := h.publish(t, "topic", "https://example.com/b")
		s.expectIDs(t, a, b)
	})
}

func TestSUB10_MoreThan100MatchersIs400(t *testing.T) {
	t.Parallel()
	params := func(n int) string {
		kv := make([]string, 0, 2*n)
		for range n {
			kv = append(kv, "match", "https://example.com/a")
		}
		return q(kv...)
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.call(t, Req{Query: params(101)}), http.StatusBadRequest, "101 match parameters")
		wantStatus(t, h.call(t, Req{Query: params(100)}), http.StatusOK, "100 match parameters")
	})
}

func TestSUB10_PatternOver4096BytesIs400(t *testing.T) {
	t.Parallel()
	long := func(n int) string {
		p := "https://example.com/"
		return p + strings.Repeat("x", n-len(p))
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.call(t, Req{Query: q("match", long(4097))}), http.StatusBadRequest, "match of 4097 bytes")
		wantStatus(t, h.call(t, Req{Query: q("match_urlpattern", long(4097))}), http.StatusBadRequest, "match_urlpattern of 4097 bytes")
		wantStatus(t, h.call(t, Req{Query: q("topic", long(4097))}), http.StatusBadRequest, "topic of 4097 bytes")
		s := h.sub(t, q("match", long(4096)))
		id := h.publish(t, "topic", long(4096))
		s.expectIDs(t, id)
	})
}

func TestSUB15_UpdatesArriveAsEventStream(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		id := h.publish(t, "topic", "https://example.com/a", "data", "hello")
		ev := s.event(t)
		if ev.ID != id || ev.DataString() != "hello" {
			t.Fatalf("event id %q data %q, want %q hello", ev.ID, ev.DataString(), id)
		}
	})
}

func TestSUB16_HeartbeatCommentAfterIdlePeriod(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, Heartbeat: 50 * time.Millisecond}, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		// Idle: a heartbeat comes without any update.
		s.expectRaw(t, ":\n")
		// The timer restarts after an update: heartbeats keep coming.
		id := h.publish(t, "topic", "https://example.com/a")
		ev := s.event(t)
		if ev.ID != id {
			t.Fatalf("event %q, want %q", ev.ID, id)
		}
		s.expectRaw(t, ":\n")
	})
}

func TestSUB1_HEADAnswersTheStreamHeadersOnly(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Method: http.MethodHead, Query: q("match", "https://example.com/a")})
		wantStatus(t, res, http.StatusOK, "HEAD")
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("HEAD: Content-Type %q", ct)
		}
		wantStatus(t, h.call(t, Req{Method: http.MethodHead, Query: "Match=x"}), http.StatusBadRequest, "HEAD with a bad parameter")
	})
}

// §1.13: methods other than GET, HEAD, QUERY, POST (and OPTIONS for CORS).
func TestMATRIX_WrongMethodIs405(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			wantStatus(t, h.call(t, Req{Method: m, Query: q("match", "x"), Token: h.pubAll}), http.StatusMethodNotAllowed, m)
		}
	})
}

// §1.13 order of checks: authorization before the parameters, on subscribe
// as on publish.
func TestMATRIX_SubscribeAuthorizationBeforeParameters(t *testing.T) {
	t.Parallel()
	t.Run("private hub", func(t *testing.T) {
		t.Parallel()
		each(t, Options{}, func(t *testing.T, h *Harness) {
			wantAuthError(t, h.call(t, Req{Query: "match_regex=x"}), http.StatusUnauthorized, "", "no token, bad parameter")
			wantAuthError(t, h.call(t, Req{Query: q("match", "a\x00")}), http.StatusUnauthorized, "", "no token, bad value")
		})
	})
	t.Run("anonymous hub", func(t *testing.T) {
		t.Parallel()
		each(t, anon, func(t *testing.T, h *Harness) {
			wantAuthError(t, h.call(t, Req{Query: "match_regex=x", Token: "a.b.c"}), http.StatusUnauthorized, "invalid_token", "bad token, bad parameter")
		})
	})
}
