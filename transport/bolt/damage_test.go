package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

// damagedFixture writes a real history of n events of size bytes and
// returns its path, closed.
func damagedFixture(t testing.TB, n, size int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hermes.db")
	tr, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	drainFeed(tr)
	data := strings.Repeat("d", size)
	evs := make([]*transport.Event, 0, 100)
	for i := range n {
		evs = append(evs, &transport.Event{ID: fmt.Sprintf("urn:damage:%d", i), Topics: []string{fmt.Sprintf("https://example.com/t/%d", i%7)}, Data: data})
		if len(evs) == cap(evs) || i == n-1 {
			if err := tr.AppendBatch(context.Background(), evs); err != nil {
				t.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func truncateHalf(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// zeroPages overwrites pages [from, from+n) of the file with zeros; the
// page size is bbolt's default, the OS page size.
func zeroPages(t testing.TB, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ps := os.Getpagesize()
	if _, err := f.WriteAt(make([]byte, n*ps), int64(from*ps)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesTruncatedFile(t *testing.T) {
	path := damagedFixture(t, 2000, 1000)
	truncateHalf(t, path)
	tr, err := Open(path, Options{})
	if err == nil {
		tr.Close()
		t.Fatal("Open accepted a file truncated to half its size")
	}
	if !errors.Is(err, transport.ErrCorrupt) {
		t.Fatalf("Open of a truncated file: %v, want an error wrapping transport.ErrCorrupt", err)
	}
	t.Log(err)
}

func TestOpenRefusesZeroedPages(t *testing.T) {
	path := damagedFixture(t, 2000, 1000)
	zeroPages(t, path, 5, 3)
	tr, err := Open(path, Options{})
	if err == nil {
		tr.Close()
		t.Fatal("Open accepted a file with zeroed pages")
	}
	if !errors.Is(err, transport.ErrCorrupt) {
		t.Fatalf("Open of a file with zeroed pages: %v, want an error wrapping transport.ErrCorrupt", err)
	}
	t.Log(err)
}

// TestDamageAtRunTimeIsAnError: a file whose pages were zeroed after the
// check (SkipCheck stands for damage that happens while the hub runs): a
// replay over them returns an error wrapping transport.ErrCorrupt instead of
// panicking, Check fails from then on, and appends with retention (the
// writer goroutine reading the damaged pages) fail or succeed but never
// take the process down, and the transport still closes.
func TestDamageAtRunTimeIsAnError(t *testing.T) {
	path := damagedFixture(t, 2000, 1000)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	pages := int(fi.Size()) / os.Getpagesize()
	zeroPages(t, path, pages/3, 3)
	tr, err := Open(path, Options{Size: 100, SkipCheck: true, NoSync: true, Logger: testLog()})
	if err != nil {
		t.Fatalf("Open without the check: %v", err)
	}
	defer tr.Close()
	drainFeed(tr)
	if err := tr.Check(context.Background()); err != nil {
		t.Fatalf("Check before the damage was met: %v", err)
	}
	err = tr.Replay(context.Background(), 0, tr.LastSeq(), func(*transport.Event) error { return nil })
	if !errors.Is(err, transport.ErrCorrupt) {
		t.Fatalf("Replay over zeroed pages: %v, want an error wrapping transport.ErrCorrupt", err)
	}
	if err := tr.Check(context.Background()); !errors.Is(err, transport.ErrCorrupt) {
		t.Fatalf("Check after a replay met the damage: %v, want an error wrapping transport.ErrCorrupt", err)
	}
	// Retention deletes from the front on every append: 2000 events beyond
	// a size of 100, through the damaged pages.
	for i := range 50 {
		_ = tr.Append(context.Background(), &transport.Event{ID: fmt.Sprint("after-", i), Topics: []string{"x"}, Data: "d"})
	}
	if err := tr.Close(); err != nil && !errors.Is(err, transport.ErrCorrupt) {
		t.Logf("Close: %v", err)
	}
}

// testLog discards the transport's logs (the damage is logged at error
// level, on purpose).
func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// FuzzOpenDamaged: a real history with any bytes overwritten anywhere is
// refused at Open or served with errors: Open, Replay, Lookup, Check and
// Append never panic or fault (a crash fails the fuzz run).
func FuzzOpenDamaged(f *testing.F) {
	src := damagedFixture(f, 300, 300)
	orig, err := os.ReadFile(src)
	if err != nil {
		f.Fatal(err)
	}
	ps := os.Getpagesize()
	f.Add(uint32(2*ps), []byte{0xff, 0xff, 0xff, 0xff}, false)
	f.Add(uint32(3*ps+16), make([]byte, 64), true)
	f.Add(uint32(len(orig)/2), make([]byte, 3*ps), true)
	f.Add(uint32(ps+20), []byte{1}, false)
	f.Fuzz(func(t *testing.T, at uint32, patch []byte, skipCheck bool) {
		b := append([]byte(nil), orig...)
		copy(b[int(at)%len(b):], patch)
		path := filepath.Join(t.TempDir(), "hermes.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		tr, err := Open(path, Options{Size: 50, SkipCheck: skipCheck, NoSync: true, Logger: testLog()})
		if err != nil {
			return
		}
		drainFeed(tr)
		ctx := context.Background()
		_ = tr.Replay(ctx, 0, tr.LastSeq(), func(*transport.Event) error { return nil })
		_, _, _ = tr.Lookup(ctx, "urn:damage:7")
		_ = tr.Check(ctx)
		_ = tr.Append(ctx, &transport.Event{ID: "new", Topics: []string{"x"}, Data: "d"})
		_ = tr.Close()
	})
}

// TestCheckReportsFailingAppends (issue 10, finding 9): while commits fail
// (a full disk, injected here), Check fails, so /readyz stops saying ok
// while every publish answers 503; the next append that succeeds makes it
// pass again.
func TestCheckReportsFailingAppends(t *testing.T) {
	var full atomic.Bool
	opts := Options{NoSync: true, Logger: testLog()}
	opts.faults = &faults{commit: func() error {
		if full.Load() {
			return syscall.ENOSPC
		}
		return nil
	}}
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), opts)
	drainFeed(tr)
	ctx := context.Background()
	ev := func() *transport.Event { return &transport.Event{ID: "x", Topics: []string{"t"}, Data: "d"} }
	if err := tr.Append(ctx, ev()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Check(ctx); err != nil {
		t.Fatalf("Check with working appends: %v", err)
	}
	full.Store(true)
	if err := tr.Append(ctx, ev()); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
	}
	err := tr.Check(ctx)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Check after a failed append: %v, want the append's error", err)
	}
	if errors.Is(err, transport.ErrCorrupt) {
		t.Fatalf("a full disk reported as damage: %v", err)
	}
	// Reads still work: a full disk is no reason to refuse replays.
	if err := tr.Replay(ctx, 0, tr.LastSeq(), func(*transport.Event) error { return nil }); err != nil {
		t.Fatalf("Replay on a full disk: %v", err)
	}
	full.Store(false)
	if err := tr.Append(ctx, ev()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Check(ctx); err != nil {
		t.Fatalf("Check after an append succeeded again: %v", err)
	}
}
