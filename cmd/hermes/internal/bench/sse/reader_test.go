package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll collects every event until the stream ends.
func readAll(r *Reader) ([]Event, error) {
	var evs []Event
	for {
		ev, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestReaderEvents(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []Event
	}{
		{"one event", "id: 1\ndata: hello\n\n", []Event{{ID: "1", Data: "hello"}}},
		{"multi-line data joined with LF", "data: a\ndata: b\n\n", []Event{{Data: "a\nb"}}},
		{"CRLF and CR line ends", "data: a\r\ndata: b\rid: x\r\n\r", []Event{{ID: "x", Data: "a\nb"}}},
		{"no space after colon", "data:a\nevent:t\n\n", []Event{{Type: "t", Data: "a"}}},
		{"only one leading space removed", "data:  a\n\n", []Event{{Data: " a"}}},
		{"field without colon", "data\n\n", []Event{{Data: ""}}},
		{"comments are not events", ": heartbeat\n\n:x\ndata: a\n\n", []Event{{Data: "a"}}},
		{"id persists to later events", "id: 7\ndata: a\n\ndata: b\n\n", []Event{{ID: "7", Data: "a"}, {ID: "7", Data: "b"}}},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", []Event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}},
		{"empty id resets", "id: 1\ndata: a\n\nid\ndata: b\n\n", []Event{{ID: "1", Data: "a"}, {ID: "", Data: "b"}}},
		{"type without data not dispatched and reset", "event: x\n\ndata: a\n\n", []Event{{Data: "a"}}},
		{"unterminated event discarded", "data: a\n\ndata: b\n", []Event{{Data: "a"}}},
		{"BOM at start stripped", "\xEF\xBB\xBFdata: a\n\n", []Event{{Data: "a"}}},
		{"BOM later is a field name", "data: a\n\n\xEF\xBB\xBFdata: b\n\n", []Event{{Data: "a"}}},
		{"unknown fields ignored", "foo: bar\ndata: a\n\n", []Event{{Data: "a"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				var src io.Reader = strings.NewReader(c.in)
				if chunked {
					src = iotest.OneByteReader(src)
				}
				got, err := readAll(NewReader(src, 16, 1<<10))
				if err != nil {
					t.Fatalf("chunked=%v: %v", chunked, err)
				}
				if !equalEvents(got, c.want) {
					t.Fatalf("chunked=%v: got %q, want %q", chunked, got, c.want)
				}
			}
		})
	}
}

func equalEvents(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A CR at the end of one read and the LF at the start of the next are one
// line end, not two (which would dispatch an event too early).
func TestReaderCRLFSplitAcrossReads(t *testing.T) {
	src := iotest.HalfReader(strings.NewReader("data: a\r\ndata: b\r\n\r\n"))
	r := NewReader(src, 16, 64)
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !equalEvents(got, []Event{{Data: "a\nb"}}) {
		t.Fatalf("got %q", got)
	}
}

func TestReaderRetryAndComments(t *testing.T) {
	r := NewReader(strings.NewReader(":hb\nretry: 1500\nretry: 1x\ndata: a\n\n:hb\n"), 16, 64)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if r.Retry() != 1500 {
		t.Fatalf("retry %d, want 1500 (an invalid later value is ignored)", r.Retry())
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want EOF", err)
	}
	if r.Comments() != 2 {
		t.Fatalf("%d comments, want 2", r.Comments())
	}
}

func TestReaderBoundsLinesAndData(t *testing.T) {
	long := "data: " + strings.Repeat("x", 200) + "\n\n"
	if _, err := NewReader(strings.NewReader(long), 16, 64).Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("long line: got %v, want ErrTooLarge", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("x", 20)+"\n", 10) + "\n"
	if _, err := NewReader(strings.NewReader(many), 16, 64).Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("many data lines: got %v, want ErrTooLarge", err)
	}
}

func TestReaderSourceError(t *testing.T) {
	boom := errors.New("boom")
	src := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	r := NewReader(src, 16, 64)
	if ev, err := r.Next(); err != nil || ev.Data != "a" {
		t.Fatalf("got %q, %v", ev, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the source's error", err)
	}
}
