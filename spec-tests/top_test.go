package spectests_test

import (
	"net/http"
	"testing"
)

// Section 1.1 of the checklist: topics and strings (TOP).

var anon = Options{Anonymous: true}

func TestTOP1_ControlAndFormatCharactersInTopicAre400(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"U+202E (Cf, bidi override)": "https://example.com/a\u202eb",
		"U+200B (Cf, zero width)":    "https://example.com/a\u200bb",
		"U+FEFF (Cf, BOM)":           "https://example.com/a\ufeffb",
		"NUL (C0)":                   "https://example.com/a\x00b",
		"LF (C0)":                    "https://example.com/a\nb",
		"TAB (C0)":                   "https://example.com/a\tb",
		"DEL":                        "https://example.com/a\x7fb",
		"U+0085 (C1)":                "https://example.com/a\u0085b",
		"invalid UTF-8":              "https://example.com/\xff",
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		for name, topic := range bad {
			wantStatus(t, h.publishAs(t, h.pubAll, "topic", topic, "data", "x"), http.StatusBadRequest, name)
			// An alternate topic is a topic too (PUB-4).
			wantStatus(t, h.publishAs(t, h.pubAll, "topic", "https://example.com/ok", "topic", topic), http.StatusBadRequest, name+" as alternate topic")
		}
	})
}

func TestTOP1_RTLLettersInTopicAre200(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/مرحبا"
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", topic))
		id := h.publish(t, "topic", topic, "data", "x")
		ev := s.event(t)
		if ev.ID != id {
			t.Fatalf("got event %q, want %q", ev.ID, id)
		}
	})
}

func TestTOP2_AlternateTopicRoutesTheUpdate(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		canonical := h.sub(t, q("match", "https://example.com/canonical"))
		alternate := h.sub(t, q("match", "https://example.com/alternate"))
		id := h.publish(t, "topic", "https://example.com/canonical", "topic", "https://example.com/alternate", "data", "x")
		canonical.expectIDs(t, id)
		alternate.expectIDs(t, id)
	})
}
