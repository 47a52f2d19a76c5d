package main

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The garbage collector runs when the heap has grown by GOGC percent of
// what the last cycle found live, and at 4 MiB at the earliest. A hub's
// live heap is small until it holds many subscribers (a few MiB), and
// every publish allocates a few KiB (the request, the event, the frame,
// bbolt's pages and nodes): 64 publishers on one core made the collector
// run 65 times a second, each cycle with its fixed costs (stopping the
// world twice, scanning every goroutine's stack). gcFloor gives the heap
// a floor of headroom instead: after every cycle it sets the percentage
// so that the next one starts at the larger of GOGC's goal and the live
// heap plus floor bytes; a small hub may hold up to floor bytes more.
//
// A large live heap is the other end: tens of thousands of subscribers,
// each a few KiB of state that lives as long as its connection. Plain
// GOGC lets the heap grow by all of it before a cycle, so the process
// holds twice its subscribers' state, and memory per subscriber is what
// decides how many browsers a machine holds. The garbage between cycles
// comes from traffic (connects, publishes), not from the subscribers
// held, so it needs no room in proportion to them: above twice the floor
// the percentage is half the base, and the heap may grow by half of what
// is live. The two meet where live/2 equals the floor, so the headroom
// never shrinks as the heap grows: max(floor, live/2).
//
// Measured (README, "Figures on a 2-core machine"): 64 keep-alive
// publishers, bolt with fsync, the hub on one core: 19,600-21,100
// publishes/s at 40-43 µs of hub CPU each without a floor, 25,400-27,300/s
// with GOGC=800 (a 32 MiB floor's start on a 2 MiB live heap). Later,
// floors of 16 and 32 MiB interleaved: 23,800-24,300/s against 25,500/s,
// and 7.4 against 7.7 KiB of RSS per idle subscriber at 19,000 of them
// (7.1 without a floor): 16 MiB keeps room under the goal of 8 KiB.
//
// Measured with 19,000 idle subscribers (about 3 KiB live each), the hub
// on one core: 7.3-8.1 KiB of RSS per subscriber at plain GOGC above the
// floor, 5.5-5.7 KiB with half of it, CPU per connect the same within the
// noise. The cost is a cycle for every live/2 of garbage instead of every
// live: more cycles only where the live heap is large (a 5,000-subscriber
// fan-out's is about 11 MiB and keeps the floor), each as costly as before.
//
// An explicit GOGC (or GOGC=off) is the operator's choice and is kept; a
// GOMEMLIMIT still bounds the heap, floor or not.

// gcHeadroom is the floor: the heap may grow by this much between cycles.
const gcHeadroom = 16 << 20

// gcPercentFor is the smallest GOGC percentage that makes the next cycle
// start at live+floor or later, and at least half of base (a live heap
// above twice the floor grows by half of itself, see above). The runtime
// starts a cycle at the larger of live*(1+p/100) and its minimum heap,
// which it scales with the percentage too (4 MiB*p/100): below 4 MiB of
// live heap the minimum is what reaches the floor first.
func gcPercentFor(live, floor uint64, base int) int {
	target := float64(live) + float64(floor)
	p := target * 100 / runtimeHeapMinimum // through the minimum heap
	if live > 0 {
		p = min(p, float64(floor)*100/float64(live)) // through the live heap
	}
	return max(int(math.Ceil(p)), max(base/2, 1))
}

// runtimeHeapMinimum is the runtime's minimum heap at GOGC=100.
const runtimeHeapMinimum = 4 << 20

// gcFloor re-tunes the collector after each of its cycles.
type gcFloor struct {
	floor uint64
	base  int
	set   func(int) int // debug.SetGCPercent; tests record its calls

	// mu orders tune, which runs on the runtime's cleanup goroutine,
	// with stop: once stop has restored the base, no tune may follow.
	mu      sync.Mutex
	stopped bool
	sample  []metrics.Sample
	percent int
}

// gcFloors is the process's floor, shared by the servers it runs (tests
// run several): the first start creates it, the last stop undoes it.
var gcFloors struct {
	mu sync.Mutex
	n  int
	f  *gcFloor
}

// startGCFloor starts the floor unless GOGC is set; stop undoes it.
func (a *app) startGCFloor(logger *slog.Logger) (stop func()) {
	if _, explicit := a.env("GOGC"); explicit {
		return func() {}
	}
	gcFloors.mu.Lock()
	defer gcFloors.mu.Unlock()
	if gcFloors.n == 0 {
		gcFloors.f = newGCFloor(gcHeadroom, debug.SetGCPercent)
		logger.Debug("garbage collector floor", "headroom_bytes", gcFloors.f.floor)
	}
	gcFloors.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			gcFloors.mu.Lock()
			defer gcFloors.mu.Unlock()
			if gcFloors.n--; gcFloors.n == 0 {
				gcFloors.f.stop()
				gcFloors.f = nil
			}
		})
	}
}

func newGCFloor(floor uint64, set func(int) int) *gcFloor {
	f := &gcFloor{
		floor:  floor,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
		set:    set,
	}
	// The percentage in force now (100 unless the program changed it)
	// is the base the floor never goes below.
	f.base = set(100)
	set(f.base)
	f.percent = f.base
	f.tune()
	f.arm()
	return f
}

// arm asks for a call of tune after the next cycle: a sentinel that only
// the collector can find unreachable.
func (f *gcFloor) arm() {
	s := new(gcSentinel)
	runtime.AddCleanup(s, func(f *gcFloor) {
		if f.tune() {
			f.arm()
		}
	}, f)
}

type gcSentinel struct{ _ *int } // a pointer: never a tiny allocation, which may outlive its cycle

// tune sets the percentage for the live heap the last cycle found; it
// reports false once the floor is stopped.
func (f *gcFloor) tune() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.sample)
	if f.sample[0].Value.Kind() != metrics.KindUint64 {
		return true
	}
	p := gcPercentFor(f.sample[0].Value.Uint64(), f.floor, f.base)
	// Small changes are not worth a call (it takes the heap's lock).
	if p != f.percent && (p > f.percent*9/8 || p < f.percent*7/8 || p == f.base) {
		f.percent = p
		f.set(p)
	}
	return true
}

func (f *gcFloor) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.stopped = true
		f.set(f.base)
	}
}
