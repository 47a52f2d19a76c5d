package bolt

import (
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// trimState is what a retention pass leaves: the oldest event still stored
// and whether more should go.
type trimState struct {
	first     uint64
	firstTime time.Time
	backlog   bool
	deleted   int
}

// trim deletes, oldest first, the events beyond Options.Size and those
// older than Options.MaxAge, at most limit of them, together with their
// index entries. last is the last Seq stored in tx. Because events only
// leave from the front, stored Seqs are dense and the count is a
// subtraction.
func (t *Transport) trim(tx *bbolt.Tx, last uint64, limit int) (trimState, error) {
	events := tx.Bucket(bucketEvents)
	events.FillPercent = eventsFill
	ids, mint := tx.Bucket(bucketIDs), tx.Bucket(bucketMint)
	mint.FillPercent = eventsFill
	size, maxAge := uint64(t.opts.Size), t.opts.MaxAge
	cutoff := time.Now().Add(-maxAge)
	var st trimState
	c := events.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		if len(k) != 8 {
			return st, fmt.Errorf("%w: event key %x", errCorrupt, k)
		}
		seq := binary.BigEndian.Uint64(k)
		tm, terr := eventTime(v)
		tooMany := size > 0 && last-seq+1 > size
		tooOld := maxAge > 0 && (terr != nil || tm.Before(cutoff))
		if !tooMany && !tooOld {
			st.first, st.firstTime = seq, tm
			return st, nil
		}
		if st.deleted == limit {
			st.first, st.firstTime, st.backlog = seq, tm, true
			return st, nil
		}
		// The index entry of exactly this occurrence goes with it; a later
		// occurrence of the same id keeps its own entry and becomes the
		// earliest.
		if head, err := decodeHead(v); err == nil {
			if err := unindex(mint, ids, head.ID, t.mintedCounter(head.ID), seq); err != nil {
				return st, fmt.Errorf("unindex event %d: %w", seq, err)
			}
		} else {
			t.log.Error("bolt: retention removes a corrupt event; its id stays in the index", "path", t.path, "seq", seq, "error", err)
		}
		// Deleting at a cursor and then moving it can skip keys in bbolt,
		// so the loop seeks the first key again.
		if err := c.Delete(); err != nil {
			return st, fmt.Errorf("delete event %d: %w", seq, err)
		}
		st.deleted++
	}
	return st, nil // nothing left
}

// applyTrim records the outcome of a committed retention pass.
func (t *Transport) applyTrim(st trimState) {
	t.first, t.firstTime, t.backlog = st.first, st.firstTime, st.backlog
}

// trimOnly runs a retention pass in a transaction of its own: when
// retention has a backlog, or events expire while nobody publishes.
func (t *Transport) trimOnly() {
	last := t.last.Load()
	var st trimState
	err := t.guard("retention", func() error {
		return t.db.Update(func(tx *bbolt.Tx) error {
			var err error
			st, err = t.trim(tx, last, trimChunk)
			return err
		})
	})
	if err != nil {
		// Retried on the next append or tick, not in a tight loop.
		t.backlog = false
		t.log.Error("bolt: retention failed", "path", t.path, "error", err)
		return
	}
	t.applyTrim(st)
}
