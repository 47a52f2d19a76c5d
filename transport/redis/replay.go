package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
)

// Replays read the stream in pages bounded in bytes before they are read,
// so that what crosses the network and what the node holds is what the
// replay's budget covers (issue 10 finding 2).
//
// Where the append script recorded the largest entry of a block of seqs
// (scripts.go, KEYS[5]), a page is a plain XRANGE of as many entries as
// fit if each were that large, within the block (rangePage): the cheapest
// read Redis has. A filter then reads each entry's topics on the node;
// that is only done in blocks of small entries (up to inlineBytes), which
// cost about what their routes do.
//
// Elsewhere (blocks with large entries, or of a stream written before the
// records existed) a script, scanScript, reads the page: the entries from
// a position on, as long as what it returns stays within the page's
// limit. It returns an entry whole when its payload is small (up to the
// inline bound) and otherwise only its route: the part of the payload a
// filter reads (everything before Data) and the entry's size. The node
// asks the filter about every entry, keeps the whole entries it accepts
// and reads the large ones it accepts with fetchScript, in runs of
// consecutive entries. Without a filter the inline bound is the page's
// limit; with one it is inlineBytes, so that a refused large event never
// leaves Redis. Scripts cost Redis several times what a plain XRANGE does
// per entry (the entries go through Lua), hence the records.
//
// An entry's size is what the node holds once it is read: its id, its
// payload and the fixed cost of an Event, as bolt counts a stored event.

const (
	// inlineBytes is the largest payload a filtered scan returns whole.
	inlineBytes = 4 << 10
	// scriptChunk bounds the entries a script reads with one XRANGE, as
	// pageEvents bounds the feed's: the entries of a chunk are held whole
	// in the script's memory. The script also sizes its chunks after the
	// largest entry it has seen, so that large entries are not read in
	// vain.
	scriptChunk = 256
)

// scanScript reads one page of a replay. KEYS[1] is the stream. ARGV: the
// entry ID to read after (exclusive), the last entry ID of the range, the
// page's limit in bytes, the most entries, the inline bound. It returns
// {done, need, items}: done is 1 when the range has nothing after the
// items; need is the size of the first entry when that alone, returned
// whole, is larger than the limit (items is then empty). An item is an
// entry as XRANGE returns it, {ID, fields}, when its payload is at most
// the inline bound, otherwise {ID, size, route} where route is the payload
// up to Data (false when it does not parse: the node reports the entry as
// corrupt). A whole entry counts for its size, a route for its length.
var scanScript = goredis.NewScript(`
-- routeLen is the length of what precedes Data in payload d (eventcodec's
-- form without the ID): the header, Retry, Type and the topics; nil when d
-- does not parse.
local function routeLen(d)
  local p = 15 -- after the 14 bytes of the header
  local function uvarint()
    local v, mul = 0, 1
    for _ = 1, 10 do
      local b = string.byte(d, p)
      if not b then return nil end
      p = p + 1
      if b < 128 then return v + b * mul end
      v = v + (b - 128) * mul
      mul = mul * 128
    end
    return nil
  end
  local function skipString()
    local n = uvarint()
    if not n or n > #d then return false end
    p = p + n
    return true
  end
  if #d < 14 or not uvarint() or not skipString() then return nil end -- Retry, Type
  local k = uvarint()
  if not k or k > #d then return nil end
  for _ = 1, k do
    if not skipString() then return nil end
  end
  if p - 1 > #d then return nil end
  return p - 1
end

local stream, after, last = KEYS[1], ARGV[1], ARGV[2]
local limit, most, inline = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
-- What the script loads is bounded too (twice the limit, or one entry):
-- routes of large entries cost little to return but their entries are
-- read whole, and a page that keeps one large event is scanned again from
-- it.
local loadCap = 2 * limit
local out, bytes, loaded, largest = {}, 0, 0, 0
while #out < most and loaded < loadCap do
  -- As many entries as fit if the next are no larger than the largest so
  -- far (one, at first).
  local want = 1
  if largest > 0 then want = math.floor((loadCap - loaded) / largest) end
  want = math.max(1, math.min(want, most - #out, ` + strconv.Itoa(scriptChunk) + `))
  local es = redis.call('XRANGE', stream, '(' .. after, last, 'COUNT', want)
  for _, e in ipairs(es) do
    local d = e[2][6]
    local size = 64 + #e[2][2] + #d
    local item, cost = e, size
    if #d > inline then
      local n = routeLen(d)
      local route = false
      if n then route = string.sub(d, 1, n) end
      item, cost = {e[1], size, route}, 64 + (n or 0)
    end
    if bytes + cost > limit then
      if #out == 0 then return {0, cost, out} end
      return {0, 0, out}
    end
    out[#out + 1] = item
    bytes = bytes + cost
    loaded = loaded + size
    largest = math.max(largest, size)
    after = e[1]
  end
  if #es < want then return {1, 0, out} end
end
return {0, 0, out}
`)

