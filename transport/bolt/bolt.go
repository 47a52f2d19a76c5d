// Package bolt is a durable transport storing the history in a bbolt file.
//
// Layout: bucket "events" maps Seq (8 bytes big-endian) to the encoded
// event; bucket "ids" holds one key per stored event, id + Seq, so a cursor
// is one seek, except for the ids the transport minted itself (MintID),
// which bucket "mint" indexes by their counter (mint.go); bucket "meta"
// holds the format version, the last Seq assigned (which must survive even
// when retention has removed every event, so that Seqs are never reused)
// and the key, tag and last counter of minted ids.
//
// One writer goroutine owns every write transaction. Appends hand it their
// event and wait; it commits whatever has queued up meanwhile in a single
// transaction (group commit: concurrent publishers share one fsync), answers
// them, then feeds the events in Seq order. When fewer requests wait than
// the last group held, it waits briefly for the others (linger), so that
// publishers waiting for their answers keep sharing commits. A batch (AppendBatch) is one
// request: it is never split between transactions, so its events are
// committed together and fed together. Retention runs in the same
// transactions, a bounded number of deletions at a time.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/internal/idcipher"
)

var (
	bucketEvents = []byte("events")
	bucketIDs    = []byte("ids")
	bucketMeta   = []byte("meta")
	keyVersion   = []byte("version")
	keyLastSeq   = []byte("last_seq")
)

// fileVersion is the layout version stored in meta. Version 2 added the
// mint bucket and the id key; a file of version 1 is upgraded at its first
// open (a hub of version 1 then refuses it, rather than missing the minted
// ids in its lookups and retention).
const fileVersion = 2

const (
	// replayScan is how many stored events one read transaction of a replay
	// examines at most, kept or filtered out. Short read transactions
	// matter: bbolt cannot reuse pages freed after the oldest open read
	// transaction began, so a replay paced by a slow client must not keep
	// one open, and neither may a filter scanning a long history. What a
	// page keeps is bounded in bytes (transport.ReplayPageBytes).
	replayScan = 4096
	// trimChunk bounds the deletions per transaction beyond one per appended
	// event, so that catching up a large backlog (a smaller size on restart,
	// a burst of expiries) never makes one long transaction that publishers
	// wait behind.
	trimChunk = 1024
	// maxBatchBytes stops gathering a group commit once this much encoded
	// data is in it.
	maxBatchBytes = 16 << 20
	// feedBuffer lets publishers run ahead of the dispatcher by this many
	// events before the writer waits for it.
	feedBuffer = 1024
	// eventsFill is the fill percent of the events bucket. Its keys arrive
	// in order at the end and leave from the front, so a page split by
	// appends is never written into again: packing it nearly full halves
	// the file compared with bbolt's default of 0.5, which suits random
	// inserts. The ids bucket gets keys in id order (random for random ids)
	// and keeps the default: with full pages nearly every insert between
	// existing keys would split a page.
	eventsFill = 0.9
)

// Transport is a durable event log in a bbolt file.
type Transport struct {
	db      *bbolt.DB
	path    string
	opts    Options
	log     *slog.Logger
	queue   *requestQueue // queue.go
	feed    chan *transport.Event
	closing chan struct{}
	done    chan struct{} // closed when the writer has returned

	// damaged is set by the first fault or panic of the storage library
	// recovered at run time (integrity.go); Check reports it.
	damaged atomic.Pointer[error]

	// appendFailed is the last failed commit of appends, cleared by the
	// next one that succeeds; Check reports it for appendFailWindow, so
	// that a full disk makes the hub unready while publishes fail, and a
	// hub nobody publishes to becomes ready again to be tried.
	appendFailed atomic.Pointer[appendFailure]

	last    atomic.Uint64 // LastSeq
	idc     *idcipher.Cipher
	minted  atomic.Uint64 // the last counter MintID handed out
	commits atomic.Uint64 // write transactions of appends, for tests of group commit

	// Owned by the writer goroutine.
	mintLast  uint64        // the highest counter in a committed mint entry, as stored in meta
	first     uint64        // Seq of the oldest stored event, 0 when none
	firstTime time.Time     // its Time
	backlog   bool          // retention has more to delete than the last pass could
	lastGroup int           // requests in the last group committed (see linger)
	commitDur time.Duration // moving average of a commit's duration (see linger)
	onLinger  func()        // tests: called when a group starts waiting

	closeOnce sync.Once
	closeErr  error
}

