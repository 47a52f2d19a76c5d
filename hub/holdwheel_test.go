package hub

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// recordReleases returns a wheel whose releases are recorded, and a
// function that waits until n releases were recorded and returns them.
func recordReleases(t *testing.T) (*holdWheel, func(n int) map[*h1conn][]time.Time) {
	var mu sync.Mutex
	got := map[*h1conn][]time.Time{}
	count := 0
	w := newHoldWheel(func(c *h1conn, at time.Time) {
		now := time.Now()
		mu.Lock()
		got[c] = append(got[c], now)
		count++
		mu.Unlock()
	})
	t.Cleanup(func() { w.timer.Stop() })
	wait := func(n int) map[*h1conn][]time.Time {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			c := count
			mu.Unlock()
			if c >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d holds released", c, n)
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	return w, wait
}

// TestHoldWheelReleasesEachHoldOnceAndNotBeforeItsMoment: holds added in
// any order, some already due, each end exactly once and never early.
func TestHoldWheelReleasesEachHoldOnceAndNotBeforeItsMoment(t *testing.T) {
	w, wait := recordReleases(t)
	const n = 500
	conns := make([]*h1conn, n)
	ats := map[*h1conn]time.Time{}
	now := time.Now()
	for i := range conns {
		conns[i] = &h1conn{}
		at := now.Add(time.Duration(rand.IntN(80)-10) * time.Millisecond)
		ats[conns[i]] = at
		w.add(conns[i], at, time.Now())
	}
	got := wait(n)
	for _, c := range conns {
		r := got[c]
		if len(r) != 1 {
			t.Fatalf("a hold was released %d times", len(r))
		}
		if r[0].Before(ats[c]) {
			t.Fatalf("a hold ending at %v was released %v early", ats[c], ats[c].Sub(r[0]))
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending != 0 || w.armed != -1 {
		t.Fatalf("after every release: %d pending, timer armed for tick %d", w.pending, w.armed)
	}
}

// TestHoldWheelReleasesAHoldBeyondItsRing: a moment further than the ring
// reaches is released early (the connection then holds again), not lost.
func TestHoldWheelReleasesAHoldBeyondItsRing(t *testing.T) {
	w, wait := recordReleases(t)
	c := &h1conn{}
	w.add(c, time.Now().Add(time.Hour), time.Now())
	if got := wait(1); len(got[c]) != 1 {
		t.Fatalf("released %d times", len(got[c]))
	}
}

func TestHoldWheelCoversTheWidestWindow(t *testing.T) {
	if maxCoalesceWindow >= (holdSlots-1)*holdTick {
		t.Fatalf("the coalescing window reaches %v, the hold wheel only %v", maxCoalesceWindow, (holdSlots-1)*holdTick)
	}
}

// BenchmarkHoldRelease holds 5,000 connections for a millisecond and waits
// until every one is released: through the wheel, and through a timer per
// connection as before the wheel (a Reset per hold, a goroutine per
// firing). ns/op is one round of 5,000, the millisecond included.
func BenchmarkHoldRelease(b *testing.B) {
	const n = 5000
	conns := make([]*h1conn, n)
	for i := range conns {
		conns[i] = &h1conn{}
	}
	var wg sync.WaitGroup
	b.Run("wheel", func(b *testing.B) {
		w := newHoldWheel(func(*h1conn, time.Time) { wg.Done() })
		defer w.timer.Stop()
		for b.Loop() {
			wg.Add(n)
			now := time.Now()
			at := now.Add(time.Millisecond)
			for _, c := range conns {
				w.add(c, at, now)
			}
			wg.Wait()
		}
	})
	b.Run("timer-per-connection", func(b *testing.B) {
		timers := make([]*time.Timer, n)
		for i := range timers {
			timers[i] = time.AfterFunc(time.Hour, func() { wg.Done() })
		}
		defer func() {
			for _, t := range timers {
				t.Stop()
			}
		}()
		for b.Loop() {
			wg.Add(n)
			for _, t := range timers {
				t.Reset(time.Millisecond)
			}
			wg.Wait()
		}
	})
}
