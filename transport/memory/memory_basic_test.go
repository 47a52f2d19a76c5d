package memory

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// TestTrimKeepsIndexExact checks the ring and the index at the point where
// the ring wraps, with an id repeated on both sides of the trim line.
func TestTrimKeepsIndexExact(t *testing.T) {
	tr := New(Options{Size: 3})
	defer tr.Close()
	go func() {
		for range tr.Feed() {
		}
	}()
	ctx := context.Background()
	ids := []string{"a", "b", "a", "c", "a", "d"}
	for _, id := range ids {
		if err := tr.Append(ctx, &transport.Event{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// Kept: 4 (c), 5 (a), 6 (d).
	for id, want := range map[string]uint64{"c": 4, "a": 5, "d": 6} {
		seq, ok, err := tr.Lookup(ctx, id)
		if err != nil || !ok || seq != want {
			t.Errorf("Lookup(%q) = %d, %v, %v; want %d", id, seq, ok, err, want)
		}
	}
	if _, ok, _ := tr.Lookup(ctx, "b"); ok {
		t.Error("trimmed id b still found")
	}
	var got []string
	err := tr.Replay(ctx, 0, 100, func(ev *transport.Event) error {
		got = append(got, fmt.Sprintf("%d%s", ev.Seq, ev.ID))
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[4c 5a 6d]" {
		t.Errorf("Replay = %v, %v", got, err)
	}
	if len(tr.index) != 3 {
		t.Errorf("index holds %d ids, want 3", len(tr.index))
	}
}

func TestAppendAfterClose(t *testing.T) {
	tr := New(Options{})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Append(context.Background(), &transport.Event{ID: "x"}); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if _, ok := <-tr.Feed(); ok {
		t.Fatal("feed not closed")
	}
}

// TestCloseUnblocksAppend: an Append blocked on a full feed returns when the
// transport closes instead of deadlocking Close.
func TestCloseUnblocksAppend(t *testing.T) {
	tr := New(Options{})
	ctx := context.Background()
	for i := 0; i < feedBuffer; i++ {
		if err := tr.Append(ctx, &transport.Event{ID: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	go func() { done <- tr.Append(ctx, &transport.Event{ID: "blocked"}) }()
	// The blocked Append has taken its Seq once LastSeq moves.
	deadline := time.Now().Add(10 * time.Second)
	for tr.LastSeq() != feedBuffer+1 {
		select {
		case err := <-done:
			t.Fatalf("Append returned %v with a full feed", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the extra Append never took a Seq")
		}
		runtime.Gosched()
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("blocked Append = %v, want ErrClosed", err)
	}
}