var (
	_ transport.Transport        = (*Transport)(nil)
	_ transport.Checker          = (*Transport)(nil)
	_ transport.BatchAppender    = (*Transport)(nil)
	_ transport.FilteredReplayer = (*Transport)(nil)
)

// appendFailWindow is how long Check reports a failed append that no
// successful one followed.
const appendFailWindow = 30 * time.Second

type appendFailure struct {
	err error
	at  time.Time
}

// request is one Append (one event) or one AppendBatch (its events, in
// order), answered as a whole.
type request struct {
	evs  []*transport.Event
	vals [][]byte   // encoded by the publisher's goroutine, off the writer's path
	mint []uint64   // the minted counter of each event's id, 0 for other ids (mint.go)
	size int        // total length of vals
	done chan error // buffered: the writer never waits for the publisher
}

// Open opens (or creates) the history at path. The file is created with
// mode 0600 and missing parent directories with 0700. Open fails after
// opts.OpenTimeout when another process holds the file.
func Open(path string, opts Options) (*Transport, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("bolt: empty file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: create the directory of %s: %w", path, err)
	}
	if err := preflight(path, !opts.SkipCheck); err != nil {
		return nil, damagedFile(path, err)
	}
	var db *bbolt.DB
	err := guarded(func() error {
		var err error
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{
			Timeout: opts.openTimeout(),
			// The hashmap freelist keeps allocation cheap when retention
			// has freed many pages.
			FreelistType: bbolt.FreelistMapType,
			NoSync:       opts.NoSync,
		})
		return err
	})
	if errors.Is(err, transport.ErrCorrupt) || errors.Is(err, bberrors.ErrInvalid) || errors.Is(err, bberrors.ErrChecksum) {
		return nil, damagedFile(path, err)
	}
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: the file is locked by another process (is another hub running on it?); gave up after %v", path, opts.openTimeout())
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	t := &Transport{
		db:      db,
		path:    path,
		opts:    opts,
		log:     opts.logger(),
		queue:   newRequestQueue(),
		feed:    make(chan *transport.Event, feedBuffer),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if !opts.SkipCheck {
		if err := verify(db); err != nil {
			_ = db.Close()
			return nil, damagedFile(path, err)
		}
	}
	if err := guarded(func() error { return db.Update(t.load) }); err != nil {
		_ = db.Close()
		if errors.Is(err, transport.ErrCorrupt) {
			return nil, damagedFile(path, err)
		}
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	go t.run()
	return t, nil
}

// damagedFile is the error of Open for a file that fails its checks: it
// wraps transport.ErrCorrupt and says how to recover.
func damagedFile(path string, err error) error {
	if !errors.Is(err, transport.ErrCorrupt) {
		err = fmt.Errorf("%w: %w", transport.ErrCorrupt, err)
	}
	return fmt.Errorf("bolt: open %s: refusing a damaged history file: %w\n"+
		"Stop every process using it, keep a copy, then check it with `bbolt check %s` and write a repaired copy with `bbolt compact -o NEW %s` (go install go.etcd.io/bbolt/cmd/bbolt@latest); start the hub on NEW, or move the file away to start with an empty history",
		path, err, path, path)
}

// load creates the buckets of a new file, checks those of an existing one
// and restores the writer's state.
func (t *Transport) load(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		// A new file, or one that is not ours: refuse to mix layouts.
		var foreign []byte
		_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			foreign = name
			return errors.New("stop")
		})
		if foreign != nil {
			return fmt.Errorf("not a Hermes history (it has a bucket %q); use another file", foreign)
		}
		var err error
		if meta, err = tx.CreateBucket(bucketMeta); err != nil {
			return err
		}
		if err := meta.Put(keyVersion, []byte{fileVersion}); err != nil {
			return err
		}
	}
	switch v := meta.Get(keyVersion); {
	case len(v) == 1 && v[0] == fileVersion:
	case len(v) == 1 && v[0] == 1:
		// Version 1 lacks only what loadMint creates.
		if err := meta.Put(keyVersion, []byte{fileVersion}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported history format %v (this hub reads versions 1 and %d)", v, fileVersion)
	}
	if err := t.loadMint(tx, meta); err != nil {
		return err
	}
	events, err := tx.CreateBucketIfNotExists(bucketEvents)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketIDs); err != nil {
		return err
	}
	var last uint64
	if v := meta.Get(keyLastSeq); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("corrupt last sequence (%d bytes)", len(v))
		}
		last = binary.BigEndian.Uint64(v)
	}
	c := events.Cursor()
	if k, _ := c.Last(); k != nil {
		if len(k) != 8 {
			return fmt.Errorf("corrupt event key %x", k)
		}
		// The meta key is written in the same transaction as the events,
		// so this only guards against a file edited by hand.
		last = max(last, binary.BigEndian.Uint64(k))
	}
	t.last.Store(last)
	if err := t.loadFirst(c); err != nil {
		return err
	}
	// Retention may have to catch up (a smaller size than last time, events
	// that expired while the hub was down) before anything is appended.
	if t.first != 0 {
		tooMany := t.opts.Size > 0 && last-t.first+1 > uint64(t.opts.Size)
		tooOld := t.opts.MaxAge > 0 && t.firstTime.Before(time.Now().Add(-t.opts.MaxAge))
		t.backlog = tooMany || tooOld
	}
	return nil
}

