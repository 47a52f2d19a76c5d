package spectests_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Section 1.3 of the checklist: SSE framing and the stream (SSE), byte-exact.

func TestSSE1_FieldOrderIsEventRetryIDData(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		h.publish(t, "topic", "t", "data", "x", "id", "i", "type", "ty", "retry", "10")
		s.expectRaw(t, "event: ty\nretry: 10\nid: i\ndata: x\n\n")
	})
}

func TestSSE2_DataIsSplitOnCRLFCRAndLF(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		h.publish(t, "topic", "t", "id", "i", "data", "a\r\nb\rc\nd")
		s.expectRaw(t, "id: i\ndata: a\ndata: b\ndata: c\ndata: d\n\n")
		// Empty lines survive as empty data lines, so EventSource rebuilds
		// the value with LF line ends.
		h.publish(t, "topic", "t", "id", "j", "data", "\nx\n\n")
		s.expectRaw(t, "id: j\ndata: \ndata: x\ndata: \ndata: \n\n")
	})
}

func TestSSE2_DataCannotInjectFields(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		id := h.publish(t, "topic", "t", "data", "x\nid: evil\r\nevent: evil\rretry: 1\n\ndata: y")
		s.expectRaw(t, "id: "+id+"\ndata: x\ndata: id: evil\ndata: event: evil\ndata: retry: 1\ndata: \ndata: data: y\n\n")
	})
}

func TestSSE3_EmptyOrAbsentDataStillSendsDataLine(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		h.publish(t, "topic", "t", "id", "absent")
		h.publish(t, "topic", "t", "id", "empty", "data", "")
		s.expectRaw(t, "id: absent\ndata: \n\nid: empty\ndata: \n\n")
	})
}

func TestSSE4_EveryEventHasAnIDLine(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		var ids []string
		for range 3 {
			ids = append(ids, h.publish(t, "topic", "t", "data", "x"))
		}
		for _, id := range ids {
			ev := s.event(t)
			if !ev.HasID || ev.ID != id {
				t.Fatalf("event %q has id %q (present %v), want %q", ev.Raw, ev.ID, ev.HasID, id)
			}
		}
	})
}

func TestSSE5_StreamStartsWithCommentLine(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, r := range []Req{
			{Query: q("match", "t")},
			{Query: q("topic", "t")},
			{Query: q("match", "t", "last_event_id", "earliest")},
			{Method: methodQuery, Body: form("match", "t"), ContentType: formType},
		} {
			s := h.open(t, r)
			if s.Resp.StatusCode != http.StatusOK {
				t.Fatalf("%+v: status %d", r, s.Resp.StatusCode)
			}
			s.expectRaw(t, ":\n")
			s.Close()
		}
	})
}

func TestSSE6_StreamResponseHeaders(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		hd := s.Resp.Header
		if got := hd.Get("Content-Type"); got != "text/event-stream" {
			t.Errorf("Content-Type %q, want exactly text/event-stream", got)
		}
		if got := hd.Get("X-Accel-Buffering"); got != "no" {
			t.Errorf("X-Accel-Buffering %q, want no", got)
		}
		if got := hd.Get("Cache-Control"); !strings.Contains(got, "no-cache") {
			t.Errorf("Cache-Control %q, want no-cache", got)
		}
		if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options %q, want nosniff", got)
		}
		if got := hd.Get("Content-Encoding"); got != "" {
			t.Errorf("Content-Encoding %q: a compressed stream is buffered", got)
		}
	})
}

func TestSSE7_HeartbeatIsACommentLineWithoutBlankLine(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, Heartbeat: 50 * time.Millisecond}, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		s.expectRaw(t, ":\n")
		h.publish(t, "topic", "t", "id", "i", "data", "x")
		// Whatever heartbeats came meanwhile, each is exactly ":\n" and the
		// event follows directly: no blank line after a heartbeat.
		for {
			b, err := s.ReadN(2, arrive)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) == ":\n" {
				continue
			}
			rest, err := s.ReadN(len("id: i\ndata: x\n\n")-2, arrive)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b) + string(rest); got != "id: i\ndata: x\n\n" {
				t.Fatalf("after heartbeats read %q, want the event", got)
			}
			return
		}
	})
}

func TestSSE8_NoRetryUnlessPublisherSetsIt(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", "t"))
		h.publish(t, "topic", "t", "id", "a", "type", "ty")
		h.publish(t, "topic", "t", "id", "b", "retry", "2500")
		s.expectRaw(t, "event: ty\nid: a\ndata: \n\nretry: 2500\nid: b\ndata: \n\n")
	})
}
