package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

// fillLarge appends n events of size bytes of data on topic.
func fillLarge(t testing.TB, tr *Transport, topic string, n, size int) {
	t.Helper()
	data := strings.Repeat("x", size)
	for i := range n {
		ev := &transport.Event{ID: fmt.Sprint(topic, i), Topics: []string{topic}, Data: data}
		if err := tr.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

// replayMissBytes is the heap a replay refusing every event allocates.
func replayMissBytes(t testing.TB, tr *Transport) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := tr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{
		Filter: func(topics []string, _ bool) bool { return topics[0] == "https://example.com/wanted" },
	}, func(ev *transport.Event) error {
		t.Errorf("event %d delivered", ev.Seq)
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	return after.TotalAlloc - before.TotalAlloc
}

// TestFilteredReplaySkipsPayloads: an `earliest` replay over a history that
// matches nothing reads topics only; the payloads are never decoded
// (issue 10, finding 2). 200 stored events of 256 KiB: decoding them would
// allocate 50 MiB; the filtered replay allocates about the topics.
func TestFilteredReplaySkipsPayloads(t *testing.T) {
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), Options{NoSync: true})
	drainFeed(tr)
	const n, size = 200, 256 << 10
	fillLarge(t, tr, "https://example.com/other", n, size)
	alloc := replayMissBytes(t, tr)
	if alloc > n*size/20 {
		t.Fatalf("a replay matching none of %d events of %d bytes allocated %d bytes: the payloads were decoded", n, size, alloc)
	}
	t.Logf("allocated %d bytes for %d refused events of %d bytes", alloc, n, size)
}

// BenchmarkReplayMiss: a replay whose filter refuses every one of 300
// events of 1 MiB (the load of issue 10, finding 2), against the same
// replay decoding everything and filtering afterwards (what Replay does).
func BenchmarkReplayMiss(b *testing.B) {
	tr := openTest(b, filepath.Join(b.TempDir(), "hermes.db"), Options{NoSync: true})
	drainFeed(tr)
	fillLarge(b, tr, "https://example.com/other", 300, 1<<20)
	b.Run("filtered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{
				Filter: func([]string, bool) bool { return false },
			}, func(*transport.Event) error { return nil })
		}
	})
	b.Run("decode-then-filter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = tr.Replay(context.Background(), 0, tr.LastSeq(), func(ev *transport.Event) error {
				_ = ev.Topics[0] == "wanted"
				return nil
			})
		}
	})
}
