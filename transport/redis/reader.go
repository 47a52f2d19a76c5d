package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
)

// pollResult is what pollScript answers.
type pollResult struct {
	epoch   string
	start   uint64
	seq     uint64 // the stream's last seq
	entries []any
}

// poll runs pollScript: the epoch check, then up to count entries after
// stream seq pos.
func (t *Transport) poll(ctx context.Context, known string, pos uint64, check bool, posID string, count int) (pollResult, error) {
	start := time.Now()
	res, err := pollScript.Run(ctx, t.c, t.keys, known, pos, flag(check), posID, newEpoch(), count, pageBytes).Slice()
	var r pollResult
	var sStart, seq int64
	if err == nil {
		err = scanReply(res, &r.epoch, &sStart, &seq)
	}
	if err == nil && len(res) == 4 {
		r.entries, _ = res[3].([]any)
	}
	if err != nil {
		t.m.RedisError(OpRead)
		return r, err
	}
	t.m.RedisRoundTrip(OpRead, time.Since(start))
	r.start, r.seq = uint64(sStart), uint64(seq)
	return r, nil
}

// readPage is the reader's usual poll. It answers what pollScript would,
// but reads with plain commands in one MULTI (an atomic snapshot, as the
// script is), which costs Redis much less than a script call per poll.
// Only when what it read calls for the script's action does it run
// pollScript, which re-checks and makes a new epoch: no metadata (Redis
// restarted empty, FLUSHALL), or the caller's epoch is current but the
// stream no longer holds its position (its last seq is below it, or the
// entry there has another event id: a rollback).
func (t *Transport) readPage(ctx context.Context, known string, pos uint64, check bool, posID string, count int) (pollResult, error) {
	start := time.Now()
	from, n := "-", count
	if pos > 0 {
		// Inclusive: the entry at pos, if still stored, is the check's.
		from, n = strconv.FormatUint(pos, 10)+"-0", count+1
	}
	var meta *goredis.SliceCmd
	var page *goredis.Cmd
	_, err := t.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		meta = p.HMGet(ctx, t.keys[1], "epoch", "start", "seq")
		page = p.Do(ctx, "XRANGE", t.keys[0], from, "+", "COUNT", n)
		return nil
	})
	var m []any
	var entries []any
	if err == nil {
		m, err = meta.Result()
	}
	if err == nil {
		entries, err = page.Slice()
	}
	if err != nil {
		t.m.RedisError(OpRead)
		return pollResult{}, err
	}
	t.m.RedisRoundTrip(OpRead, time.Since(start))
	epoch, _ := m[0].(string)
	if epoch == "" {
		return t.poll(ctx, known, pos, check, posID, count)
	}
	var r pollResult
	r.epoch = epoch
	if r.start, err = metaSeq(m[1]); err == nil {
		r.seq, err = metaSeq(m[2])
	}
	if err != nil {
		return r, err
	}
	if epoch != known {
		return r, nil // the caller adopts it; nothing to read in it yet
	}
	if r.seq < pos {
		return t.poll(ctx, known, pos, check, posID, count)
	}
	if pos > 0 && len(entries) > 0 {
		if s, id, _, ferr := entryFields(entries[0]); ferr == nil && s == pos {
			if check && id != posID {
				return t.poll(ctx, known, pos, check, posID, count)
			}
			entries = entries[1:]
		}
	}
	// The page's bounds, as pollScript's: count entries, and pageBytes of
	// payload unless one entry alone is larger.
	entries = entries[:min(len(entries), count)]
	bytes := 0
	for i, e := range entries {
		_, _, d, _ := entryFields(e)
		if i > 0 && bytes+len(d) > pageBytes {
			entries = entries[:i]
			break
		}
		bytes += len(d)
	}
	r.entries = entries
	return r, nil
}

// metaSeq parses a seq of the stream's metadata; missing is 0.
func metaSeq(v any) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	s, _ := v.(string)
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("%w: stream metadata seq %q", errCorrupt, s)
	}
	return n, nil
}

