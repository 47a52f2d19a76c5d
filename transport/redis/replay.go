package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
)

// Replays read the stream in pages bounded in bytes on the server's side,
// so that what crosses the network and what the node holds is what the
// replay's budget covers (issue 10 finding 2):
//
//   - without a filter, pageScript returns the entries from a position on
//     whose sizes add up to the page's limit, in one call;
//   - with a filter, routeScript first returns, for a scan of entries, only
//     the part of each payload that the filter reads (everything before
//     Data) and the entry's size; the node asks the filter once per entry,
//     remembers the IDs and sizes of the entries it accepts (not their
//     routes), and fetchScript then reads, page by page, as many of those
//     as fit in the page. A scan thus reads each entry once, however
//     small the pages.
//
// An entry's size is what the node holds once it is read: its id, its
// payload and the fixed cost of an Event, as bolt counts a stored event.

const (
	// replayScan bounds the entries one routeScript call looks at, so that
	// a filter refusing a long history costs several short scripts rather
	// than one that every publisher waits behind.
	replayScan = 1024
	// scriptChunk is how many entries a script reads with one XRANGE: the
	// entries of a chunk are held whole in the script's memory, so it stays
	// small (entries may be as large as a publisher's body).
	scriptChunk = 16
)

// luaEntrySize is the size of an entry, e, as the replay counts it.
const luaEntrySize = `
local function entrySize(e) return 64 + #e[2][2] + #e[2][6] end
`

// pageScript reads one page of an unfiltered replay. KEYS[1] is the
// stream. ARGV: the entry ID to read after (exclusive), the last entry ID
// of the range, the page's limit in bytes, the most entries. It returns
// {done, need, entries}: done is 1 when the range has nothing after the
// entries; need is the size of the first entry when that alone is larger
// than the limit (entries is then empty).
var pageScript = goredis.NewScript(luaEntrySize + `
local stream, after, last = KEYS[1], ARGV[1], ARGV[2]
local limit, most = tonumber(ARGV[3]), tonumber(ARGV[4])
local out, bytes, largest = {}, 0, 0
while #out < most do
  -- As many entries as fit if the next are no larger than the largest
  -- so far (one, at first), so that large entries are not read in vain.
  local want = 1
  if largest > 0 then want = math.floor((limit - bytes) / largest) end
  want = math.max(1, math.min(want, most - #out, ` + strconv.Itoa(scriptChunk) + `))
  local es = redis.call('XRANGE', stream, '(' .. after, last, 'COUNT', want)
  for _, e in ipairs(es) do
    local size = entrySize(e)
    if bytes + size > limit then
      if #out == 0 then return {0, size, out} end
      return {0, 0, out}
    end
    out[#out + 1] = e
    bytes = bytes + size
    largest = math.max(largest, size)
    after = e[1]
  end
  if #es < want then return {1, 0, out} end
end
return {0, 0, out}
`)

// routeScript reads the routes of a scan of a filtered replay. KEYS[1] is
// the stream. ARGV: the entry ID to read after (exclusive), the last entry
// ID of the range, the most entries. It returns {done, routes} where each
// route is {entry ID, size, the payload up to Data} (false for the payload
// when it does not parse: the node reports the entry as corrupt); done is 1
// when the range has nothing after the routes.
var routeScript = goredis.NewScript(luaEntrySize + `
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

local stream, after, last, most = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
while #out < most do
  local want = math.min(most - #out, ` + strconv.Itoa(scriptChunk) + `)
  local es = redis.call('XRANGE', stream, '(' .. after, last, 'COUNT', want)
  for _, e in ipairs(es) do
    local d = e[2][6]
    local n = routeLen(d)
    local route = false
    if n then route = string.sub(d, 1, n) end
    out[#out + 1] = {e[1], entrySize(e), route}
    after = e[1]
  end
  if #es < want then return {1, out} end
end
return {0, out}
`)

