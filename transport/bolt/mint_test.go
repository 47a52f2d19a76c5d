package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/hermes-hub/hermes/transport"
)

// v4Pattern is a generated id as the protocol checklist tests it, with the
// version and variant bits of a random UUID.
var v4Pattern = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// indexEntries returns what the two indexes hold: mint as counter -> Seq,
// ids as "id@seq" strings.
func indexEntries(t *testing.T, tr *Transport) (mint map[uint64]uint64, ids []string) {
	t.Helper()
	mint = make(map[uint64]uint64)
	err := tr.db.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketMint).ForEach(func(k, v []byte) error {
			mint[binary.BigEndian.Uint64(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketIDs).ForEach(func(k, _ []byte) error {
			n, w := binary.Uvarint(k)
			ids = append(ids, fmt.Sprintf("%s@%d", k[w:w+int(n)], binary.BigEndian.Uint64(k[w+int(n):])))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return mint, ids
}

func mustLookup(t *testing.T, tr *Transport, id string) (uint64, bool) {
	t.Helper()
	seq, ok, err := tr.Lookup(context.Background(), id)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", id, err)
	}
	return seq, ok
}

func appendOne(t *testing.T, tr *Transport, id string) uint64 {
	t.Helper()
	ev := &transport.Event{ID: id, Topics: []string{"t"}, Data: "d"}
	if err := tr.Append(context.Background(), ev); err != nil {
		t.Fatalf("Append(%q): %v", id, err)
	}
	return ev.Seq
}

// TestMintedIDsGoToTheMintIndex checks REC-12's form of the minted ids
// and where each kind of id is indexed: minted ones by counter in mint,
// in order, publishers' ids in ids.
func TestMintedIDsGoToTheMintIndex(t *testing.T) {
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), Options{NoSync: true})
	drainFeed(tr)
	var minted []string
	for range 50 {
		id := tr.MintID()
		if !v4Pattern.MatchString(id) {
			t.Fatalf("MintID() = %q, not shaped as a random UUID", id)
		}
		minted = append(minted, id)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(minted)))) != len(minted) {
		t.Fatal("MintID returned the same id twice")
	}
	seqs := make(map[string]uint64)
	for i, id := range minted {
		seqs[id] = appendOne(t, tr, id)
		if i%10 == 0 {
			seqs[fmt.Sprint("client-", i)] = appendOne(t, tr, fmt.Sprint("client-", i))
		}
	}
	mint, ids := indexEntries(t, tr)
	if len(mint) != len(minted) {
		t.Errorf("mint index has %d entries, want %d (one per minted id)", len(mint), len(minted))
	}
	for i, id := range minted {
		if got := mint[uint64(i+1)]; got != seqs[id] {
			t.Errorf("mint entry of counter %d = Seq %d, want %d", i+1, got, seqs[id])
		}
	}
	if len(ids) != 5 {
		t.Errorf("ids index = %v, want only the 5 client ids", ids)
	}
	for id, seq := range seqs {
		if got, ok := mustLookup(t, tr, id); !ok || got != seq {
			t.Errorf("Lookup(%q) = %d, %v; want %d", id, got, ok, seq)
		}
	}
	// A minted id never appended is unknown, as is a random UUID.
	if _, ok := mustLookup(t, tr, tr.MintID()); ok {
		t.Error("Lookup of a minted id never appended found it")
	}
	if _, ok := mustLookup(t, tr, "urn:uuid:0b7a5bd4-7c4b-4e4b-9c2a-5a7b3f7e0d11"); ok {
		t.Error("Lookup of a random UUID found it")
	}
}

