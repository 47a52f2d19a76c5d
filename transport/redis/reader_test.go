package redis

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/internal/redistest"
	"github.com/hermes-hub/hermes/transport"
)

// TestReadPageBoundsAndCheck: the feed's plain read answers what the poll
// script answers: pages bounded in events and in payload bytes (one entry
// at least, whatever its size), the entry at the position left out, and
// the epoch and last seq of the stream.
func TestReadPageBoundsAndCheck(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tr := openTest(t, srv, fastOpts("page"))
	collect(tr)
	big := strings.Repeat("x", pageBytes*2/5) // two fit in a page, three do not
	for i := range 6 {
		ev := &transport.Event{ID: fmt.Sprint("big-", i), Topics: []string{"t"}, Data: big}
		if err := tr.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	huge := &transport.Event{ID: "huge", Topics: []string{"t"}, Data: strings.Repeat("y", pageBytes+1)}
	if err := tr.Append(context.Background(), huge); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustAppend(t, tr, fmt.Sprint("small-", i))
	}
	tr.mu.Lock()
	epoch := tr.epoch
	tr.mu.Unlock()
	ctx := context.Background()
	ids := func(r pollResult) []string {
		var out []string
		for _, e := range r.entries {
			_, id, _, err := entryFields(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		pos   uint64
		posID string
		count int
		want  string
	}{
		{"from the start, bounded by bytes", 0, "", 256, "big-0 big-1"},
		{"after a checked position", 2, "big-1", 256, "big-2 big-3"},
		{"one entry over the budget alone", 6, "big-5", 256, "huge"},
		{"bounded by count", 7, "huge", 2, "small-0 small-1"},
		{"at the head", 10, "small-2", 256, ""},
	} {
		r, err := tr.readPage(ctx, epoch, c.pos, c.posID != "", c.posID, c.count)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.Join(ids(r), " "); got != c.want || r.epoch != epoch || r.seq != 10 {
			t.Fatalf("%s: entries %q, epoch %q, seq %d; want %q, %q, 10", c.name, got, r.epoch, r.seq, c.want, epoch)
		}
	}
	// Another epoch than the caller's: no entries, the stream's epoch.
	r, err := tr.readPage(ctx, "an old epoch", 2, true, "big-1", 256)
	if err != nil || r.epoch != epoch || len(r.entries) != 0 {
		t.Fatalf("with a stale epoch: %v, epoch %q, %d entries; want %q and none", err, r.epoch, len(r.entries), epoch)
	}
	// The entry at the position is another event (a rollback): the read
	// hands over to the script, which starts a new epoch.
	r, err = tr.readPage(ctx, epoch, 2, true, "not-big-1", 256)
	if err != nil || r.epoch == epoch || len(r.entries) != 0 {
		t.Fatalf("after a rollback: %v, epoch %q, %d entries; want a new epoch and none", err, r.epoch, len(r.entries))
	}
	waitLoss(t, tr)
}