// fetchScript reads the entries of the given IDs that are still stored,
// in the order given. KEYS[1] is the stream, ARGV the entry IDs.
var fetchScript = goredis.NewScript(`
local out = {}
for _, id in ipairs(ARGV) do
  local e = redis.call('XRANGE', KEYS[1], id, id)
  if #e > 0 then out[#out + 1] = e[1] end
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
// and private flag before its data leaves Redis, pages bounded in bytes
// (transport.ReplayPageBytes) on the server's side and each page covered by
// opts.Budget while it is held. Seqs are numbered with the node's offset
// as it stands when the replay starts.
func (t *Transport) ReplayFiltered(ctx context.Context, after, until uint64, opts transport.ReplayOptions, fn func(*transport.Event) error) error {
	if err := t.open(); err != nil {
		return err
	}
	t.mu.Lock()
	off := t.offset
	t.mu.Unlock()
	to := toStream(until, off)
	var scan *routeScan
	if opts.Filter != nil {
		scan = &routeScan{filter: opts.Filter}
	}
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
		if scan == nil {
			return t.replayPage(ctx, from, to, limit, off)
		}
		return t.readFiltered(ctx, scan, from, to, limit, off)
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

// replayPage reads one page of an unfiltered replay: the entries after
// stream seq from, up to to, within limit bytes.
func (t *Transport) replayPage(ctx context.Context, from, to, limit, off int64) ([]*transport.Event, uint64, int64, bool, error) {
	most := limit/64 + 1 // an entry counts for at least 64 bytes
	res, err := t.run(ctx, pageScript, streamID(from), streamID(to), limit, most)
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
	entries, ok := res[2].([]any)
	if !ok {
		return nil, 0, 0, false, fmt.Errorf("unexpected script reply: entries are %T", res[2])
	}
	evs, last, err := decodeEntries(entries, off)
	if err != nil {
		return nil, 0, 0, false, err
	}
	if len(evs) == 0 {
		return nil, 0, 0, true, nil
	}
	return evs, uint64(int64(last)+off) + 1, 0, done == 1, nil
}

// routeScan is the progress of a filtered replay's scan of routes.
type routeScan struct {
	filter  func([]string, bool) bool
	kept    []keptEntry // accepted by the filter, not read yet, in order
	scanned int64       // the stream seq up to which routes were read
	done    bool        // the scan reached the end of the range
}

// keptEntry is an entry the filter accepted.
type keptEntry struct {
	sid  string
	seq  int64
	size int64
}

// readFiltered reads one page of a filtered replay: the entries after
// stream seq from that the filter accepts, while they fit in limit bytes.
// When the scan has no accepted entry left, it first scans the routes of
// up to replayScan more entries.
func (t *Transport) readFiltered(ctx context.Context, scan *routeScan, from, to, limit, off int64) ([]*transport.Event, uint64, int64, bool, error) {
	for len(scan.kept) > 0 && scan.kept[0].seq <= from {
		scan.kept = scan.kept[1:]
	}
	if len(scan.kept) == 0 {
		if scan.done {
			return nil, 0, 0, true, nil
		}
		if err := t.scanRoutes(ctx, scan, max(from, scan.scanned), to); err != nil {
			return nil, 0, 0, false, err
		}
		if len(scan.kept) == 0 {
			// Nothing accepted in this scan: resume after it (ReplayPages
			// checks the context between scans).
			return nil, uint64(scan.scanned+off) + 1, 0, scan.done, nil
		}
	}
	if first := scan.kept[0]; first.size > limit {
		return nil, 0, first.size, false, nil
	}
	var ids []any
	var bytes int64
	n := 0
	for ; n < len(scan.kept) && bytes+scan.kept[n].size <= limit; n++ {
		ids = append(ids, scan.kept[n].sid)
		bytes += scan.kept[n].size
	}
	last := scan.kept[n-1].seq
	scan.kept = scan.kept[n:]
	start := time.Now()
	entries, err := fetchScript.Run(ctx, t.c, t.keys[:1], ids...).Slice()
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, 0, false, ctx.Err()
		}
		t.m.RedisError(OpReplay)
		return nil, 0, 0, false, err
	}
	t.m.RedisRoundTrip(OpReplay, time.Since(start))
	// Entries trimmed since the scan are missing: skipped, as retention
	// during a replay wants.
	evs, _, err := decodeEntries(entries, off)
	if err != nil {
		return nil, 0, 0, false, err
	}
	return evs, uint64(last+off) + 1, 0, scan.done && len(scan.kept) == 0, nil
}

// scanRoutes reads the routes of up to replayScan entries after stream seq
// after, up to to, asks the filter about each and keeps those it accepts.
func (t *Transport) scanRoutes(ctx context.Context, scan *routeScan, after, to int64) error {
	res, err := t.run(ctx, routeScript, streamID(after), streamID(to), replayScan)
	if err != nil {
		return err
	}
	var done int64
	if err := scanReply(res, &done); err != nil {
		return err
	}
	routes, ok := res[1].([]any)
	if !ok {
		return fmt.Errorf("unexpected script reply: routes are %T", res[1])
	}
	scan.scanned = after
	for _, r := range routes {
		sid, s, size, route, err := routeFields(r)
		if err != nil {
			return err
		}
		topics, private, err := codec.Route(route)
		if err != nil {
			return fmt.Errorf("event %d: %w", s, err)
		}
		if scan.filter(topics, private) {
			scan.kept = append(scan.kept, keptEntry{sid: sid, seq: int64(s), size: size})
		}
		scan.scanned = int64(s)
	}
	scan.done = done == 1
	return nil
}

// routeFields extracts one route of routeScript: the entry ID, its stream
// seq, its size and the payload up to Data.
func routeFields(r any) (sid string, seq uint64, size int64, route []byte, err error) {
	f, ok := r.([]any)
	if !ok || len(f) != 3 {
		return "", 0, 0, nil, fmt.Errorf("%w: unexpected route %T", errCorrupt, r)
	}
	sid, _ = f[0].(string)
	head, _, _ := strings.Cut(sid, "-")
	if seq, err = strconv.ParseUint(head, 10, 63); err != nil {
		return "", 0, 0, nil, fmt.Errorf("%w: entry ID %q", errCorrupt, sid)
	}
	if size, ok = f[1].(int64); !ok {
		return "", 0, 0, nil, fmt.Errorf("unexpected route of entry %s: size is %T", sid, f[1])
	}
	p, ok := f[2].(string)
	if !ok { // the script found no route in the payload
		return "", 0, 0, nil, fmt.Errorf("%w: entry %s: the payload does not parse", errCorrupt, sid)
	}
	return sid, seq, size, []byte(p), nil
}