// TestREC9_MintedIDReusedByClient covers a publisher that publishes again
// with a minted id it has seen: the copy is indexed in ids, the mint entry
// is never overwritten, Lookup resolves to the earliest occurrence, and
// retention removes exactly the entry of the occurrence it deletes.
func TestREC9_MintedIDReusedByClient(t *testing.T) {
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), Options{NoSync: true, Size: 3})
	drainFeed(tr)
	x := tr.MintID()
	s1 := appendOne(t, tr, x)
	appendOne(t, tr, "a")
	s3 := appendOne(t, tr, x) // the copy
	mint, ids := indexEntries(t, tr)
	if mint[1] != s1 || len(mint) != 1 {
		t.Fatalf("mint index = %v, want {1: %d}: the copy must not overwrite it", mint, s1)
	}
	if want := []string{"a@2", fmt.Sprintf("%s@%d", x, s3)}; !slices.Equal(ids, want) {
		t.Fatalf("ids index = %v, want %v", ids, want)
	}
	if got, ok := mustLookup(t, tr, x); !ok || got != s1 {
		t.Fatalf("Lookup(minted id) = %d, %v; want the earliest, %d", got, ok, s1)
	}

	// Size 3: the fourth event removes the first, the original.
	appendOne(t, tr, "b")
	mint, ids = indexEntries(t, tr)
	if len(mint) != 0 {
		t.Fatalf("mint index = %v after the original was removed, want empty", mint)
	}
	if !slices.Contains(ids, fmt.Sprintf("%s@%d", x, s3)) {
		t.Fatalf("ids index = %v: the copy's entry went with the original", ids)
	}
	if got, ok := mustLookup(t, tr, x); !ok || got != s3 {
		t.Fatalf("Lookup(minted id) = %d, %v after the original was removed; want the copy, %d", got, ok, s3)
	}

	// Another copy now finds the counter free and takes the mint entry,
	// but the copy in ids is earlier and wins.
	s5 := appendOne(t, tr, x)
	mint, _ = indexEntries(t, tr)
	if mint[1] != s5 {
		t.Fatalf("mint index = %v, want {1: %d}", mint, s5)
	}
	if got, ok := mustLookup(t, tr, x); !ok || got != s3 {
		t.Fatalf("Lookup(minted id) = %d, %v; want the earliest of ids (%d) and mint (%d)", got, ok, s3, s5)
	}
	// Removing the copy in ids leaves the mint entry.
	appendOne(t, tr, "c") // removes s3, the copy
	appendOne(t, tr, "d")
	mint, ids = indexEntries(t, tr)
	if mint[1] != s5 || slices.Contains(ids, fmt.Sprintf("%s@%d", x, s3)) {
		t.Fatalf("after removing the copy: mint %v, ids %v; want {1: %d} and no entry of %d", mint, ids, s5, s3)
	}
	if got, ok := mustLookup(t, tr, x); !ok || got != s5 {
		t.Fatalf("Lookup(minted id) = %d, %v; want %d", got, ok, s5)
	}
	appendOne(t, tr, "e") // removes s5
	if _, ok := mustLookup(t, tr, x); ok {
		t.Fatal("Lookup(minted id) found it after every occurrence was removed")
	}
	if mint, _ := indexEntries(t, tr); len(mint) != 0 {
		t.Fatalf("mint index = %v, want empty", mint)
	}
}

// TestMintedIDTwiceInOneBatch: the second occurrence in the same commit
// sees the first's mint entry and goes to ids.
func TestMintedIDTwiceInOneBatch(t *testing.T) {
	tr := openTest(t, filepath.Join(t.TempDir(), "hermes.db"), Options{NoSync: true})
	drainFeed(tr)
	x := tr.MintID()
	evs := []*transport.Event{{ID: x}, {ID: "y"}, {ID: x}}
	if err := tr.AppendBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	mint, ids := indexEntries(t, tr)
	if mint[1] != evs[0].Seq || len(mint) != 1 {
		t.Fatalf("mint index = %v, want {1: %d}", mint, evs[0].Seq)
	}
	if !slices.Contains(ids, fmt.Sprintf("%s@%d", x, evs[2].Seq)) {
		t.Fatalf("ids index = %v, want the second occurrence", ids)
	}
	if got, ok := mustLookup(t, tr, x); !ok || got != evs[0].Seq {
		t.Fatalf("Lookup = %d, %v; want %d", got, ok, evs[0].Seq)
	}
}

