package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// commitLog records HistoryCommit calls.
type commitLog struct {
	mu      sync.Mutex
	events  []int
	elapsed []time.Duration
}

func (l *commitLog) HistoryCommit(events int, d time.Duration) {
	l.mu.Lock()
	l.events = append(l.events, events)
	l.elapsed = append(l.elapsed, d)
	l.mu.Unlock()
}

// TestMetricsObserveEachCommit: one observation per committed transaction,
// with the events it stored (a batch counts whole) and a duration that
// includes the injected slowness; a failed commit is not observed.
func TestMetricsObserveEachCommit(t *testing.T) {
	var log commitLog
	var fail atomic.Bool
	const slow = 20 * time.Millisecond
	opts := Options{NoSync: true, Logger: testLog(), Metrics: &log}
	opts.faults = &faults{commit: func() error {
		if fail.Load() {
			return syscall.ENOSPC
		}
		time.Sleep(slow) // a slow disk, so that the duration is seen to be measured
		return nil
	}}
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), opts)
	drainFeed(tr)
	ctx := context.Background()
	if err := tr.Append(ctx, &transport.Event{ID: "a", Topics: []string{"t"}, Data: "d"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.AppendBatch(ctx, batchEvents("b", 3)); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := tr.Append(ctx, &transport.Event{ID: "c", Topics: []string{"t"}, Data: "d"}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append with a failing commit: %v", err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.events) != 2 || log.events[0] != 1 || log.events[1] != 3 {
		t.Fatalf("observed commits of %v events, want [1 3]", log.events)
	}
	for _, d := range log.elapsed {
		if d < slow {
			t.Fatalf("a commit that took at least %v observed as %v", slow, d)
		}
	}
}
