package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

// drainFeed consumes tr's feed until it is closed.
func drainFeed(tr transport.Transport) {
	go func() {
		for range tr.Feed() {
		}
	}()
}

// appendN appends n events of about dataSize bytes from workers goroutines.
func appendN(t testing.TB, tr transport.Transport, from, n, workers, dataSize int) {
	t.Helper()
	data := strings.Repeat("x", dataSize)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + w; i < from+n; i += workers {
				ev := &transport.Event{ID: fmt.Sprintf("urn:uuid:%08x-growth", i), Topics: []string{"https://example.com/t"}, Data: data}
				if err := tr.Append(context.Background(), ev); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestRetentionBoundsFileSize: once retention holds, freed pages are reused
// and the file stops growing, however many events go through it.
func TestRetentionBoundsFileSize(t *testing.T) {
	const size, dataSize = 500, 1000
	rounds := 40
	if testing.Short() {
		rounds = 15
	}
	path := filepath.Join(t.TempDir(), "hermes.db")
	tr := openTest(t, path, Options{Size: size, NoSync: true})
	drainFeed(tr)
	appendN(t, tr, 0, 5*size, 16, dataSize) // warm-up: retention has trimmed 4 sizes' worth
	warm := fileSize(t, path)
	for r := 5; r < rounds; r++ {
		appendN(t, tr, r*size, size, 16, dataSize)
	}
	end := fileSize(t, path)
	live := int64(size * dataSize)
	written := int64(rounds * size * dataSize)
	t.Logf("live data %d KiB, written %d KiB, file after warm-up %d KiB, at the end %d KiB", live>>10, written>>10, warm>>10, end>>10)
	// One more allocation step of bbolt is tolerated; unbounded growth would
	// add about 1 MiB per round.
	if end > warm+warm/2 {
		t.Fatalf("file grew from %d to %d bytes under retention: freed pages are not reused", warm, end)
	}
	if got := tr.LastSeq(); got != uint64(rounds*size) {
		t.Fatalf("LastSeq = %d, want %d", got, rounds*size)
	}
}
