//go:build unix

package binary_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// eventTimeout bounds the wait for each event that must arrive: generous,
// because -race on two shared cores is slow, and only paid when a test
// fails.
const eventTimeout = 20 * time.Second

// maxLineBytes caps one SSE line read from the hub.
const maxLineBytes = 1 << 20

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	ID, Type, Data string
}

// sseItem is what the reading goroutine hands over: an event, or the error
// that ended the stream.
type sseItem struct {
	ev  sseEvent
	err error
}

// sseStream is an open subscription. Its reader goroutine parses events
// into a channel, so every read can have its own deadline.
type sseStream struct {
	h      *hubProc
	header http.Header
	// markerTopic is a public topic only this stream subscribes to, for
	// the marker technique (see untilMarker).
	markerTopic string
	items       chan sseItem
	cancel      context.CancelFunc
	quit        chan struct{}
	closeOnce   sync.Once
	finished    chan struct{} // closed when the reader goroutine returned
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
	s := &sseStream{
		h:           h,
		markerTopic: fmt.Sprintf("https://example.com/markers/%d", markerSeq.Add(1)),
		items:       make(chan sseItem),
		quit:        make(chan struct{}),
		finished:    make(chan struct{}),
	}
	q := url.Values{}
	for _, tp := range o.topics {
		q.Add("topic", tp)
	}
	q.Add("topic", s.markerTopic)
	for k, vs := range o.query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.endpoint()+"?"+q.Encode(), nil)
	if err != nil {
		cancel()
		t.Fatalf("subscribe request: %v", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if o.tok != "" {
		req.Header.Set("Authorization", "Bearer "+o.tok)
	}
	if o.lastEventID != "" {
		req.Header.Set("Last-Event-ID", o.lastEventID)
	}
	// The headers of an event stream come at once (SSE-5); this bound only
	// turns a hang into a failure.
	headerTimer := time.AfterFunc(eventTimeout, cancel)
	resp, err := h.client.Do(req)
	headerTimer.Stop()
	if err != nil {
		cancel()
		t.Fatalf("subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe %s: status %d (%s), want 200", req.URL.RawQuery, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe: Content-Type %q, want text/event-stream", ct)
	}
	s.header = resp.Header
	go s.read(resp.Body)
	t.Cleanup(s.close)
	return s
}

// close ends the subscription and waits for the reader goroutine.
func (s *sseStream) close() {
	s.closeOnce.Do(func() {
		close(s.quit)
		s.cancel()
	})
	<-s.finished
}

// read parses the stream (WHATWG event-stream rules, as far as Mercure
// uses them) until it ends or the stream is closed.
func (s *sseStream) read(body io.ReadCloser) {
	defer close(s.finished)
	defer body.Close()
	br := bufio.NewReaderSize(body, 64<<10)
	var ev sseEvent
	var data []string
	seen := false
	send := func(it sseItem) bool {
		select {
		case s.items <- it:
			return true
		case <-s.quit:
			return false
		}
	}
	for {
		line, err := readLine(br)
		if err != nil {
			send(sseItem{err: err})
			return
		}
		switch {
		case line == "":
			if seen {
				ev.Data = strings.Join(data, "\n")
				if !send(sseItem{ev: ev}) {
					return
				}
			}
			ev, data, seen = sseEvent{}, nil, false
		case strings.HasPrefix(line, ":"):
			// comment: the stream opener and heartbeats
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID, seen = value, true
			case "event":
				ev.Type, seen = value, true
			case "data":
				data, seen = append(data, value), true
			}
		}
	}
}

// readLine reads one line without its terminator (LF, CRLF; the hub never
// sends a lone CR), refusing lines longer than maxLineBytes.
func readLine(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		frag, err := br.ReadSlice('\n')
		sb.Write(frag)
		if sb.Len() > maxLineBytes {
			return "", fmt.Errorf("an SSE line is longer than %d bytes", maxLineBytes)
		}
		switch {
		case err == nil:
			return strings.TrimSuffix(strings.TrimSuffix(sb.String(), "\n"), "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return "", err
		}
	}
}

// nextWithin returns the next event, or ok=false when none arrived within d.
// A stream that ended is an error.
func (s *sseStream) nextWithin(d time.Duration) (ev sseEvent, ok bool, err error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case it := <-s.items:
		if it.err != nil {
			return sseEvent{}, false, fmt.Errorf("the stream ended: %w", it.err)
		}
		return it.ev, true, nil
	case <-timer.C:
		return sseEvent{}, false, nil
	}
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
	var got []sseEvent
	for {
		ev := s.next(t)
		if ev.ID == marker {
			return got
		}
		got = append(got, ev)
	}
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
func eventIDs(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}
