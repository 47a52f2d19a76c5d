package hub

import (
	"bufio"
	"net/url"
	"strings"
	"testing"
	"time"
)

// readEvent reads lines up to the blank line that ends one event, with a
// deadline, and returns them without their line ends.
func readEvent(t *testing.T, r *bufio.Reader) []string {
	t.Helper()
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var lines []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				done <- result{lines, err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				done <- result{lines, nil}
				return
			}
			lines = append(lines, line)
		}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatalf("reading an event: %v (got %q)", res.err, res.lines)
		}
		return res.lines
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return nil
	}
}

// TestAnnotationsListMatchingParametersOnlyForClientsThatAsk subscribes
// twice to the same matchers, once with hermes_annotate=1: the annotated
// stream's events start with the positions of the matchers that match the
// update's topics, and the plain stream gets the frame byte for byte.
func TestAnnotationsListMatchingParametersOnlyForClientsThatAsk(t *testing.T) {
	_, srv := newTestHub(t, 100)
	q := "topic=" + url.QueryEscape("https://e.com/a") +
		"&match=" + url.QueryEscape("https://e.com/b") +
		"&topic=" + url.QueryEscape("https://e.com/{x}")
	plain := openStream(t, srv, q, nil)
	annotated := openStream(t, srv, q+"&"+AnnotateParam+"=1", nil)
	if line, err := annotated.r.ReadString('\n'); err != nil || line != ":cursor earliest\n" {
		t.Fatalf("annotated stream's cursor line: %q, %v; want the empty history's cursor", line, err)
	}

	for _, c := range []struct {
		topics []string
		want   string
	}{
		{[]string{"https://e.com/b"}, ":matches 1 2"},
		{[]string{"https://e.com/a", "https://other/x"}, ":matches 0 2"},
		{[]string{"https://e.com/zzz"}, ":matches 2"},
	} {
		form := url.Values{"topic": c.topics, "data": {"d"}, "id": {c.want}}
		if code, _ := post(t, srv, form, nil); code != 200 {
			t.Fatalf("publish: %d", code)
		}
		got := readEvent(t, annotated.r)
		if len(got) != 3 || got[0] != c.want || got[1] != "id: "+c.want || got[2] != "data: d" {
			t.Errorf("annotated event for %v: %q, want %q then the event", c.topics, got, c.want)
		}
		if got := readEvent(t, plain.r); len(got) != 2 || got[0] != "id: "+c.want {
			t.Errorf("plain event for %v: %q, want the frame unchanged", c.topics, got)
		}
	}
}

// TestAnnotationsCursorNamesTheLastEventBeforeTheLiveStream: a client that
// reopens its stream from the announced cursor gets exactly what was
// published after it, annotated, even though it received no event on the
// first stream.
func TestAnnotationsCursorNamesTheLastEventBeforeTheLiveStream(t *testing.T) {
	_, srv := newTestHub(t, 100)
	publishID(t, srv, "t", "before")
	s := openStream(t, srv, "topic=u&"+AnnotateParam+"=1", nil)
	line, err := s.r.ReadString('\n')
	if err != nil || line != ":cursor before\n" {
		t.Fatalf("cursor line %q, %v; want the last stored event", line, err)
	}
	publishID(t, srv, "t", "missed")
	// Reopened with one more topic, from the cursor: the update on t
	// published in between is replayed, with its matcher position.
	r := openStream(t, srv, "topic=u&topic=t&last_event_id=before&"+AnnotateParam+"=1", nil)
	got := readEvent(t, r.r)
	if len(got) < 2 || got[0] != ":matches 1" || got[1] != "id: missed" {
		t.Fatalf("replayed event %q, want the missed update with its matcher position", got)
	}
}
