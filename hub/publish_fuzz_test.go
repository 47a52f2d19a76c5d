package hub

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport/memory"
)

// FuzzPublish drives the publish form parser with arbitrary bodies: it must
// never panic, and whatever it accepts must satisfy the publication rules
// (PUB-4..12) and carry the frame of exactly that event.
func FuzzPublish(f *testing.F) {
	for _, s := range []string{
		"topic=a&data=b", "topic=a&topic=b&private=on&id=x&type=t&retry=5",
		"topic=%2A", "topic=/.well-known/mercure", "id=%23x&topic=a", "topic=a&retry=-1",
		"topic=a%00", "data=%FF&topic=a", "topic=a&type=mercure", "topic",
	} {
		f.Add(s)
	}
	h, err := New(Config{
		Transport:     memory.New(memory.Options{Size: 16}),
		Auth:          openAuth{mustMatcher(f, topic.TypeLegacy, "*")},
		MaxBodyBytes:  4096,
		MaxTopics:     8,
		MaxFieldBytes: 256,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = h.Close(f.Context()) })
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		ev, err := h.parseUpdate(rec, req)
		if err != nil {
			return
		}
		if len(ev.Topics) == 0 || len(ev.Topics) > 8 {
			t.Fatalf("accepted %d topics", len(ev.Topics))
		}
		for _, tp := range ev.Topics {
			if topic.ValidString(tp) != nil || tp == "*" || topic.IsReserved(tp, Path) {
				t.Fatalf("accepted topic %q", tp)
			}
		}
		if !utf8.ValidString(ev.Data) || strings.HasPrefix(ev.ID, "#") || ev.ID == "earliest" || ev.Type == "mercure" {
			t.Fatalf("accepted %+v", ev)
		}
		if ev.ID == "" || string(ev.Frame) != string(encodeEvent(ev)) {
			t.Fatalf("bad id or frame: %+v", ev)
		}
	})
}
