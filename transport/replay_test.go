package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
}

// TestBudgetBoundsAndOrder: the budget never grants more than its
// capacity, a request larger than the capacity is reduced to it, and
// waiters are served in arrival order (a large request is not overtaken by
// small ones that would fit).
func TestBudgetBoundsAndOrder(t *testing.T) {
	ctx := context.Background()
	b := transport.NewBudget(100)
	if n, err := b.Acquire(ctx, 1000); err != nil || n != 100 {
		t.Fatalf("Acquire(1000) on a budget of 100: %d, %v; want 100", n, err)
	}
	b.Release(100)

	first, _ := b.Acquire(ctx, 60)
	got := make(chan int64, 2)
	go func() { n, _ := b.Acquire(ctx, 80); got <- n }()
	waitUntil(t, "the large request to wait", func() bool { return b.Waiting() == 1 })
	go func() { n, _ := b.Acquire(ctx, 10); got <- n }()
	waitUntil(t, "the small request to queue behind it", func() bool { return b.Waiting() == 2 })
	if n := b.InUse(); n != 60 {
		t.Fatalf("in use %d, want 60: the small request overtook the large one", n)
	}
	b.Release(first)
	if a, c := <-got, <-got; a+c != 90 {
		t.Fatalf("served %d and %d, want 80 and 10", a, c)
	}
	if n := b.InUse(); n != 90 {
		t.Fatalf("in use %d, want 90", n)
	}
	b.Release(90)

	// A cancelled waiter takes nothing and does not block those behind it.
	hold, _ := b.Acquire(ctx, 100)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := b.Acquire(cctx, 50); errc <- err }()
	waitUntil(t, "the request to wait", func() bool { return b.Waiting() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire: %v", err)
	}
	b.Release(hold)
	if n := b.InUse(); n != 0 || b.Waiting() != 0 {
		t.Fatalf("in use %d, waiting %d after everything was released", n, b.Waiting())
	}
}
