package spectests_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Section 1.5 of the checklist: publication (PUB).

// uuidV4ID is the shape of the ids Hermes generates (v4, not v7: a
// time-ordered id would leak when private updates were published).
var uuidV4ID = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPUB2_MissingTopicIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "data", "x"), http.StatusBadRequest, "no topic")
		wantStatus(t, h.publishAs(t, h.pubAll), http.StatusBadRequest, "empty body")
	})
}

func TestPUB2_BodyMustBeFormURLEncoded(t *testing.T) {
	t.Parallel()
	body := form("topic", "https://example.com/a", "data", "x")
	each(t, anon, func(t *testing.T, h *Harness) {
		multipart := "--b\r\nContent-Disposition: form-data; name=\"topic\"\r\n\r\nhttps://example.com/a\r\n--b--\r\n"
		wantStatus(t, h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Body: multipart, ContentType: "multipart/form-data; boundary=b"}),
			http.StatusBadRequest, "multipart body")
		wantStatus(t, h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Body: body}),
			http.StatusBadRequest, "no Content-Type")
		wantStatus(t, h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Body: body, ContentType: "text/plain"}),
			http.StatusBadRequest, "text/plain body")
		// A charset parameter does not change the media type.
		wantStatus(t, h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Body: body, ContentType: formType + "; charset=UTF-8"}),
			http.StatusOK, "form with charset")
	})
}

func TestPUB2_TopicsInTheURLQueryAreIgnored(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Query: q("topic", "https://example.com/a"),
			Body: form("data", "x"), ContentType: formType})
		wantStatus(t, res, http.StatusBadRequest, "topic only in the query")
	})
}

func TestPUB3_AlternateTopicsDeliverOncePerSubscriber(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		a := h.sub(t, q("match", "https://example.com/a"))
		b := h.sub(t, q("match", "https://example.com/b"))
		both := h.sub(t, q("match", "https://example.com/a", "match", "https://example.com/b"))
		wild := h.sub(t, q("match_urlpattern", "https://example.com/:x", "match", "https://example.com/a"))
		id := h.publish(t, "topic", "https://example.com/a", "topic", "https://example.com/b", "data", "x")
		marker := h.publish(t, "topic", "https://example.com/a", "topic", "https://example.com/b", "data", "marker")
		for name, s := range map[string]*Stream{"a": a, "b": b, "a+b": both, "pattern+a": wild} {
			t.Run(name, func(t *testing.T) { s.expectIDs(t, id, marker) })
		}
	})
}

func TestPUB4_InvalidAlternateTopicIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "topic", "https://example.com/\u200b")
		wantStatus(t, res, http.StatusBadRequest, "alternate topic with U+200B")
	})
}

func TestPUB5_ReservedNamespaceIs400(t *testing.T) {
	t.Parallel()
	reserved := []string{
		"/.well-known/mercure",
		"/.well-known/mercure/",
		"/.well-known/mercure/subscriptions/x",
		"https://other.host/.well-known/mercure/x",
		"/.well-known/%6Dercure/x",
		"/a/../.well-known/mercure/x",
		`https:\\h\.well-known\mercure`,
		"https://example.com/.well-known/mercure?x=1",
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		tokens := map[string]string{"legacy *": h.pubAll, "modern *": h.modernPub("*")}
		for _, topic := range append(reserved, h.URL+"/subscriptions") {
			for name, tok := range tokens {
				wantStatus(t, h.publishAs(t, tok, "topic", topic), http.StatusBadRequest, fmt.Sprintf("%s with a %s token", topic, name))
				wantStatus(t, h.publishAs(t, tok, "topic", "https://example.com/ok", "topic", topic), http.StatusBadRequest,
					fmt.Sprintf("%s as alternate topic with a %s token", topic, name))
			}
		}
	})
}

func TestPUB5_LookalikesOfTheReservedNamespaceAre200(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, topic := range []string{
			"https://example.com/.well-known/mercurefoo",
			"https://example.com/.well-known/mercure-x/a",
			"https://example.com/well-known/mercure",
			"http://[", // unparsable: not reserved
		} {
			wantStatus(t, h.publishAs(t, h.pubAll, "topic", topic), http.StatusOK, topic)
		}
	})
}

func TestPUB6_WildcardTopicIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "*"), http.StatusBadRequest, "topic=*")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "topic", "*"), http.StatusBadRequest, "alternate topic *")
		wantStatus(t, h.publishAs(t, h.modernPub("*"), "topic", "*"), http.StatusBadRequest, "topic=* with a modern * token")
	})
}

