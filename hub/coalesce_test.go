package hub

import (
	"testing"
	"time"
)

// TestCoalesceWindowWidensOnlyWhileThePoolIsBusy: the window stays at its
// floor on a pool busy less than busyHigh of the time, widens step by step
// up to its ceiling while it is busier, holds in the band between, and
// comes back to the floor once the pool is idle again.
func TestCoalesceWindowWidensOnlyWhileThePoolIsBusy(t *testing.T) {
	var c coalescer
	c.init(10*time.Millisecond, 50*time.Millisecond, 1)
	c.adjust(0.5)
	if got := c.current(); got != 10*time.Millisecond {
		t.Fatalf("half busy: window %v, want the floor", got)
	}
	var widths []time.Duration
	for range 8 {
		c.adjust(0.95)
		widths = append(widths, c.current())
	}
	if widths[0] <= 10*time.Millisecond {
		t.Fatalf("busy: the window did not widen: %v", widths)
	}
	for i := 1; i < len(widths); i++ {
		if widths[i] < widths[i-1] {
			t.Fatalf("busy: the window narrowed: %v", widths)
		}
	}
	if last := widths[len(widths)-1]; last != 50*time.Millisecond {
		t.Fatalf("busy for long: window %v, want the ceiling", last)
	}
	c.adjust((busyLow + busyHigh) / 2)
	if got := c.current(); got != 50*time.Millisecond {
		t.Fatalf("in the band: window moved to %v", got)
	}
	for range 10 {
		c.adjust(0.05)
	}
	if got := c.current(); got != 10*time.Millisecond {
		t.Fatalf("idle again: window %v, want the floor", got)
	}
}

// TestCoalesceAccountsPerPeriod: runs are summed over a period and the
// window moves only when one has passed, by the busy fraction of the
// processors' time in it.
func TestCoalesceAccountsPerPeriod(t *testing.T) {
	var c coalescer
	c.init(10*time.Millisecond, 50*time.Millisecond, 1)
	c.periodStart.Store(c.clock())
	// A run as long as the whole period: fully busy.
	start := c.clock()
	c.account(start) // within the period: nothing moves yet
	if got := c.current(); got != 10*time.Millisecond {
		t.Fatalf("before the period ended: window %v", got)
	}
	c.periodStart.Store(c.clock() - int64(2*coalescePeriod))
	c.account(c.clock() - int64(2*coalescePeriod))
	if got := c.current(); got <= 10*time.Millisecond {
		t.Fatalf("a period spent running: window %v, want wider than the floor", got)
	}
	// A period with no run at all (an idle pool accounts nothing) and then
	// a tiny run: the busy fraction is near zero.
	w := c.current()
	c.periodStart.Store(c.clock() - int64(2*coalescePeriod))
	c.account(c.clock())
	if got := c.current(); got >= w {
		t.Fatalf("an idle period: window %v, want narrower than %v", got, w)
	}
}