// fetchScript reads the entries still stored in runs of consecutive
// entry IDs, in the order given. KEYS[1] is the stream; ARGV holds, for
// each run, its first entry ID, its last, and its length.
var fetchScript = goredis.NewScript(`
local out = {}
for i = 1, #ARGV, 3 do
  local es = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i + 1], 'COUNT', tonumber(ARGV[i + 2]))
  for _, e in ipairs(es) do out[#out + 1] = e end
end
return out
`)

// Replay calls fn for every stored event with after < Seq <= until, in
// pages of at most transport.ReplayPageBytes, fn outside of any call.
// Events removed by retention while the replay runs are skipped.
func (t *Transport) Replay(ctx context.Context, after, until uint64, fn func(*transport.Event) error) error {
	return t.ReplayFiltered(ctx, after, until, transport.ReplayOptions{}, fn)
}

// ReplayFiltered is Replay with opts.Filter applied to each event's topics
// and private flag before its data is decoded (and, for a large event,
// before its data leaves Redis), pages bounded in bytes
// (transport.ReplayPageBytes) before they are read and each page covered
// by opts.Budget while it is held. Seqs are numbered with the node's
// offset as it stands when the replay starts.
func (t *Transport) ReplayFiltered(ctx context.Context, after, until uint64, opts transport.ReplayOptions, fn func(*transport.Event) error) error {
	if err := t.open(); err != nil {
		return err
	}
	t.mu.Lock()
	off := t.offset
	t.mu.Unlock()
	to := toStream(until, off)
	sz := &blockSizes{t: t}
	read := func(next uint64, limit int64) ([]*transport.Event, uint64, int64, bool, error) {
		if err := t.open(); err != nil {
			return nil, 0, 0, false, err
		}
		from := toStream(next-1, off)
		if off < 0 {
			from = max(from, -off) // stream seqs up to -off have no node Seq
		}
		if from >= to {
			return nil, next, 0, true, nil
		}
		bound, known, upto, err := sz.bound(ctx, from)
		if err != nil {
			return nil, 0, 0, false, err
		}
		// A plain XRANGE when many entries fit in a page even if each were
		// the block's largest; otherwise the script, which sizes the page
		// after the entries themselves (one large event does not make
		// every page of its block hold one event).
		if known && bound <= limit/minRangeCount && (opts.Filter == nil || bound <= 64+inlineBytes) {
			end := min(to, ((from+1)/sizeBlock+1)*sizeBlock-1, upto)
			return t.rangePage(ctx, from, end, to, limit, off, bound, opts.Filter)
		}
		return t.replayPage(ctx, from, to, limit, off, opts.Filter)
	}
	return transport.ReplayPages(ctx, "redis: replay", after, until, opts.Budget, read, fn)
}

// streamID is the entry ID of stream seq s.
func streamID(s int64) string { return strconv.FormatInt(s, 10) + "-0" }

// run calls a replay script, counting it in the metrics, and returns its
// array reply.
func (t *Transport) run(ctx context.Context, s *goredis.Script, args ...any) ([]any, error) {
	start := time.Now()
	res, err := s.Run(ctx, t.c, t.keys[:1], args...).Slice()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t.m.RedisError(OpReplay)
		return nil, err
	}
	t.m.RedisRoundTrip(OpReplay, time.Since(start))
	return res, nil
}

// A plain XRANGE page holds at most maxRangeCount entries, and is only
// used where at least minRangeCount fit.
const (
	maxRangeCount = 4096
	minRangeCount = 16
)

// blockSizes caches, for one replay, the largest entry of the blocks it
// reads (with the fixed cost of an Event: what an entry of the block counts
// for at most), fetched a few blocks at a time. The records hold for the
// entries stored when they were read, up to stream seq upto: entries
// appended since (to a replay that reaches the head) may be larger, so
// the cache is read again past upto.
type blockSizes struct {
	t     *Transport
	upto  int64
	known map[int64]int64 // 0: no record
}

