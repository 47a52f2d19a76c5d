package transporttest

import (
	"regexp"
	"testing"

	"github.com/hermes-hub/hermes/transport"
)

// Cases of the optional IDMinter: the ids a transport mints for the hub.

// mintedIDPattern is the form of a minted id: a random UUID's (REC-12),
// which the checklist's `^urn:uuid:[0-9a-f-]{36}$` accepts.
var mintedIDPattern = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// minter returns tr as an IDMinter, skipping the case when it is not one.
func minter(t *testing.T, tr transport.Transport) transport.IDMinter {
	t.Helper()
	m, ok := tr.(transport.IDMinter)
	if !ok {
		t.Skip("the transport does not mint ids")
	}
	return m
}

// testMintedOpaque: minted ids look like random UUIDs and tell nothing of
// the order in which they were minted (REC-12): about half of consecutive
// pairs compare each way.
func (s *suite) testMintedOpaque(t *testing.T) {
	m := minter(t, s.open(t, t.TempDir(), Retention{}))
	const n = 2000
	seen := make(map[string]bool, n)
	up := 0
	prev := ""
	for range n {
		id := m.MintID()
		if !mintedIDPattern.MatchString(id) {
			t.Fatalf("MintID() = %q, not shaped as a random UUID (version 4)", id)
		}
		if seen[id] {
			t.Fatalf("MintID() returned %q twice", id)
		}
		seen[id] = true
		if id > prev {
			up++
		}
		prev = id
	}
	// Binomial(2000, 1/2): 40% to 60% is more than 8 standard deviations.
	if up < n*40/100 || up > n*60/100 {
		t.Errorf("%d of %d consecutive minted ids are increasing: they leak their order", up, n)
	}
}

// testMintedLookup: events appended concurrently with minted ids resolve
// to their own Seq, and a copy of a minted id appended later resolves to
// the earliest occurrence (REC-9), also once retention removed it.
func (s *suite) testMintedLookup(t *testing.T) {
	tr := s.open(t, t.TempDir(), Retention{Size: 300})
	m := minter(t, tr)
	drain(tr)
	evs := appendConcurrently(t, tr, 200, 8, func(i int) *transport.Event {
		return &transport.Event{ID: m.MintID(), Topics: []string{"t"}, Data: "minted"}
	})
	for _, ev := range evs {
		if seq, ok := lookup(t, tr, ev.ID); !ok || seq != ev.Seq {
			t.Fatalf("Lookup(%q) = %d, %v; want %d", ev.ID, seq, ok, ev.Seq)
		}
	}
	if seq, ok := lookup(t, tr, m.MintID()); ok {
		t.Errorf("Lookup of a minted id never appended = %d, true", seq)
	}
	first := evs[0]
	cp := &transport.Event{ID: first.ID, Data: "a copy"}
	mustAppend(t, tr, cp)
	if seq, ok := lookup(t, tr, first.ID); !ok || seq != first.Seq {
		t.Fatalf("Lookup of a reused minted id = %d, %v; want the earliest, %d", seq, ok, first.Seq)
	}
	// Push out the original and evs[1] (Size 300): the copy is now the
	// earliest.
	for i := range 101 {
		mustAppend(t, tr, sample(i))
	}
	if seq, ok := lookup(t, tr, first.ID); !ok || seq != cp.Seq {
		t.Fatalf("Lookup of a reused minted id after its first occurrence went = %d, %v; want %d", seq, ok, cp.Seq)
	}
	if seq, ok := lookup(t, tr, evs[1].ID); ok {
		t.Errorf("Lookup(%q) = %d after retention removed it", evs[1].ID, seq)
	}
}

// testMintedUniqueAcrossReopen: a durable transport never mints again the
// id of an event it stored, after a restart, even once retention removed
// every one of them.
func (s *suite) testMintedUniqueAcrossReopen(t *testing.T) {
	if !s.f.Durable {
		t.Skip("not a durable transport")
	}
	dir := t.TempDir()
	r := Retention{Size: 10}
	tr := s.open(t, dir, r)
	m := minter(t, tr)
	drain(tr)
	stored := make(map[string]uint64)
	for range 20 {
		ev := &transport.Event{ID: m.MintID(), Data: "minted"}
		mustAppend(t, tr, ev)
		stored[ev.ID] = ev.Seq
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr = s.open(t, dir, r)
	m = minter(t, tr)
	drain(tr)
	for id, seq := range stored {
		got, ok := lookup(t, tr, id)
		if seq > 10 && (!ok || got != seq) {
			t.Errorf("Lookup(%q) after reopen = %d, %v; want %d", id, got, ok, seq)
		}
	}
	for range 100 {
		if id := m.MintID(); stored[id] != 0 {
			t.Fatalf("MintID after reopen = %q, the id of event %d", id, stored[id])
		}
	}
	for i := range 10 {
		mustAppend(t, tr, sample(i)) // retention removes every minted event
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr = s.open(t, dir, r)
	m = minter(t, tr)
	drain(tr)
	for range 1000 {
		if id := m.MintID(); stored[id] != 0 {
			t.Fatalf("MintID after reopen = %q, the id of event %d stored before", id, stored[id])
		}
	}
}
