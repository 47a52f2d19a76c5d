package bolt

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/hermes-hub/hermes/transport"
)

// crashHelperEnv makes the test binary run as the crash helper: it appends
// to the history named by the variable from several goroutines, half of
// them with ids the transport mints, printing "SEQ ID" for every
// acknowledged event, until it is killed.
const crashHelperEnv = "HERMES_BOLT_CRASH_HELPER"

const crashSize = 2000 // retention of the crash test's history

// TestCrashLosesNoAcknowledgedEvent kills a publishing process with SIGKILL
// in the middle of bursts of appends, several times over the same file, and
// checks after each kill that the file opens, is consistent, and holds
// every event that was acknowledged (within retention).
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	if path := os.Getenv(crashHelperEnv); path != "" {
		crashHelper(path)
		return
	}
	path := filepath.Join(t.TempDir(), "hermes.db")
	acked := make(map[uint64]string)
	// Different kill points, including one before retention starts trimming.
	for round, killAfter := range []int{700, 2500, 1300} {
		for seq, id := range runCrashHelper(t, path, killAfter) {
			if prev, dup := acked[seq]; dup {
				t.Fatalf("round %d: Seq %d acknowledged twice (%q, %q): Seqs reused after a crash", round, seq, prev, id)
			}
			acked[seq] = id
		}
		checkAfterCrash(t, path, acked)
	}
}

// runCrashHelper starts the helper on path, kills it once it has
// acknowledged killAfter events and returns every acknowledgment it printed.
func runCrashHelper(t *testing.T, path string, killAfter int) map[uint64]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNoAcknowledgedEvent$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := make(map[uint64]string)
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		var seq uint64
		var id string
		if _, err := fmt.Sscanf(sc.Text(), "%d %s", &seq, &id); err != nil {
			cmd.Process.Kill()
			t.Fatalf("helper printed %q: %v", sc.Text(), err)
		}
		acks[seq] = id
		if len(acks) == killAfter && !killed {
			// SIGKILL: no deferred Close, no flush, mid-burst. Lines
			// already in the pipe are acknowledgments too.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("helper exited after %d acknowledgments, before the kill; stderr:\n%s", len(acks), stderr.String())
	}
	return acks
}

// crashHelper is the process that gets killed.
func crashHelper(path string) {
	tr, err := Open(path, Options{Size: crashSize})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	drainFeed(tr)
	// os.Stdout is unbuffered: each line is one write, so a killed process
	// loses no line it printed, and the lock keeps lines whole.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ev := &transport.Event{ID: fmt.Sprintf("p%d-g%d-%d", os.Getpid(), g, i), Topics: []string{"t"}, Data: "crash test payload"}
				if g%2 == 0 {
					ev.ID = tr.MintID() // as the hub does for updates without an id
				}
				if err := tr.Append(context.Background(), ev); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%d %s\n", ev.Seq, ev.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// checkAfterCrash reopens path and checks it against what was acknowledged.
func checkAfterCrash(t *testing.T, path string, acked map[uint64]string) {
	t.Helper()
	tr, err := Open(path, Options{Size: crashSize, NoSync: true})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer tr.Close()
	drainFeed(tr)
	ctx := context.Background()
	if err := tr.Check(ctx); err != nil {
		t.Fatalf("Check after SIGKILL: %v", err)
	}
	// bbolt's own consistency check: page structure and freelist.
	err = tr.db.View(func(tx *bbolt.Tx) error {
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		return first
	})
	if err != nil {
		t.Fatalf("bbolt consistency check after SIGKILL: %v", err)
	}
	last := tr.LastSeq()
	var maxAck uint64
	for seq := range acked {
		maxAck = max(maxAck, seq)
	}
	if last < maxAck {
		t.Fatalf("LastSeq %d after SIGKILL, but Seq %d was acknowledged", last, maxAck)
	}
	// The stored history is the dense tail ending at LastSeq, within retention.
	stored := make(map[uint64]string)
	var prev uint64
	err = tr.Replay(ctx, 0, last, func(ev *transport.Event) error {
		if prev != 0 && ev.Seq != prev+1 {
			return fmt.Errorf("gap in the history: %d after %d", ev.Seq, prev)
		}
		prev = ev.Seq
		stored[ev.Seq] = ev.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) > 0 && prev != last {
		t.Fatalf("history ends at %d, LastSeq is %d", prev, last)
	}
	if len(stored) > crashSize+trimChunk+DefaultMaxBatch {
		t.Fatalf("%d events stored with a retention of %d", len(stored), crashSize)
	}
	oldest := last - uint64(len(stored)) + 1
	lost := 0
	for seq, id := range acked {
		if seq < oldest {
			// Removed by retention, and from the index with it.
			if _, ok, err := tr.Lookup(ctx, id); err != nil || ok {
				t.Fatalf("Lookup(%q) of a removed event = %v, %v; want unknown", id, ok, err)
			}
			continue
		}
		if got, ok := stored[seq]; !ok || got != id {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged event %d (%q) is missing after SIGKILL (stored: %q)", seq, id, got)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d acknowledged events lost", lost)
	}
	// The index matches the history exactly.
	for seq, id := range stored {
		if got, ok, err := tr.Lookup(ctx, id); err != nil || !ok || got != seq {
			t.Fatalf("Lookup(%q) = %d, %v, %v; want %d", id, got, ok, err, seq)
		}
	}
	// One index entry per stored event, in mint or in ids: retention
	// removed the entries of the events it removed.
	var entries int
	err = tr.db.View(func(tx *bbolt.Tx) error {
		entries = tx.Bucket(bucketMint).Stats().KeyN + tx.Bucket(bucketIDs).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if entries != len(stored) {
		t.Fatalf("%d index entries for %d stored events", entries, len(stored))
	}
	// No id of an acknowledged event is minted again.
	ackedIDs := make(map[string]bool, len(acked))
	for _, id := range acked {
		ackedIDs[id] = true
	}
	for range 1000 {
		if id := tr.MintID(); ackedIDs[id] {
			t.Fatalf("MintID after SIGKILL returned %q, the id of an acknowledged event", id)
		}
	}
	ev := &transport.Event{ID: "after-crash"}
	if err := tr.Append(ctx, ev); err != nil || ev.Seq != last+1 {
		t.Fatalf("append after SIGKILL: Seq %d, %v; want %d", ev.Seq, err, last+1)
	}
	t.Logf("killed after %d acknowledgments in total; reopened with %d events, LastSeq %d", len(acked), len(stored), last)
}