// blocksAhead is how many blocks one read of the records covers.
const blocksAhead = 16

// bound returns the size bound of the block of the entry after stream seq
// from, known=false when the block has no record (a stream written before
// records, or a block trimmed meanwhile), and the stream seq up to which
// the records hold.
func (z *blockSizes) bound(ctx context.Context, from int64) (n int64, known bool, upto int64, err error) {
	b := (from + 1) / sizeBlock
	if n, ok := z.known[b]; ok && from < z.upto {
		return n, n > 0, z.upto, nil
	}
	fields := []string{"from"}
	for i := range int64(blocksAhead) {
		fields = append(fields, strconv.FormatInt(b+i, 10))
	}
	// The stream's last seq first: the records read after it cover every
	// entry up to it (an entry and its record are written by one script).
	start := time.Now()
	p := z.t.c.Pipeline()
	seqCmd := p.HGet(ctx, z.t.keys[1], "seq")
	recCmd := p.HMGet(ctx, z.t.keys[4], fields...)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		if ctx.Err() != nil {
			return 0, false, 0, ctx.Err()
		}
		z.t.m.RedisError(OpReplay)
		return 0, false, 0, err
	}
	z.t.m.RedisRoundTrip(OpReplay, time.Since(start))
	z.upto, _ = strconv.ParseInt(seqCmd.Val(), 10, 64)
	vals := recCmd.Val()
	first := int64(-1)
	if len(vals) > 0 {
		if v, ok := vals[0].(string); ok {
			if f, err := strconv.ParseInt(v, 10, 64); err == nil {
				first = f
			}
		}
	}
	z.known = make(map[int64]int64, blocksAhead)
	for i := range int64(blocksAhead) {
		blk := b + i
		z.known[blk] = 0
		if first < 0 || blk < first || int(i)+1 >= len(vals) {
			continue
		}
		if s, ok := vals[i+1].(string); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
				z.known[blk] = 64 + n
			}
		}
	}
	n = z.known[b]
	return n, n > 0 && from < z.upto, z.upto, nil
}

// rangePage reads one page with a plain XRANGE: the entries after stream
// seq from, up to end (within one block), as many as fit in limit if each
// were bound bytes, that filter (nil: every one) accepts. to is the
// replay's last stream seq.
func (t *Transport) rangePage(ctx context.Context, from, end, to, limit, off, bound int64, filter func([]string, bool) bool) ([]*transport.Event, uint64, int64, bool, error) {
	count := min(limit/bound, end-from, maxRangeCount)
	start := time.Now()
	res, err := t.c.Do(ctx, "XRANGE", t.keys[0], "("+streamID(from), streamID(end), "COUNT", count).Slice()
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, 0, false, ctx.Err()
		}
		t.m.RedisError(OpReplay)
		return nil, 0, 0, false, err
	}
	t.m.RedisRoundTrip(OpReplay, time.Since(start))
	evs, last, err := decodeEntries(res, off)
	if err != nil {
		return nil, 0, 0, false, err
	}
	resume := uint64(int64(last)+off) + 1
	done := false
	if int64(len(evs)) < count {
		// Nothing more up to end: the page resumes after it.
		resume, done = uint64(end+off)+1, end == to
	}
	if filter != nil {
		kept := evs[:0]
		for _, ev := range evs {
			if filter(ev.Topics, ev.Private) {
				kept = append(kept, ev)
			}
		}
		clear(evs[len(kept):])
		evs = kept
	}
	return evs, resume, 0, done, nil
}

// pageSlot is one event of a page: read whole by the scan, or to be
// fetched (ev nil).
type pageSlot struct {
	seq int64
	ev  *transport.Event
}

