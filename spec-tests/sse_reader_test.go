package spectests_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// errDeadline is returned when what a read waits for did not arrive in time.
var errDeadline = errors.New("nothing arrived before the deadline")

// Stream reads an event stream. A goroutine copies the body into a channel
// so that every read can wait with a deadline (a client-side response body
// has no read deadline of its own).
type Stream struct {
	Resp *http.Response

	chunks <-chan []byte
	done   chan struct{}
	final  error // why the body ended; written before chunks is closed
	buf    []byte
	ended  bool
	err    error

	cancel    context.CancelFunc
	closeOnce sync.Once
}

func newStream(resp *http.Response, cancel context.CancelFunc) *Stream {
	ch := make(chan []byte)
	s := &Stream{Resp: resp, chunks: ch, done: make(chan struct{}), cancel: cancel}
	go s.pump(resp.Body, ch)
	return s
}

// pump copies the body into ch until it ends or the stream is closed.
func (s *Stream) pump(body io.Reader, ch chan<- []byte) {
	defer close(ch)
	for {
		b := make([]byte, 4096)
		n, err := body.Read(b)
		if n > 0 {
			select {
			case ch <- b[:n]:
			case <-s.done:
				s.final = errors.New("stream closed by the test")
				return
			}
		}
		if err != nil {
			s.final = err
			return
		}
	}
}

// Close ends the request and stops the reader goroutine.
func (s *Stream) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.cancel()
		s.Resp.Body.Close()
	})
}

// fill waits until the buffer holds at least n bytes, the body ends, or
// the deadline passes.
func (s *Stream) fill(n int, deadline time.Time) error {
	for len(s.buf) < n {
		if s.ended {
			return s.err
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case b, ok := <-s.chunks:
			timer.Stop()
			if !ok {
				s.ended = true
				s.err = s.final
				if s.err == nil {
					s.err = io.EOF
				}
				continue
			}
			s.buf = append(s.buf, b...)
		case <-timer.C:
			return errDeadline
		}
	}
	return nil
}

// ReadN returns exactly n bytes.
func (s *Stream) ReadN(n int, within time.Duration) ([]byte, error) {
	if err := s.fill(n, time.Now().Add(within)); err != nil {
		return nil, fmt.Errorf("reading %d bytes (have %q): %w", n, s.buf, err)
	}
	out := bytes.Clone(s.buf[:n])
	s.buf = s.buf[n:]
	return out, nil
}

// ReadLine returns the next line including its "\n".
func (s *Stream) ReadLine(within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	for {
		if i := bytes.IndexByte(s.buf, '\n'); i >= 0 {
			line := string(s.buf[:i+1])
			s.buf = s.buf[i+1:]
			return line, nil
		}
		if err := s.fill(len(s.buf)+1, deadline); err != nil {
			return "", fmt.Errorf("reading a line (have %q): %w", s.buf, err)
		}
	}
}

// ReadAll reads until the body ends and returns what came. The error is nil
// at a clean end, errDeadline if the stream was still open after within,
// or whatever else ended the body (a reset).
func (s *Stream) ReadAll(within time.Duration) ([]byte, error) {
	deadline := time.Now().Add(within)
	for {
		err := s.fill(len(s.buf)+1, deadline)
		if err == nil {
			continue
		}
		out := s.buf
		s.buf = nil
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		return out, err
	}
}

// Event is one parsed SSE event.
type Event struct {
	ID       string
	HasID    bool
	Type     string
	Retry    string
	HasRetry bool
	Data     []string // one entry per data line
	Comments []string // comment lines read before and inside the event
	Raw      string   // the field lines and the blank line, as received
}

// DataString is the data as EventSource reports it: lines joined by "\n".
func (e *Event) DataString() string { return strings.Join(e.Data, "\n") }

// NextEvent parses lines until a blank line ends an event that has at least
// one field. Comments are kept aside (heartbeats).
func (s *Stream) NextEvent(within time.Duration) (*Event, error) {
	deadline := time.Now().Add(within)
	ev := &Event{}
	var raw strings.Builder
	fields := 0
	for {
		line, err := s.ReadLine(time.Until(deadline))
		if err != nil {
			return nil, fmt.Errorf("reading an event (so far %q): %w", raw.String(), err)
		}
		body := strings.TrimRight(line, "\r\n")
		switch {
		case body == "":
			if fields == 0 {
				continue
			}
			raw.WriteString(line)
			ev.Raw = raw.String()
			return ev, nil
		case strings.HasPrefix(body, ":"):
			ev.Comments = append(ev.Comments, body[1:])
			continue
		}
		raw.WriteString(line)
		fields++
		name, value, _ := strings.Cut(body, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			ev.ID, ev.HasID = value, true
		case "event":
			ev.Type = value
		case "retry":
			ev.Retry, ev.HasRetry = value, true
		case "data":
			ev.Data = append(ev.Data, value)
		}
	}
}

// ---------------------------------------------------------------------------
// Assertions

// event returns the next event or fails the test.
func (s *Stream) event(t testing.TB) *Event {
	t.Helper()
	ev, err := s.NextEvent(arrive)
	if err != nil {
		t.Fatalf("waiting for an event: %v", err)
	}
	return ev
}

// expectIDs requires the next events to carry exactly these ids, in order.
// To prove that an update was NOT delivered, publish it, then a marker the
// stream does receive, and expect the marker: delivery order is publication
// order, so anything forbidden would have come first.
func (s *Stream) expectIDs(t testing.TB, ids ...string) {
	t.Helper()
	for i, want := range ids {
		ev, err := s.NextEvent(arrive)
		if err != nil {
			t.Fatalf("event %d of %q: %v", i, ids, err)
		}
		if ev.ID != want {
			t.Fatalf("event %d: id %q (data %q), want %q (expected sequence %q)", i, ev.ID, ev.DataString(), want, ids)
		}
	}
}

// expectRaw requires the next bytes of the stream to be exactly want.
func (s *Stream) expectRaw(t testing.TB, want string) {
	t.Helper()
	got, err := s.ReadN(len(want), arrive)
	if err != nil {
		t.Fatalf("waiting for %q: %v", want, err)
	}
	if string(got) != want {
		t.Fatalf("stream bytes %q, want %q", got, want)
	}
}

// expectEnd requires the server to end the stream within d.
func (s *Stream) expectEnd(t testing.TB, d time.Duration) {
	t.Helper()
	_, err := s.ReadAll(d)
	if errors.Is(err, errDeadline) {
		t.Fatalf("the stream was still open after %v", d)
	}
}
