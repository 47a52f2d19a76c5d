package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		base int
		want int
	}{
		{2 * mib, 100, 850},   // 2 MiB live: the minimum heap reaches 34 MiB first
		{8 * mib, 100, 400},   // 8 MiB live: the live heap's goal reaches 40 MiB first
		{32 * mib, 100, 100},  // as large as the floor: plain GOGC
		{48 * mib, 100, 67},   // larger: still the floor's headroom
		{64 * mib, 100, 50},   // twice the floor: half of GOGC
		{200 * mib, 100, 50},  // larger: half of GOGC, never less
		{16 * mib, 300, 200},  // the floor is farther than half of GOGC
		{100 * mib, 300, 150}, // half of a base the program set
		{0, 100, 800},         // empty: the floor through the minimum heap
	} {
		if got := gcPercentFor(c.live, 32*mib, c.base); got != c.want {
			t.Errorf("live %d, base %d: %d%%, want %d%%", c.live, c.base, got, c.want)
		}
	}
}

// The floor must show where it counts: fewer cycles of the collector for
// the same garbage, with a small live heap as a publishing hub has.
func TestGCFloorRunsTheCollectorLessOften(t *testing.T) {
	gcFloors.mu.Lock()
	defer gcFloors.mu.Unlock()
	if gcFloors.n != 0 {
		t.Fatal("a server's floor is running; this test compares with none")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	without := cyclesFor(256 << 20)
	f := newGCFloor(64<<20, debug.SetGCPercent)
	with := cyclesFor(256 << 20)
	f.stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("stop left the collector at %d%%, want 100%%", got)
	}
	t.Logf("cycles for 256 MiB of garbage: %d without a floor, %d with 64 MiB", without, with)
	if without < 16 {
		t.Fatalf("only %d cycles without a floor: the heap is not small enough to show it", without)
	}
	if with*4 > without {
		t.Fatalf("%d cycles with a floor of 64 MiB, %d without: want at most a quarter", with, without)
	}
}

// cyclesFor allocates n bytes of short-lived garbage and returns how many
// cycles of the collector ran meanwhile.
func cyclesFor(n int) uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	runtime.GC()
	metrics.Read(s)
	before := s[0].Value.Uint64()
	var keep [][]byte
	for i := 0; i < n/(8<<10); i++ {
		b := make([]byte, 8<<10)
		b[0] = byte(i)
		keep = append(keep, b)
		if len(keep) == 16 {
			keep = keep[:0] // a small live set, as a hub between publishes
		}
	}
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// After every cycle the floor follows the live heap: half of GOGC once the
// live heap is four times the floor, the floor again once it shrinks.
func TestGCFloorFollowsTheLiveHeap(t *testing.T) {
	var mu sync.Mutex
	last := -1
	record := func(p int) int {
		mu.Lock()
		defer mu.Unlock()
		prev := last
		if prev < 0 {
			prev = 100
		}
		last = p
		return prev
	}
	f := newGCFloor(16<<20, record)
	defer f.stop()
	waitFor := func(what string, ok func(p int) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC() // a cycle, after which the floor re-tunes
			mu.Lock()
			p := last
			mu.Unlock()
			if ok(p) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the floor still sets %d%%", what, p)
			}
			time.Sleep(10 * time.Millisecond) // lets the cleanup goroutine run
		}
	}
	waitFor("small live heap", func(p int) bool { return p > 100 })
	live := make([][]byte, 0, 64)
	for range 64 {
		live = append(live, make([]byte, 1<<20)) // 64 MiB live
	}
	// tune skips changes within an eighth, so the percentage set on the
	// way up may stay a little above half.
	waitFor("64 MiB live", func(p int) bool { return p >= 50 && p <= 56 })
	runtime.KeepAlive(live)
	live = nil
	waitFor("live heap released", func(p int) bool { return p > 100 })
}