// loadFirst sets first and firstTime from the events cursor.
func (t *Transport) loadFirst(c *bbolt.Cursor) error {
	k, v := c.First()
	if k == nil {
		t.first, t.firstTime = 0, time.Time{}
		return nil
	}
	if len(k) != 8 {
		return fmt.Errorf("corrupt event key %x", k)
	}
	t.first = binary.BigEndian.Uint64(k)
	tm, err := eventTime(v)
	if err != nil {
		// Unreadable: let age retention remove it.
		tm = time.Time{}
	}
	t.firstTime = tm
	return nil
}

// Append stores ev durably, assigns ev.Seq and queues ev on the feed. It
// sets ev.Time to the current time when it is zero. It returns once the
// transaction holding the event is committed.
func (t *Transport) Append(ctx context.Context, ev *transport.Event) error {
	evs := []*transport.Event{ev}
	if err := transport.CheckAppend(evs); err != nil {
		return fmt.Errorf("bolt: append: %w", err)
	}
	return t.submit(ctx, "append", evs)
}

// AppendBatch stores evs durably in one transaction (one fsync), assigns
// them consecutive Seqs in slice order and queues them on the feed in that
// order. Every event is checked before anything is stored: one invalid
// event fails the whole batch. The batch is never split, whatever its
// length: one longer than Options.MaxBatch is committed in a transaction of
// its own, so its length is bounded only by the caller and by memory.
func (t *Transport) AppendBatch(ctx context.Context, evs []*transport.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := transport.CheckAppend(evs); err != nil {
		return fmt.Errorf("bolt: append batch: %w", err)
	}
	// The writer feeds the events after AppendBatch has returned, so it
	// keeps its own slice: the caller may reuse evs at once.
	return t.submit(ctx, "append batch", slices.Clone(evs))
}

// submit hands evs, already validated, to the writer as one request and
// waits for its commit; op names the caller in errors.
func (t *Transport) submit(ctx context.Context, op string, evs []*transport.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	now := time.Now()
	r := &request{evs: evs, vals: make([][]byte, len(evs)), mint: make([]uint64, len(evs)), done: make(chan error, 1)}
	for i, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		r.mint[i] = t.mintedCounter(ev.ID)
		r.vals[i] = encodeEvent(ev)
		r.size += len(r.vals[i])
	}
	if !t.queue.push(r) {
		return transport.ErrClosed
	}
	// The writer answers every request queued, even while closing.
	return <-r.done
}