func TestPUB7_ReservedAndWildcardAre400WhateverTheGrant(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		// A token that does not grant the topic still learns 400, not 403:
		// the rule is about the topic, not the publisher.
		narrow := h.modernPub("https://example.com/a")
		wantStatus(t, h.publishAs(t, narrow, "topic", "*"), http.StatusBadRequest, "* with a narrow token")
		wantStatus(t, h.publishAs(t, narrow, "topic", "/.well-known/mercure/x"), http.StatusBadRequest, "reserved with a narrow token")
		legacyNarrow := h.legacyPub("https://example.com/a")
		wantStatus(t, h.publishAs(t, legacyNarrow, "topic", "*"), http.StatusBadRequest, "* with a narrow legacy token")
	})
}

func TestPUB7_NoTokenBeatsBadTopic401(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		// Hermes authorizes before it validates (§1.13 order).
		wantAuthError(t, h.publishAs(t, "", "topic", "*"), http.StatusUnauthorized, "", "no token, topic *")
		wantAuthError(t, h.publishAs(t, "", "data", "no topic"), http.StatusUnauthorized, "", "no token, no topic")
		bad := h.legacyPub("*") + "x"
		wantAuthError(t, h.publishAs(t, bad, "topic", "/.well-known/mercure"), http.StatusUnauthorized, "invalid_token", "bad token, reserved topic")
	})
}

func TestPUB8_InvalidUTF8DataIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "data", "a\xffb"), http.StatusBadRequest, "data %FF")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "data", "\xc3"), http.StatusBadRequest, "truncated UTF-8")
	})
}

func TestPUB8_DataIsOpaqueUTF8(t *testing.T) {
	t.Parallel()
	const data = `{"name":"Zoë 🎉","x":"a&b=c+d%"}`
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		id := h.publish(t, "topic", "https://example.com/a", "data", data)
		ev := s.event(t)
		if ev.ID != id || ev.DataString() != data {
			t.Fatalf("got id %q data %q, want %q %q", ev.ID, ev.DataString(), id, data)
		}
	})
}

func TestPUB9_PrivatePresenceMakesUpdatePrivate(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/p"
	each(t, anon, func(t *testing.T, h *Harness) {
		public := h.sub(t, q("match", topic))
		authorized := h.sub(t, q("match", topic), h.modernSub(topic))
		var private []string
		for _, v := range []string{"on", "", "false", "0", "off"} {
			private = append(private, h.publish(t, "topic", topic, "private", v))
		}
		marker := h.publish(t, "topic", topic, "data", "marker")
		public.expectIDs(t, marker)
		authorized.expectIDs(t, append(private, marker)...)
	})
}

func TestPUB10_IDStartingWithHashIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "id", "#1"), http.StatusBadRequest, "id=#1")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "id", "#"), http.StatusBadRequest, "id=#")
	})
}

func TestPUB10_IDEarliestIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "id", "earliest"), http.StatusBadRequest, "id=earliest")
	})
}

func TestPUB10_IDWithControlOrFormatCharacterIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, id := range []string{"a\nb", "a\rb", "a\x00b", "a\u202eb", "a\u0085b", "a\xffb"} {
			wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "id", id), http.StatusBadRequest, fmt.Sprintf("id=%q", id))
		}
	})
}

func TestPUB10_ClientIDIsUsedVerbatimAndMayRepeat(t *testing.T) {
	t.Parallel()
	const id = "https://example.com/updates/1?v=ä#x"
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		for range 2 {
			if got := h.publish(t, "topic", "https://example.com/a", "id", id); got != id {
				t.Fatalf("publish answered id %q, want %q", got, id)
			}
		}
		s.expectIDs(t, id, id)
	})
}

func TestPUB10_GeneratedIDsAreUUIDv4URNs(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		seen := map[string]bool{}
		var ids []string
		for range 5 {
			id := h.publish(t, "topic", "https://example.com/a")
			if !uuidV4ID.MatchString(id) {
				t.Errorf("generated id %q is not a urn:uuid v4", id)
			}
			if seen[id] {
				t.Errorf("generated id %q twice", id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
		s.expectIDs(t, ids...)
	})
}

func TestPUB11_TypeWithControlOrFormatCharacterIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, typ := range []string{"a\nb", "a\rb", "a\x00b", "a\u200bb", "\xff"} {
			wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "type", typ), http.StatusBadRequest, fmt.Sprintf("type=%q", typ))
		}
	})
}