// TestMintCounterSurvivesReopen: after a restart, and after retention has
// removed every event, no id of a stored event is minted again, and ids
// minted before the restart still resolve.
func TestMintCounterSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hermes.db")
	tr, err := Open(path, Options{NoSync: true, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	drainFeed(tr)
	stored := make(map[string]uint64)
	for range 8 {
		id := tr.MintID()
		stored[id] = appendOne(t, tr, id)
	}
	_ = tr.MintID() // minted, never appended: may come back, nobody saw it
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	tr = openTest(t, path, Options{NoSync: true, Size: 5})
	drainFeed(tr)
	for id, seq := range stored {
		got, ok := mustLookup(t, tr, id)
		if seq <= 3 && ok {
			t.Errorf("Lookup(%q) = %d after retention removed it", id, got)
		}
		if seq > 3 && (!ok || got != seq) {
			t.Errorf("Lookup(%q) after reopen = %d, %v; want %d", id, got, ok, seq)
		}
	}
	for range 5 {
		appendOne(t, tr, "client") // pushes every minted event out
	}
	if mint, _ := indexEntries(t, tr); len(mint) != 0 {
		t.Fatalf("mint index = %v, want empty", mint)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr = openTest(t, path, Options{NoSync: true, Size: 5})
	drainFeed(tr)
	for range 100 {
		if id := tr.MintID(); stored[id] != 0 {
			t.Fatalf("MintID after reopen returned %q, the id of stored event %d", id, stored[id])
		}
	}
}

// TestOpenUpgradesVersion1 opens a file written in the layout of version
// 1 (no mint bucket, no key): its ids still resolve, minted ids work, and
// the file is marked version 2 so that a hub of version 1 refuses it.
func TestOpenUpgradesVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hermes.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		events, _ := tx.CreateBucket(bucketEvents)
		ids, err := tx.CreateBucket(bucketIDs)
		if err != nil {
			return err
		}
		for seq := uint64(1); seq <= 3; seq++ {
			ev := &transport.Event{ID: fmt.Sprint("old-", seq), Topics: []string{"t"}}
			if err := events.Put(seqKey(seq), encodeEvent(ev)); err != nil {
				return err
			}
			if err := ids.Put(idKey(ev.ID, seq), []byte{}); err != nil {
				return err
			}
		}
		if err := meta.Put(keyLastSeq, seqKey(3)); err != nil {
			return err
		}
		return meta.Put(keyVersion, []byte{1})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	tr := openTest(t, path, Options{NoSync: true})
	drainFeed(tr)
	if got, ok := mustLookup(t, tr, "old-2"); !ok || got != 2 {
		t.Fatalf("Lookup(old-2) = %d, %v after the upgrade; want 2", got, ok)
	}
	id := tr.MintID()
	if seq := appendOne(t, tr, id); seq != 4 {
		t.Fatalf("Seq %d, want 4", seq)
	}
	if got, ok := mustLookup(t, tr, id); !ok || got != 4 {
		t.Fatalf("Lookup(minted) = %d, %v; want 4", got, ok)
	}
	err = tr.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyVersion); !slices.Equal(v, []byte{2}) {
			return fmt.Errorf("version %v after the upgrade, want 2", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesUnknownVersion: a file of a later layout is refused, not
// mixed with this one.
func TestOpenRefusesUnknownVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hermes.db")
	tr := openTest(t, path, Options{NoSync: true})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte{3}) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := Open(path, Options{NoSync: true}); err == nil {
		tr.Close()
		t.Fatal("Open accepted a file of version 3")
	}
}

// TestOpenRefusesMalformedMintEntry: the integrity check at open covers
// the mint index (keys and values of 8 bytes, no counter 0).
func TestOpenRefusesMalformedMintEntry(t *testing.T) {
	for name, put := range map[string][2][]byte{
		"short key":   {{0, 0, 0, 0, 0, 0, 1}, seqKey(1)},
		"short value": {seqKey(1), {0, 1}},
		"counter 0":   {seqKey(0), seqKey(1)},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hermes.db")
			tr := openTest(t, path, Options{NoSync: true})
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMint).Put(put[0], put[1]) })
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			tr, err = Open(path, Options{NoSync: true})
			if err == nil {
				tr.Close()
				t.Fatal("Open accepted a malformed mint entry")
			}
			if !errors.Is(err, transport.ErrCorrupt) {
				t.Fatalf("Open: %v; want ErrCorrupt", err)
			}
		})
	}
}

// TestMintedIDsOfAnotherFileAreClientIDs: each file has its own key and
// tag, so an id minted by another history is an ordinary id here.
func TestMintedIDsOfAnotherFileAreClientIDs(t *testing.T) {
	a := openTest(t, filepath.Join(t.TempDir(), "a.db"), Options{NoSync: true})
	b := openTest(t, filepath.Join(t.TempDir(), "b.db"), Options{NoSync: true})
	drainFeed(b)
	id := a.MintID()
	seq := appendOne(t, b, id)
	if mint, ids := indexEntries(t, b); len(mint) != 0 || !slices.Equal(ids, []string{fmt.Sprintf("%s@%d", id, seq)}) {
		t.Fatalf("an id of another file indexed as mint %v, ids %v; want it in ids", mint, ids)
	}
	if got, ok := mustLookup(t, b, id); !ok || got != seq {
		t.Fatalf("Lookup = %d, %v; want %d", got, ok, seq)
	}
}
