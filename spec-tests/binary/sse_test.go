//go:build unix

package binary_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/internal/sseclient"
)

// eventTimeout bounds the wait for each event that must arrive: generous,
// because -race on two shared cores is slow, and only paid when a test
// fails.
const eventTimeout = 20 * time.Second

// sseEvent is one dispatched server-sent event.
type sseEvent = sseclient.Event

// sseStream is an open subscription.
type sseStream struct {
	*sseclient.Stream
	h      *hubProc
	header http.Header
	// markerTopic is a public topic only this stream subscribes to, for
	// the marker technique (see untilMarker).
	markerTopic string
}

// subOptions describe one subscribe request.
type subOptions struct {
	topics []string
	// tok is the subscriber token; empty sends none (anonymous).
	tok string
	// query holds extra query parameters (cursor spellings).
	query url.Values
	// lastEventID is sent as the Last-Event-ID header when non-empty.
	lastEventID string
}

var markerSeq atomic.Uint64

// subscribe opens a subscription and returns once the response headers
// arrived. It fails the test unless the hub answers 200 with an event
// stream. The stream is closed by a cleanup if the test does not close it.
func (h *hubProc) subscribe(t *testing.T, o subOptions) *sseStream {
	t.Helper()
	marker := fmt.Sprintf("https://example.com/markers/%d", markerSeq.Add(1))
	st, err := sseclient.Subscribe(h.client, h.endpoint(), sseclient.Request{
		Topics:      append(slices.Clip(o.topics), marker),
		Token:       o.tok,
		Query:       o.query,
		LastEventID: o.lastEventID,
	}, eventTimeout) // the headers of an event stream come at once (SSE-5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &sseStream{Stream: st, h: h, header: st.Header, markerTopic: marker}
}

// close ends the subscription and waits for its reader.
func (s *sseStream) close() { s.Close() }

// nextWithin returns the next event, or ok=false when none arrived within d.
// A stream that ended is an error.
func (s *sseStream) nextWithin(d time.Duration) (ev sseEvent, ok bool, err error) {
	return s.Next(d)
}

// next returns the next event and fails the test when none arrives within
// eventTimeout.
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	ev, ok, err := s.nextWithin(eventTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("no event within %v", eventTimeout)
	}
	return ev
}

// untilMarker publishes a public marker on the stream's own marker topic
// and returns every event that arrives before it. This is how a test shows
// that something is NOT delivered without sleeping: the marker is
// published after the response headers arrived, so it must be delivered,
// and the stream is ordered, so whatever was going to be sent before it
// has been.
func (s *sseStream) untilMarker(t *testing.T) []sseEvent {
	t.Helper()
	marker := fmt.Sprintf("marker-%d", markerSeq.Add(1))
	s.h.mustPublish(t, update{topics: []string{s.markerTopic}, id: marker, data: "marker"})
	got, err := s.Until(marker, eventTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// expectIDs reads exactly len(want) events and checks their ids in order.
func (s *sseStream) expectIDs(t *testing.T, want ...string) {
	t.Helper()
	for i, id := range want {
		ev := s.next(t)
		if ev.ID != id {
			t.Fatalf("event %d: id %q, want %q (expected sequence %q)", i, ev.ID, id, want)
		}
	}
}

// checkCursorHeaders checks both cursor response headers (REC-11, LEG-16).
func (s *sseStream) checkCursorHeaders(t *testing.T, want string) {
	t.Helper()
	for _, name := range []string{"Mercure-Last-Event-ID", "Last-Event-ID"} {
		if got := s.header.Values(name); !slices.Equal(got, []string{want}) {
			t.Errorf("response header %s = %q, want [%q]", name, got, want)
		}
	}
}

// eventIDs lists the ids of evs.
func eventIDs(evs []sseEvent) []string { return sseclient.IDs(evs) }
