package hub

import (
	"context"
	"strconv"

	"github.com/hermes-hub/hermes/transport"
)

// AnnotateParam is the query parameter with which a client asks for the
// routing annotations of hermes.js (the hub's shared-connection client,
// README "One connection for all tabs"). Only "1" turns them on. They are
// SSE comment lines, which EventSource and every SSE parser ignore, so the
// events themselves are unchanged; clients that do not ask get the shared
// frames byte for byte.
//
// Two comments are added:
//
//	:cursor ID        once, at the start of a stream without a replay: the
//	                  id of the last event before the live part ("earliest"
//	                  when history was empty), so that a client that must
//	                  reopen the stream before any event arrived resumes
//	                  from there without a gap.
//	:matches 0 2      first line of each event: the 0-based positions of
//	                  the request's matcher parameters (query order, then
//	                  QUERY body order) that match the update's topics.
//
// The positions say nothing the client did not send: they let one stream
// carrying the merged topics of many tabs route each update to the tabs that
// asked for it, without revealing the update's other topics.
const AnnotateParam = "hermes_annotate"

// wantsAnnotations reports whether the request asked for annotations.
func wantsAnnotations(query []pair) bool {
	for _, p := range query {
		if p.name == AnnotateParam {
			return p.value == "1"
		}
	}
	return false
}

// annotated returns the frame f of ev as s must receive it: f itself, or for
// an annotating subscriber a copy led by the matches comment.
func (s *subscriber) annotated(ev *transport.Event, f []byte) []byte {
	if !s.annotate {
		return f
	}
	b := make([]byte, 0, len(f)+len(":matches\n")+4*len(s.matchers))
	b = append(b, ":matches"...)
	for i, m := range s.matchers {
		if m.MatchAny(ev.Topics) {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(i), 10)
		}
	}
	b = append(b, '\n')
	return append(b, f...)
}

// liveCursor is the id of the last event a subscriber registered without a
// replay will not receive: the event at its minSeq. ok is false when that
// event is no longer stored (retention removed it), in which case no cursor
// can be given.
func (h *Hub) liveCursor(ctx context.Context, s *subscriber) (id string, ok bool) {
	h.reg.mu.Lock()
	seq, lastSeq, lastID := s.minSeq, h.reg.lastSeq, h.reg.lastID
	h.reg.mu.Unlock()
	if seq == 0 {
		return earliest, true
	}
	if seq == lastSeq && lastID != "" {
		return lastID, true
	}
	err := h.cfg.Transport.Replay(ctx, seq-1, seq, func(ev *transport.Event) error {
		id, ok = ev.ID, true
		return nil
	})
	if err != nil {
		return "", false
	}
	return id, ok
}
