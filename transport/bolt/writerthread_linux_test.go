package bolt

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

// TestWriterKeepsItsThreadWithFsync: with fsync on, every commit runs on
// one OS thread (the writer's own, see run), even while other goroutines
// keep every processor busy and the writer yields inside its commits,
// which hands an unlocked goroutine to whichever thread is free. Without
// fsync the writer does not need one.
func TestWriterKeepsItsThreadWithFsync(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two processors for the writer to move between threads")
	}
	threads := func(noSync bool) int {
		var mu sync.Mutex
		seen := map[int]bool{}
		opts := Options{NoSync: noSync, Logger: testLog()}
		opts.faults = &faults{commit: func() error {
			// A yield inside the commit: an unlocked writer resumes
			// on the next free thread, a locked one on its own.
			runtime.Gosched()
			mu.Lock()
			seen[syscall.Gettid()] = true
			mu.Unlock()
			return nil
		}}
		tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), opts)
		drainFeed(tr)
		var stop atomic.Bool
		var spinners sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			spinners.Go(func() {
				for !stop.Load() {
					runtime.Gosched()
				}
			})
		}
		for i := range 200 {
			if err := tr.Append(context.Background(), &transport.Event{ID: "e", Topics: []string{"t"}, Data: string(rune('a' + i%26))}); err != nil {
				t.Fatal(err)
			}
		}
		stop.Store(true)
		spinners.Wait()
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	if n := threads(false); n != 1 {
		t.Fatalf("with fsync, 200 commits ran on %d OS threads, want the writer's one", n)
	}
	if n := threads(true); n < 2 {
		t.Logf("without fsync the writer stayed on one thread by chance (%d)", n)
	}
}