// run is the writer goroutine.
func (t *Transport) run() {
	if !t.opts.NoSync {
		// The writer keeps an OS thread of its own, which sleeps in
		// fdatasync most of the time. Why: the kernel's scheduler
		// serves a thread that mostly sleeps as soon as it wakes, and
		// the writer's short bursts of work between and after its syncs
		// (bbolt's pages, the second sync, the answers) then run at
		// once; on a thread shared with the publishers' goroutines they
		// waited for that thread's turn behind their work. Measured with
		// 64 publishers on one core, interleaved: 32,900-35,800
		// publishes/s against 26,000-28,900, and less CPU per publish
		// (23-25 µs against 28-32); 16 publishers +15 %; on two cores
		// +4-7 %; one publisher alone within noise (README, "What
		// limits durable publishing").
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	defer close(t.done)
	// Requests still queued were not stored; later ones are refused.
	defer func() {
		for _, r := range t.queue.close() {
			r.done <- transport.ErrClosed
		}
	}()
	var tick <-chan time.Time
	if t.opts.MaxAge > 0 {
		period := min(max(t.opts.MaxAge/10, 10*time.Millisecond), time.Minute)
		ticker := time.NewTicker(period)
		defer ticker.Stop()
		tick = ticker.C
	}
	batch := make([]*request, 0, t.opts.maxBatch())
	for {
		var more <-chan struct{}
		if t.backlog {
			more = closedChan
		}
		select {
		case <-t.queue.bell:
			for {
				// A request that did not fit in the last group starts
				// the next one at once: its bell was rung already.
				var full bool
				if batch, full = t.gather(batch[:0]); len(batch) == 0 {
					break
				}
				if !t.commit(batch) {
					return
				}
				clear(batch) // drop references to delivered events
				if !full {
					break
				}
				select {
				case <-t.closing:
					return
				default:
				}
			}
		case <-tick:
			if t.opts.MaxAge > 0 && t.first != 0 && t.firstTime.Before(time.Now().Add(-t.opts.MaxAge)) {
				t.trimOnly()
			}
		case <-more:
			t.trimOnly()
		case <-t.closing:
			return
		}
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// gather takes the requests already waiting into batch, within the batch
// limits: at most MaxBatch events and about maxBatchBytes of data (see
// requestQueue.take: a request is never split, and one beyond the limits
// goes alone). When the queue is empty it first yields once to the
// publishers that are ready to run; when fewer requests are then waiting
// than the last group held, it lingers for them (see linger). It reports
// whether it left a request that did not fit, which starts the next group.
func (t *Transport) gather(batch []*request) ([]*request, bool) {
	limit := t.opts.maxBatch()
	batch, g, full := t.queue.take(batch, groupState{}, limit, maxBatchBytes)
	if len(batch) == 0 {
		return batch, false // a stale bell
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var expire <-chan time.Time
	yielded := false
	for !full && g.events < limit && g.bytes < maxBatchBytes {
		if !yielded {
			// An empty queue may only mean that the publishers have not
			// run yet: the request that woke the writer made it the next
			// goroutine to run, ahead of those answered by the last
			// commit. With one processor (a hub given one core) the
			// group would be that single request, the next group as
			// small, and linger, which waits only for groups smaller
			// than the last, would never merge them again: measured, 64
			// publishers fell from 14k to 6k publishes/s in groups of
			// 1.5. One yield lets every runnable publisher queue its
			// request first.
			yielded = true
			runtime.Gosched()
		} else {
			if expire == nil {
				wait := t.linger(len(batch))
				if wait <= 0 {
					return batch, false
				}
				timer = time.NewTimer(wait)
				expire = timer.C
				if t.onLinger != nil {
					t.onLinger()
				}
			}
			select {
			case <-t.queue.bell:
			case <-expire:
				return batch, false
			case <-t.closing:
				return batch, false
			}
		}
		batch, g, full = t.queue.take(batch, g, limit, maxBatchBytes)
		if expire != nil && len(batch) >= t.lastGroup {
			return batch, full // the last group is back
		}
	}
	return batch, full
}

// maxLinger bounds how long a group waits for more requests.
const maxLinger = 4 * time.Millisecond

// linger is how long a group of have requests, with no other request
// waiting, should wait for more before it is committed: zero when it is as
// large as the last group, otherwise half a commit's duration, at most
// maxLinger.
//
// Why: publishers that wait for their answer before the next publish (PHP
// workers, the 64-publisher benchmark) come back within a round trip of
// the answer. Without waiting, the writer starts a commit with the first
// few that are back and the others queue behind it: the publishers split
// into two groups that alternate, each waiting for the other's fsync, so
// a publish costs two commits and every commit carries half of them.
// Waiting briefly for the group that was just answered merges the groups
// again; the wait ends as soon as as many requests as in the last group
// have arrived. A publisher alone (a group of one) never waits, and after
// a wait that ran out the smaller group becomes the reference, so a load
// that dropped costs one wait.
func (t *Transport) linger(have int) time.Duration {
	if have >= t.lastGroup {
		return 0
	}
	return min(t.commitDur/2, maxLinger)
}

// commit writes batch in one transaction, answers its publishers and feeds
// its events. It returns false when the transport is closing.
func (t *Transport) commit(batch []*request) bool {
	last := t.last.Load()
	mintLast := t.mintLast
	var st trimState
	start := time.Now()
	defer func() {
		// A moving average over about eight commits: the disk's fsync
		// latency drifts, one slow commit must not set the wait.
		t.commitDur += (time.Since(start) - t.commitDur) / 8
		t.lastGroup = len(batch)
	}()
	err := t.guard("append", func() error {
		return t.db.Update(func(tx *bbolt.Tx) error {
			if t.opts.faults != nil && t.opts.faults.commit != nil {
				if err := t.opts.faults.commit(); err != nil {
					return err
				}
			}
			events := tx.Bucket(bucketEvents)
			events.FillPercent = eventsFill
			ids, mint := tx.Bucket(bucketIDs), tx.Bucket(bucketMint)
			mint.FillPercent = eventsFill // counters arrive nearly in order
			seq, top := last, mintLast
			for _, r := range batch {
				for i, ev := range r.evs {
					seq++
					if err := events.Put(seqKey(seq), r.vals[i]); err != nil {
						return fmt.Errorf("store event %d: %w", seq, err)
					}
					minted, err := index(mint, ids, ev.ID, r.mint[i], seq)
					if err != nil {
						return fmt.Errorf("index event %d: %w", seq, err)
					}
					if minted {
						top = max(top, r.mint[i])
					}
				}
			}
			meta := tx.Bucket(bucketMeta)
			if err := meta.Put(keyLastSeq, seqKey(seq)); err != nil {
				return fmt.Errorf("store the last sequence: %w", err)
			}
			if top > mintLast {
				if err := meta.Put(keyMintLast, seqKey(top)); err != nil {
					return fmt.Errorf("store the last minted counter: %w", err)
				}
				mintLast = top
			}
			var err error
			st, err = t.trim(tx, seq, int(seq-last)+trimChunk)
			return err
		})
	})
	if err != nil {
		err = fmt.Errorf("bolt: append: %w", err)
		t.appendFailed.Store(&appendFailure{err: err, at: time.Now()})
		for _, r := range batch {
			r.done <- err
		}
		return true
	}
	if t.appendFailed.Load() != nil {
		t.appendFailed.Store(nil)
	}
	t.commits.Add(1)
	seq := last
	for _, r := range batch {
		for _, ev := range r.evs {
			seq++
			ev.Seq = seq
		}
	}
	if t.opts.Metrics != nil {
		t.opts.Metrics.HistoryCommit(int(seq-last), time.Since(start))
	}
	t.last.Store(seq)
	t.mintLast = mintLast
	t.applyTrim(st)
	for _, r := range batch {
		r.done <- nil
	}
	for _, r := range batch {
		for _, ev := range r.evs {
			// A committed event goes on the feed whenever the feed has
			// room, also when Close has begun: a select over both would
			// pick at random and drop it although nothing blocks it. Only
			// a feed nobody reads gives way to Close.
			select {
			case t.feed <- ev:
				continue
			default:
			}
			select {
			case t.feed <- ev:
			case <-t.closing:
				return false
			}
		}
	}
	return true
}

// Feed returns the channel on which every appended event arrives in Seq
// order, after it is committed. It is closed by Close.
func (t *Transport) Feed() <-chan *transport.Event { return t.feed }

// Lookup returns the Seq of the earliest stored occurrence of id: one seek
// in the id index, and for an id the transport minted one more in the mint
// index (a publisher may have reused a minted id: its occurrences after
// the first are in the id index).
func (t *Transport) Lookup(ctx context.Context, id string) (seq uint64, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, false, fmt.Errorf("bolt: lookup: %w", err)
	}
	if len(id) > MaxIDLength {
		return 0, false, nil // never stored
	}
	n := t.mintedCounter(id)
	prefix := idPrefix(id)
	err = t.view(func(tx *bbolt.Tx) error {
		if n != 0 {
			seq, ok = lookupMinted(tx, n)
		}
		k, _ := tx.Bucket(bucketIDs).Cursor().Seek(prefix)
		if k != nil && len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix) {
			if s := binary.BigEndian.Uint64(k[len(prefix):]); !ok || s < seq {
				seq, ok = s, true
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("bolt: lookup: %w", err)
	}
	return seq, ok, nil
}

// Replay calls fn for every stored event with after < Seq <= until. Each
// page of events is read in its own short read transaction and fn is called
// outside of it, so fn may block or append. Events removed by retention
// while the replay runs are skipped.
func (t *Transport) Replay(ctx context.Context, after, until uint64, fn func(*transport.Event) error) error {
	return t.ReplayFiltered(ctx, after, until, transport.ReplayOptions{}, fn)
}

// ReplayFiltered is Replay with a filter applied to each event's topics
// and private flag before its data is decoded, pages bounded in bytes
// (transport.ReplayPageBytes) and each page covered by opts.Budget while
// it is held.
func (t *Transport) ReplayFiltered(ctx context.Context, after, until uint64, opts transport.ReplayOptions, fn func(*transport.Event) error) error {
	read := func(next uint64, limit int64) (page []*transport.Event, resume uint64, need int64, done bool, err error) {
		resume = next
		err = t.view(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucketEvents).Cursor()
			var bytes int64
			scanned := 0
			k, v := c.Seek(seqKey(next))
			for ; k != nil; k, v = c.Next() {
				if len(k) != 8 {
					return fmt.Errorf("%w: event key %x", errCorrupt, k)
				}
				seq := binary.BigEndian.Uint64(k)
				if seq > until {
					done = true
					return nil
				}
				if scanned == replayScan {
					return nil // resume here in a new transaction
				}
				scanned++
				if opts.Filter != nil {
					topics, private, err := decodeRoute(v)
					if err != nil {
						return fmt.Errorf("event %d: %w", seq, err)
					}
					if !opts.Filter(topics, private) {
						resume = seq + 1
						continue
					}
				}
				size := storedSize(v)
				if bytes+size > limit {
					if len(page) == 0 {
						need = size
					}
					return nil
				}
				ev, err := decodeEvent(v)
				if err != nil {
					return fmt.Errorf("event %d: %w", seq, err)
				}
				ev.Seq = seq
				page = append(page, ev)
				bytes += size
				resume = seq + 1
			}
			done = true // the end of the log
			return nil
		})
		return page, resume, need, done, err
	}
	return transport.ReplayPages(ctx, "bolt: replay", after, until, opts.Budget, read, fn)
}

// storedSize is what a stored event counts for in a replay page: its
// encoded length is close to what its decoded strings take, plus the
// fixed cost of an Event.
func storedSize(v []byte) int64 { return int64(len(v)) + 64 }

// view runs fn in a read transaction, mapping a closed database to ErrClosed.
func (t *Transport) view(fn func(*bbolt.Tx) error) error {
	select {
	case <-t.closing:
		return transport.ErrClosed
	default:
	}
	err := t.guard("read", func() error { return t.db.View(fn) })
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return transport.ErrClosed
	}
	return err
}

// LastSeq returns the Seq of the last committed event.
func (t *Transport) LastSeq() uint64 { return t.last.Load() }

// Check reports whether the file can be read and written (the readiness
// probe): it fails while the last commit of appends failed (a full disk),
// for appendFailWindow or until an append succeeds, and for good once the
// storage library faulted or panicked on the file (the error then wraps
// transport.ErrCorrupt).
func (t *Transport) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: check: %w", err)
	}
	if p := t.damaged.Load(); p != nil {
		return fmt.Errorf("bolt: check %s: the file is damaged: %w", t.path, *p)
	}
	if f := t.appendFailed.Load(); f != nil && time.Since(f.at) < appendFailWindow {
		return fmt.Errorf("bolt: check %s: appends fail (the last %v ago): %w", t.path, time.Since(f.at).Round(time.Second), f.err)
	}
	err := t.view(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyVersion); len(v) != 1 || v[0] != fileVersion {
			return errors.New("meta bucket unreadable")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: check %s: %w", t.path, err)
	}
	return nil
}

// Close stops the writer (Appends not yet taken fail with ErrClosed, a
// batch being committed completes), closes the feed and the file. It is
// idempotent.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.closing)
		<-t.done
		close(t.feed)
		if err := t.db.Close(); err != nil {
			t.closeErr = fmt.Errorf("bolt: close %s: %w", t.path, err)
		}
	})
	return t.closeErr
}
