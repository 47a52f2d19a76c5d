package spectests_test

import (
	"net/http"
	"testing"
)

// Section 1.4 of the checklist: matcher types (MAT).

func TestMAT1_ExactAndURLPatternAreSupported(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		exact := h.sub(t, q("match", "https://example.com/books/1"))
		pattern := h.sub(t, q("match_urlpattern", "https://example.com/books/:id"))
		one := h.publish(t, "topic", "https://example.com/books/1")
		two := h.publish(t, "topic", "https://example.com/books/2")
		exact.expectIDs(t, one)
		pattern.expectIDs(t, one, two)
	})
}

func TestMAT2_UnsupportedTypeInRequestIs400(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.call(t, Req{Query: q("match_regex", ".*")}), http.StatusBadRequest, "match_regex")
		wantStatus(t, h.call(t, Req{Query: q("match_uritemplate", "https://e.com/{id}")}), http.StatusBadRequest, "match_uritemplate")
	})
}

func TestMAT3_WildcardMatchReceivesEveryPublicUpdate(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		exact := h.sub(t, q("match", "*"))
		pattern := h.sub(t, q("match_urlpattern", "*"))
		a := h.publish(t, "topic", "https://example.com/a")
		b := h.publish(t, "topic", "urn:x:b")
		c := h.publish(t, "topic", "relative/c")
		h.publish(t, "topic", "https://example.com/p", "private", "on")
		d := h.publish(t, "topic", "https://example.com/d")
		exact.expectIDs(t, a, b, c, d)
		pattern.expectIDs(t, a, b, c, d)
	})
}

func TestMAT3_WildcardInTokenGrantsEveryTopic(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for name, tok := range map[string]string{
			"no match_type":         h.modernSub(tm("*", "")),
			"match_type exact":      h.modernSub(tm("*", "exact")),
			"match_type urlpattern": h.modernSub(tm("*", "urlpattern")),
		} {
			s := h.sub(t, q("match", "*"), tok)
			a := h.publish(t, "topic", "https://example.com/private/a", "private", "on")
			b := h.publish(t, "topic", "urn:x:private", "private", "on")
			t.Run(name, func(t *testing.T) { s.expectIDs(t, a, b) })
			s.Close()
		}
		for name, tok := range map[string]string{
			"no match_type":         h.modernPub(tm("*", "")),
			"match_type urlpattern": h.modernPub(tm("*", "urlpattern")),
		} {
			wantStatus(t, h.publishAs(t, tok, "topic", "urn:x:anything", "topic", "https://example.com/x"), http.StatusOK, "publish with * "+name)
		}
	})
}

func TestMAT4_ExactIsByteForByte(t *testing.T) {
	t.Parallel()
	const nfc, nfd = "https://example.com/caf\u00e9", "https://example.com/cafe\u0301"
	each(t, anon, func(t *testing.T, h *Harness) {
		upper := h.sub(t, q("match", "https://E.com/a"))
		relative := h.sub(t, q("match", "/a"))
		composed := h.sub(t, q("match", nfc))
		h.publish(t, "topic", "https://e.com/a")
		h.publish(t, "topic", h.Origin+"/a")
		h.publish(t, "topic", nfd)
		h.publish(t, "topic", "https://E.com/a/")
		marker := h.publish(t, "topic", "https://E.com/a", "topic", "/a", "topic", nfc)
		upper.expectIDs(t, marker)
		relative.expectIDs(t, marker)
		composed.expectIDs(t, marker)
	})
}

func TestMAT6_RelativePatternsAndTopicsResolveAgainstTheHubURL(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		relPattern := h.sub(t, q("match_urlpattern", "/books/:id"))
		absPattern := h.sub(t, q("match_urlpattern", h.Origin+"/books/:id"))
		abs := h.publish(t, "topic", h.Origin+"/books/1")
		rel := h.publish(t, "topic", "/books/2")
		h.publish(t, "topic", "https://other.example/books/3")
		marker := h.publish(t, "topic", "/books/marker")
		relPattern.expectIDs(t, abs, rel, marker)
		absPattern.expectIDs(t, abs, rel, marker)
	})
}

func TestMAT7_URLPatternIsCaseSensitiveExceptHost(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		upperPath := h.sub(t, q("match_urlpattern", "https://e.com/Books/:id", "match", "marker"))
		lower := h.sub(t, q("match_urlpattern", "https://e.com/books/:id"))
		h.publish(t, "topic", "https://e.com/books/1", "id", "lower")
		upperHost := h.publish(t, "topic", "https://E.COM/books/1")
		marker := h.publish(t, "topic", "marker")
		upperPath.expectIDs(t, marker)
		lower.expectIDs(t, "lower", upperHost)
	})
}

func TestMAT8_UnparsableTopicNeverMatchesAURLPattern(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match_urlpattern", "http://:host/*", "match", "marker"))
		res := h.publishAs(t, h.pubAll, "topic", "http://[")
		wantStatus(t, res, http.StatusOK, "publishing http://[")
		marker := h.publish(t, "topic", "marker")
		s.expectIDs(t, marker)
	})
}