func TestPUB11_TypeMercureIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "type", "mercure"), http.StatusBadRequest, "type=mercure")
		// The reserved value is exact: other spellings are ordinary types.
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "type", "Mercure"), http.StatusOK, "type=Mercure")
	})
}

func TestPUB12_RetryMustBeASCIIDigits(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, r := range []string{"-1", "+5", "5s", " 5", "1.5", "0x10", "٣", "99999999999999999999"} {
			wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "retry", r), http.StatusBadRequest, "retry="+r)
		}
	})
}

func TestPUB12_RetryEmptyOrZeroSendsNoRetryLine(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		h.publish(t, "topic", "https://example.com/a", "id", "empty", "retry", "")
		h.publish(t, "topic", "https://example.com/a", "id", "zero", "retry", "0")
		h.publish(t, "topic", "https://example.com/a", "id", "max", "retry", "86400000")
		s.expectRaw(t, "id: empty\ndata: \n\n")
		s.expectRaw(t, "id: zero\ndata: \n\n")
		s.expectRaw(t, "retry: 86400000\nid: max\ndata: \n\n")
	})
}

func TestPUB13_UnknownFieldsAreIgnored(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "https://example.com/a"))
		id := h.publish(t, "topic", "https://example.com/a", "foo", "bar", "data", "x", "Topic", "https://example.com/b", "event", "ignored")
		s.expectRaw(t, "id: "+id+"\ndata: x\n\n")
	})
}

func TestPUB14_SuccessIs200TextPlainBodyID(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "data", "x")
		if res.Status != http.StatusOK {
			t.Fatalf("status %d, want exactly 200", res.Status)
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q, want %q", ct, "text/plain; charset=utf-8")
		}
		if !uuidV4ID.MatchString(res.Body) {
			t.Errorf("body %q is not the generated id alone (no newline, no JSON)", res.Body)
		}
		res = h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "id", "my-id")
		if res.Status != http.StatusOK || res.Body != "my-id" {
			t.Errorf("with id=my-id: status %d body %q, want 200 %q", res.Status, res.Body, "my-id")
		}
	})
}

func TestPUB15_PublishWithoutTokenIs401(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantAuthError(t, h.publishAs(t, "", "topic", "https://example.com/a"), http.StatusUnauthorized, "", "no token")
		// A subscriber token does not publish: the roles have different keys.
		wantAuthError(t, h.publishAs(t, h.legacy(h.subKey, map[string]any{"publish": []any{"*"}}), "topic", "https://example.com/a"),
			http.StatusUnauthorized, "invalid_token", "token signed with the subscriber key")
	})
}

func TestPUB16_BodyOver1MiBIs413(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		prefix := form("topic", "https://example.com/a") + "&data="
		body := prefix + strings.Repeat("a", 1<<20+1-len(prefix))
		res := h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Body: body, ContentType: formType})
		wantStatus(t, res, http.StatusRequestEntityTooLarge, "body of 1 MiB + 1 byte")
		// Exactly 1 MiB is still accepted.
		body = prefix + strings.Repeat("a", 1<<20-len(prefix))
		res = h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Body: body, ContentType: formType})
		wantStatus(t, res, http.StatusOK, "body of exactly 1 MiB")
	})
}

func TestPUB16_MoreThan1000TopicsIs413(t *testing.T) {
	t.Parallel()
	topics := func(n int) []string {
		var kv []string
		for i := range n {
			kv = append(kv, "topic", fmt.Sprintf("https://example.com/t/%d", i))
		}
		return kv
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, topics(1001)...), http.StatusRequestEntityTooLarge, "1001 topics")
		wantStatus(t, h.publishAs(t, h.pubAll, topics(1000)...), http.StatusOK, "1000 topics")
	})
}

func TestPUB16_FieldOver4096BytesIs413(t *testing.T) {
	t.Parallel()
	long := func(n int) string {
		p := "https://example.com/"
		return p + strings.Repeat("x", n-len(p))
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", long(4097)), http.StatusRequestEntityTooLarge, "topic of 4097 bytes")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "topic", long(4097)), http.StatusRequestEntityTooLarge, "alternate topic of 4097 bytes")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", long(4096)), http.StatusOK, "topic of 4096 bytes")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "id", long(4097)), http.StatusRequestEntityTooLarge, "id of 4097 bytes")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/a", "type", strings.Repeat("t", 4097)), http.StatusRequestEntityTooLarge, "type of 4097 bytes")
	})
}