// replayPage reads one page of a replay: the entries after stream seq from,
// up to to, that filter (nil: every one) accepts, within limit bytes. It
// returns the page, the node Seq to resume from, the size of an entry
// larger than limit when the page would start with it, and whether the
// range is done.
func (t *Transport) replayPage(ctx context.Context, from, to, limit, off int64, filter func([]string, bool) bool) ([]*transport.Event, uint64, int64, bool, error) {
	inline := limit
	if filter != nil {
		inline = inlineBytes
	}
	most := limit/64 + 1 // an item counts for at least 64 bytes
	res, err := t.run(ctx, scanScript, streamID(from), streamID(to), limit, most, inline)
	if err != nil {
		return nil, 0, 0, false, err
	}
	var done, need int64
	if err := scanReply(res, &done, &need); err != nil {
		return nil, 0, 0, false, err
	}
	if need > 0 {
		return nil, 0, need, false, nil
	}
	items, ok := res[2].([]any)
	if !ok {
		return nil, 0, 0, false, fmt.Errorf("unexpected script reply: items are %T", res[2])
	}
	resume := uint64(from+off) + 1
	var slots []pageSlot
	var runs []any // first ID, last ID, length of each run of entries to fetch
	var bytes, lastFetch int64
	full := false
	for _, it := range items {
		seq, size, whole, id, route, sid, err := scanItem(it)
		if err != nil {
			return nil, 0, 0, false, err
		}
		if filter != nil {
			topics, private, err := codec.Route(route) // a whole payload reads as its route too
			if err != nil {
				return nil, 0, 0, false, fmt.Errorf("event %d: %w", seq, err)
			}
			if !filter(topics, private) {
				resume = uint64(seq+off) + 1
				continue
			}
		}
		if bytes+size > limit {
			if len(slots) == 0 {
				return nil, 0, size, false, nil // a route of an entry larger than limit
			}
			full = true
			break
		}
		var ev *transport.Event
		if whole {
			if ev, err = decodePayload(id, route); err != nil {
				return nil, 0, 0, false, fmt.Errorf("event %d: %w", seq, err)
			}
			ev.Seq = uint64(seq + off)
		} else {
			if len(runs) > 0 && lastFetch == seq-1 {
				runs[len(runs)-2] = sid
				runs[len(runs)-1] = runs[len(runs)-1].(int) + 1
			} else {
				runs = append(runs, sid, sid, 1)
			}
			lastFetch = seq
		}
		slots = append(slots, pageSlot{seq, ev})
		bytes += size
		resume = uint64(seq+off) + 1
	}
	fetched, err := t.fetch(ctx, runs, off)
	if err != nil {
		return nil, 0, 0, false, err
	}
	page := make([]*transport.Event, 0, len(slots))
	for _, s := range slots {
		ev := s.ev
		if ev == nil {
			if ev = fetched[s.seq]; ev == nil {
				continue // trimmed since the scan: skipped, as retention during a replay wants
			}
		}
		page = append(page, ev)
	}
	return page, resume, 0, done == 1 && !full, nil
}

// fetch reads the entries of runs and returns them by stream seq.
func (t *Transport) fetch(ctx context.Context, runs []any, off int64) (map[int64]*transport.Event, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	entries, err := t.run(ctx, fetchScript, runs...)
	if err != nil {
		return nil, err
	}
	evs, _, err := decodeEntries(entries, off)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*transport.Event, len(evs))
	for _, ev := range evs {
		out[int64(ev.Seq)-off] = ev
	}
	return out, nil
}

// scanItem reads one item of scanScript: a whole entry (whole, with its
// event id and its whole payload) or the route of a large one (payload is
// the route). seq is the stream seq, size what the event counts for, sid
// its entry ID.
func scanItem(it any) (seq, size int64, whole bool, id string, payload []byte, sid string, err error) {
	f, ok := it.([]any)
	if !ok {
		return 0, 0, false, "", nil, "", fmt.Errorf("%w: unexpected replay item %T", errCorrupt, it)
	}
	if len(f) == 2 { // a whole entry
		s, id, p, err := entryFields(it)
		if err != nil {
			return 0, 0, false, "", nil, "", err
		}
		return int64(s), int64(64 + len(id) + len(p)), true, id, []byte(p), "", nil
	}
	if len(f) != 3 {
		return 0, 0, false, "", nil, "", fmt.Errorf("%w: unexpected replay item of %d values", errCorrupt, len(f))
	}
	sid, _ = f[0].(string)
	head, _, _ := strings.Cut(sid, "-")
	s, err := strconv.ParseUint(head, 10, 63)
	if err != nil {
		return 0, 0, false, "", nil, "", fmt.Errorf("%w: entry ID %q", errCorrupt, sid)
	}
	if size, ok = f[1].(int64); !ok {
		return 0, 0, false, "", nil, "", fmt.Errorf("unexpected replay item of entry %s: size is %T", sid, f[1])
	}
	p, ok := f[2].(string)
	if !ok { // the script found no route in the payload
		return 0, 0, false, "", nil, "", fmt.Errorf("%w: entry %s: the payload does not parse", errCorrupt, sid)
	}
	return int64(s), size, false, "", []byte(p), sid, nil
}
