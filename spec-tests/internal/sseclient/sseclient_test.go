package sseclient_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/spec-tests/internal/sseclient"
)

// TestParserFields: ids, types and multi-line data are read as the
// event-stream rules say; comments and blank lines without fields dispatch
// nothing; CRLF ends lines as LF does.
func TestParserFields(t *testing.T) {
	in := ":opener\n\n" +
		"id: 1\nevent: t\ndata: a\ndata: b\n\n" +
		"data:no space\r\n\r\n" +
		": heartbeat\n\n" +
		"id: 2\ndata\nunknown: x\n\n"
	p := sseclient.NewParser(strings.NewReader(in))
	want := []sseclient.Event{
		{ID: "1", Type: "t", Data: "a\nb"},
		{Data: "no space"},
		{ID: "2", Data: ""},
	}
	for i, w := range want {
		ev, err := p.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev != w {
			t.Fatalf("event %d: %+v, want %+v", i, ev, w)
		}
	}
	if _, err := p.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last event: %v, want io.EOF", err)
	}
}

// TestParserLineLimit: a line longer than MaxLineBytes is an error, not an
// unbounded read.
func TestParserLineLimit(t *testing.T) {
	p := sseclient.NewParser(strings.NewReader("data: " + strings.Repeat("x", sseclient.MaxLineBytes) + "\n\n"))
	if _, err := p.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("a line of more than %d bytes: %v, want an error", sseclient.MaxLineBytes, err)
	}
}

// FuzzParser: whatever the input, the parser ends with an error (io.EOF
// at the end of the input) and never returns an event holding a line
// terminator in its id or type.
func FuzzParser(f *testing.F) {
	f.Add("id: 1\ndata: a\n\n")
	f.Add("data: a\r\ndata: b\r\n\r\n:c\n")
	f.Add("event\n\nid:\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		p := sseclient.NewParser(strings.NewReader(in))
		for range len(in) + 1 {
			ev, err := p.Next()
			if err != nil {
				return
			}
			if strings.ContainsAny(ev.ID+ev.Type, "\n") {
				t.Fatalf("event %+v holds a newline", ev)
			}
		}
		t.Fatalf("more events than bytes of input in %q", in)
	})
}
