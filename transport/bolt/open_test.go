package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hermes-hub/hermes/transport"
)

func TestOpenCreatesPrivateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "hermes.db")
	openTest(t, path, Options{})
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700, filepath.Dir(filepath.Dir(path)): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		// The umask may only remove bits.
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", p, got, want)
		}
	}
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hermes.db")
	openTest(t, path, Options{})
	start := time.Now()
	_, err := Open(path, Options{OpenTimeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second Open = %v, want a clear lock error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %v despite its timeout", d)
	}
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mercure.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("updates")); return err })
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "not a Hermes history") {
		t.Fatalf("Open of a foreign bolt file = %v, want a refusal", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(junk, Options{}); err == nil {
		t.Fatal("Open of a junk file succeeded")
	}
}

func TestOpenRejectsInvalidOptions(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "h.db"), Options{Size: -1}); err == nil {
		t.Fatal("Open with a negative size succeeded")
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
}

func TestCheck(t *testing.T) {
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), Options{})
	if err := tr.Check(context.Background()); err != nil {
		t.Fatalf("Check of an open transport: %v", err)
	}
	tr.Close()
	if err := tr.Check(context.Background()); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Check after Close = %v, want ErrClosed", err)
	}
	if _, _, err := tr.Lookup(context.Background(), "x"); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Lookup after Close = %v, want ErrClosed", err)
	}
	err := tr.Replay(context.Background(), 0, 10, func(*transport.Event) error { return nil })
	if !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Replay after Close = %v, want ErrClosed", err)
	}
}

func TestAppendRejectsHugeID(t *testing.T) {
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), Options{NoSync: true})
	drainFeed(tr)
	err := tr.Append(context.Background(), &transport.Event{ID: strings.Repeat("x", MaxIDLength+1)})
	if err == nil {
		t.Fatal("Append with an id longer than MaxIDLength succeeded")
	}
	if tr.LastSeq() != 0 {
		t.Fatal("a rejected event took a Seq")
	}
	// The longest allowed id works and is found.
	ev := &transport.Event{ID: strings.Repeat("y", MaxIDLength)}
	if err := tr.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if seq, ok, err := tr.Lookup(context.Background(), ev.ID); err != nil || !ok || seq != ev.Seq {
		t.Fatalf("Lookup(longest id) = %d, %v, %v", seq, ok, err)
	}
}

// TestGroupCommit: concurrent publishers share transactions (and fsyncs)
// instead of committing one by one.
func TestGroupCommit(t *testing.T) {
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), Options{})
	drainFeed(tr)
	const workers, per = 64, 20
	appendN(t, tr, 0, workers*per, workers, 100)
	commits := tr.commits.Load()
	t.Logf("%d appends in %d commits", workers*per, commits)
	if commits > workers*per/4 {
		t.Fatalf("%d appends took %d commits: concurrent appends are not grouped", workers*per, commits)
	}
}
