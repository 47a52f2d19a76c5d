package hub

import (
	"sync/atomic"
	"time"
)

// coalescer sets the coalescing window of taken-over connections (the
// least time between two writes of frames to one connection, h1conn.go)
// from how busy the writer pool is.
//
// Why adaptive: a write costs the same 8-20 µs of system call whether it
// carries one frame or five (most of it is the kernel's TCP work, on
// loopback also the reader's side), so when thousands of subscribers each
// receive tens of updates a second, the hub's CPU goes to writes, not to
// frames. A fixed window short enough for a quiet hub (10 ms) merges
// nothing at 30 updates/s; one long enough to merge them would add its
// length to the latency of every busy stream on a quiet hub too. So the
// window starts at the floor and widens only while the writer pool is busy
// for more than busyHigh of its period, and narrows back once it is below
// busyLow: the latency it adds is paid only when the alternative is a hub
// whose writes fall behind, where every frame waits for a whole pass over
// the subscribers anyway. A stream receiving fewer updates per second than
// one per window is never held (its first frame after a quiet period is
// written at once), whatever the window.
//
// Measured (README, "Figures on a 2-core machine"): 5,000 subscribers of
// one topic at 30 updates/s.
type coalescer struct {
	floor, ceiling time.Duration
	procs          int64
	epoch          time.Time

	window      atomic.Int64 // ns, the current window
	busy        atomic.Int64 // ns the pool's workers ran during this period
	periodStart atomic.Int64 // ns since epoch
}

const (
	// coalescePeriod is how often the window is reconsidered.
	coalescePeriod = 100 * time.Millisecond
	// maxCoalesceWindow is the widest the window becomes under load: it
	// bounds the latency the window adds to a stream. Measured with 5,000
	// subscribers of one topic at 30 updates/s on one core (README,
	// "Figures on a 2-core machine"): at 50 ms the hub stayed saturated
	// (97 % of its core, p99 90-150 ms from run to run), at 80 ms it had
	// room (75 %) but every busy stream waited up to 80 ms (p99 100-105
	// ms); 60 ms left the hub at 86-92 % with p99 87-91 ms in each run.
	maxCoalesceWindow = 60 * time.Millisecond
	// busyHigh and busyLow are the pool's busy fractions (of the
	// processors' time in a period) above which the window widens and
	// below which it narrows; the band between keeps it from swinging.
	busyHigh = 0.6
	busyLow  = 0.3
)

func (c *coalescer) init(floor, ceiling time.Duration, procs int) {
	c.floor, c.ceiling = floor, max(floor, ceiling)
	c.procs = int64(max(1, procs))
	c.epoch = time.Now()
	c.window.Store(int64(floor))
}

// clock is the time since the coalescer's epoch, on the monotonic clock.
func (c *coalescer) clock() int64 { return int64(time.Since(c.epoch)) }

// current is the window now.
func (c *coalescer) current() time.Duration { return time.Duration(c.window.Load()) }

// account adds a worker's run that started at start (runs of workers at
// the same time add up, and a run waiting in the poller for room in a slow
// client's socket counts: both are a pool falling behind), and once a period
// has passed, moves the window by how busy the pool was in it. It returns
// the clock it read, which the worker takes as its next run's start.
func (c *coalescer) account(start int64) int64 {
	now := c.clock()
	busy := c.busy.Add(now - start)
	ps := c.periodStart.Load()
	elapsed := now - ps
	if elapsed < int64(coalescePeriod) || !c.periodStart.CompareAndSwap(ps, now) {
		return now
	}
	c.busy.Add(-busy) // what later runs add belongs to the new period
	c.adjust(float64(busy) / float64(elapsed*c.procs))
	return now
}

// adjust widens the window by half when the pool was busier than
// busyHigh, narrows it by a third when it was idler than busyLow.
func (c *coalescer) adjust(busyFraction float64) {
	w := c.window.Load()
	switch {
	case busyFraction > busyHigh:
		w = min(w+w/2, int64(c.ceiling))
	case busyFraction < busyLow:
		w = max(w-w/3, int64(c.floor))
	default:
		return
	}
	c.window.Store(w)
}
