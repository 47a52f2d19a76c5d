package bench

import (
	"sync"
)

// bitset is a growable set of small non-negative integers.
type bitset []uint64

func (b *bitset) set(i int64) (was bool) {
	w := int(i / 64)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w-len(*b)+1)...)
	}
	m := uint64(1) << (i % 64)
	was = (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

func (b bitset) has(i int64) bool {
	w := int(i / 64)
	return w < len(b) && b[w]&(1<<(i%64)) != 0
}

// tracker is what one subscriber saw: which sequence numbers (for loss and
// duplicates), the last one per publisher (for order), and what it must not
// have seen. Its reader goroutine writes it; the scenario reads it under mu.
type tracker struct {
	mu sync.Mutex
	// seen is indexed by slot(seq): the scenario maps the sequence numbers
	// a subscriber may receive onto small integers.
	seen bitset
	// lastByPub is the last sequence number seen of each publisher, +1
	// (0: none yet), for the few publishers a run has; others (a hub
	// that invents publishers) go to lastByPubMap, so that no payload
	// makes the slice grow past maxPublishersIndexed.
	lastByPub    []int64
	lastByPubMap map[int]int64
	// recvByStep counts first receptions per sweep step.
	recvByStep []int64

	received     int64 // every event of this run, duplicates included
	duplicates   int64
	order        int64 // an update older than one already received from the same publisher
	unauthorized int64 // an update meant for another subscriber
	foreign      int64 // events not published by this run (other data, another run)
	malformed    int64
	late         int64 // received after its step's loss was counted
	reconnects   int64
	lastID       string
	// firstAt and lastAt are when the first and last events of this run
	// arrived, on the run clock; zero before.
	firstAt, lastAt int64
	// ids are the event ids in arrival order, when the scenario records
	// them (replay learns the hub's order this way).
	ids      []string
	seqs     []int64
	keepIDs  bool
	closedTo int // steps below this one have had their loss counted
}

func newTracker() *tracker { return &tracker{} }

// maxPublishersIndexed bounds the publishers tracked by index.
const maxPublishersIndexed = 1024

// observe records p, received as event id at time now. slot maps p.seq to
// the index of the seen bitset; authorized says whether p was meant for this
// subscriber. It returns whether this is the first reception of p.
func (t *tracker) observe(p payload, id string, slot int64, authorized bool, now int64) (first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.received++
	if t.firstAt == 0 {
		t.firstAt = now
	}
	t.lastAt = now
	if t.keepIDs {
		t.ids = append(t.ids, id)
		t.seqs = append(t.seqs, p.seq)
	}
	if !authorized {
		t.unauthorized++
		return false
	}
	if t.seen.set(slot) {
		t.duplicates++
		return false
	}
	if t.orderViolated(p.pub, p.seq) {
		t.order++
	}
	for len(t.recvByStep) <= p.step {
		t.recvByStep = append(t.recvByStep, 0)
	}
	t.recvByStep[p.step]++
	if p.step < t.closedTo {
		t.late++
	}
	return true
}

// orderViolated reports whether seq comes after a later update of
// publisher pub, and records seq as its last otherwise. Called with t.mu.
func (t *tracker) orderViolated(pub int, seq int64) bool {
	if pub < maxPublishersIndexed {
		if pub >= len(t.lastByPub) {
			t.lastByPub = append(t.lastByPub, make([]int64, pub+1-len(t.lastByPub))...)
		}
		if last := t.lastByPub[pub]; last != 0 && seq < last-1 {
			return true
		}
		t.lastByPub[pub] = seq + 1
		return false
	}
	if last, ok := t.lastByPubMap[pub]; ok && seq < last {
		return true
	}
	if t.lastByPubMap == nil {
		t.lastByPubMap = map[int]int64{}
	}
	t.lastByPubMap[pub] = seq
	return false
}

func (t *tracker) count(field *int64) {
	t.mu.Lock()
	*field++
	t.mu.Unlock()
}

// stepReceived is how many distinct updates of step arrived.
func (t *tracker) stepReceived(step int) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if step < len(t.recvByStep) {
		return t.recvByStep[step]
	}
	return 0
}

// advance returns the first index from i on whose slot in want has not
// been seen (len(want) when all have).
func (t *tracker) advance(want []int64, i int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i < len(want) && t.seen.has(want[i]) {
		i++
	}
	return i
}

// missing counts the slots in want that were never seen, and marks steps
// below closeTo as counted so that later arrivals show as late.
func (t *tracker) missing(want []int64, closeTo int) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, s := range want {
		if !t.seen.has(s) {
			n++
		}
	}
	t.closedTo = max(t.closedTo, closeTo)
	return n
}

// totals are a tracker's counters, summed over subscribers.
type totals struct {
	Received     int64 `json:"received"`
	Duplicates   int64 `json:"duplicates"`
	Order        int64 `json:"order_violations"`
	Unauthorized int64 `json:"unauthorized"`
	Foreign      int64 `json:"foreign"`
	Malformed    int64 `json:"malformed"`
	Late         int64 `json:"late"`
	Reconnects   int64 `json:"reconnects"`
}

func sumTrackers(ts []*tracker) totals {
	var s totals
	for _, t := range ts {
		t.mu.Lock()
		s.Received += t.received
		s.Duplicates += t.duplicates
		s.Order += t.order
		s.Unauthorized += t.unauthorized
		s.Foreign += t.foreign
		s.Malformed += t.malformed
		s.Late += t.late
		s.Reconnects += t.reconnects
		t.mu.Unlock()
	}
	return s
}