// read is the feed's single reader: it polls the stream from its position,
// feeds what it finds in order, and when nothing is new waits in a
// blocking XREAD. Redis errors make it retry with backoff from the same
// position, so after a lost connection it resumes exactly after the last
// event it fed.
func (t *Transport) read() {
	defer t.others.Done()
	backoff := time.Duration(0)
	failing := false
	count := firstPage // sized after the events of the last page
	fail := func(err error) bool {
		if t.ctx.Err() != nil {
			return false
		}
		if !failing {
			t.log.Warn("redis: the feed cannot read the stream; retrying with backoff", "error", err)
			failing = true
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		select {
		case <-time.After(backoff):
			return true
		case <-t.draining:
			return false
		}
	}
	for {
		t.mu.Lock()
		known, pos, check, posID := t.epoch, t.pos, t.check, t.posID
		fed := uint64(int64(pos) + t.offset)
		t.mu.Unlock()
		if t.isDraining() && fed >= t.last.Load() {
			return // everything stored before Close was fed
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.ioTimeout())
		res, err := t.readPage(ctx, known, pos, check, posID, count)
		cancel()
		if err != nil {
			if !fail(err) {
				return
			}
			continue
		}
		if failing {
			t.log.Info("redis: the feed reads the stream again", "position", pos)
			failing, backoff = false, 0
		}
		evs, next, err := t.accept(known, pos, res)
		if err != nil {
			t.log.Error("redis: the feed skips unreadable entries", "error", err)
		}
		if len(evs) > 0 {
			count = pageCount(evs)
		}
		for _, ev := range evs {
			select {
			case t.feed <- ev:
			case <-t.stop:
				return
			}
		}
		// Nothing new, or the page reached the stream's head: wait for
		// more instead of polling an empty page (live tailing then costs
		// one read per burst, not two).
		idle := next == pos && evs == nil && err == nil && res.epoch == known
		atHead := len(evs) > 0 && err == nil && res.epoch == known && next >= res.seq
		if idle || atHead {
			if t.isDraining() {
				if idle {
					return
				}
				continue // the loop's head ends the drain once all is fed
			}
			if !t.wait(next) {
				return
			}
		}
	}
}

// accept applies a poll made from (known, pos) to the node's view: it
// adopts a new epoch, detects entries trimmed before they were fed, and
// advances the position. It returns the events to feed and the new
// position; nothing when the view changed meanwhile (the caller polls
// again).
func (t *Transport) accept(known string, pos uint64, res pollResult) ([]*transport.Event, uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.epoch != known || t.pos != pos {
		return nil, t.pos, nil // an append adopted a new epoch meanwhile
	}
	if res.epoch != known {
		t.adoptLocked(res.epoch, res.start, "the stream's epoch changed (recreated or rolled back)")
		return nil, t.pos, nil
	}
	if len(res.entries) == 0 {
		if res.seq > pos {
			// Everything after the position is gone: retention removed
			// it before this node fed it.
			t.lostLocked(fmt.Sprintf("events %d to %d were trimmed before this node fed them", pos+1, res.seq))
			t.pos, t.check, t.posID = res.seq, false, ""
		}
		t.m.RedisFeedLag(0)
		return nil, t.pos, nil
	}
	first, _, _, _ := entryFields(res.entries[0])
	if first > pos+1 {
		t.lostLocked(fmt.Sprintf("events %d to %d were trimmed before this node fed them", pos+1, first-1))
	}
	evs, last, err := decodeEntries(res.entries, t.offset)
	if err != nil {
		// Feed the readable prefix, skip the rest of the page.
		evs, last = t.decodePrefix(res.entries)
		if last == pos {
			last = pos + 1 // skip the unreadable entry itself
		}
	}
	if len(evs) > 0 {
		t.posID, t.check = evs[len(evs)-1].ID, true
	} else {
		t.posID, t.check = "", false
	}
	t.pos = max(last, pos)
	t.raiseLast(uint64(int64(res.seq) + t.offset))
	t.m.RedisFeedLag(res.seq - t.pos)
	return evs, t.pos, err
}

// decodePrefix decodes entries up to the first unreadable one and returns
// them and the stream seq of the last one returned (or of the unreadable
// one, so that the reader moves past it).
func (t *Transport) decodePrefix(entries []any) ([]*transport.Event, uint64) {
	var evs []*transport.Event
	var last uint64
	for _, e := range entries {
		s, id, d, err := entryFields(e)
		if err != nil {
			if s != 0 {
				last = s
			}
			break
		}
		ev, err := decodePayload(id, []byte(d))
		last = s
		if err != nil {
			break
		}
		ev.Seq = uint64(int64(s) + t.offset)
		evs = append(evs, ev)
	}
	return evs, last
}

// wait blocks until the stream may hold entries after pos: a blocking
// XREAD of one entry, ended early when the position changes (a new epoch)
// or after blockFor. It reports false when the transport is closing.
func (t *Transport) wait(pos uint64) bool {
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	t.mu.Lock()
	if t.pos != pos || t.isDraining() {
		t.mu.Unlock()
		return true
	}
	t.wake = cancel
	t.mu.Unlock()
	start := time.Now()
	err := t.c.XRead(ctx, &goredis.XReadArgs{
		Streams: []string{t.keys[0], fmt.Sprintf("%d-0", pos)},
		Count:   1,
		Block:   blockFor,
	}).Err()
	t.mu.Lock()
	t.wake = nil
	t.mu.Unlock()
	switch {
	case t.ctx.Err() != nil:
		return false
	case err == nil || errors.Is(err, goredis.Nil) || ctx.Err() != nil:
		t.m.RedisRoundTrip(OpRead, time.Since(start))
		return true
	default:
		// Polling reports the failure and backs off.
		return true
	}
}

// trimmer runs retention when appends leave a backlog, when events expire
// while nobody appends (every tenth of MaxAge, at most every minute), and
// once at start (the retention may be smaller than the last run's).
func (t *Transport) trimmer() {
	defer t.others.Done()
	var tick <-chan time.Time
	if t.opts.MaxAge > 0 {
		every := min(max(t.opts.MaxAge/10, 10*time.Millisecond), time.Minute)
		tk := time.NewTicker(every)
		defer tk.Stop()
		tick = tk.C
	}
	backoff := time.Duration(0)
	for {
		if t.opts.Size > 0 || t.opts.MaxAge > 0 {
			if err := t.trimAll(); err != nil {
				if t.ctx.Err() != nil {
					return
				}
				t.log.Warn("redis: retention failed; retrying", "error", err)
				backoff = min(max(2*backoff, minBackoff), maxBackoff)
				select {
				case <-time.After(backoff):
					continue
				case <-t.closing:
					return
				}
			}
			backoff = 0
		}
		select {
		case <-tick:
		case <-t.trimKick:
		case <-t.closing:
			return
		}
	}
}

// trimAll runs retention passes until nothing is left to remove.
func (t *Transport) trimAll() error {
	for {
		var cutoff int64
		if t.opts.MaxAge > 0 {
			cutoff = time.Now().Add(-t.opts.MaxAge).UnixMilli()
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.ioTimeout())
		start := time.Now()
		more, err := trimScript.Run(ctx, t.c, t.keys, t.opts.Size, cutoff, trimChunk).Int64()
		cancel()
		if err != nil {
			t.m.RedisError(OpTrim)
			return err
		}
		t.m.RedisRoundTrip(OpTrim, time.Since(start))
		if more == 0 {
			return nil
		}
	}
}

func (t *Transport) isDraining() bool {
	select {
	case <-t.draining:
		return true
	default:
		return false
	}
}

func (t *Transport) kickTrim() {
	select {
	case t.trimKick <- struct{}{}:
	default:
	}
}
