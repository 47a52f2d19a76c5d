package redis

import (
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// sizeBlock is how many seqs share one record of the largest entry
// (KEYS[5]): one hash field per sizeBlock events.
const sizeBlock = 1024

// sizeBlockLua is sizeBlock in the scripts.
var sizeBlockLua = strconv.Itoa(sizeBlock)

// The Lua scripts are the only writers of a stream's keys, so that every
// change to the stream, its id index and its metadata is atomic (a script
// runs alone on the server and is replicated and persisted as a whole).
//
// Keys, all under the hash tag {stream} so that they share one Redis
// Cluster slot:
//
//	KEYS[1] {stream}:events  the stream; entry IDs are <seq>-0
//	KEYS[2] {stream}:meta    hash: epoch (random, new whenever history was
//	                         lost), start (the seq before the epoch's first
//	                         event), seq (the last seq assigned)
//	KEYS[3] {stream}:ids     hash: event id -> "<first> <last>", the seqs of
//	                         its earliest and latest stored occurrences
//	KEYS[4] {stream}:next    hash: seq -> seq of the next occurrence of the
//	                         same id, for ids stored more than once
//	KEYS[5] {stream}:sizes   hash: block -> the largest entry (id and payload
//	                         bytes) stored with a seq in that block of
//	                         sizeBlock seqs (floor(seq / sizeBlock)), so that
//	                         a replay knows how many entries fit in a page
//	                         before it reads them (replay.go). Field "from"
//	                         is the first block recorded whole: a stream
//	                         written before the records existed keeps its
//	                         older blocks unrecorded, and replays size their
//	                         pages with a script instead.
//
// Retention removes events from the front only, so the occurrence it
// removes is always the earliest of its id: the index entry moves to the
// next occurrence (REC-9 resolves to the earliest one still stored) or goes.
//
// The epoch check (ensure) runs first in the append and poll scripts. It
// creates a new epoch when the metadata is missing (Redis restarted empty,
// FLUSHALL) and when the caller's epoch is still current but the stream no
// longer holds what the caller read: its last seq is below the caller's
// position, or the entry at that position has another event id (a failover
// to a replica that missed writes, a restart from an older snapshot). A new
// epoch is how every node learns that history was lost.
var luaCommon = `
local stream, meta, ids, nexts, sizes = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sizeBlock = ` + sizeBlockLua + `

local function str(n) return string.format('%d', n) end
local function seqOf(id) return tonumber(string.match(id, '^(%d+)-')) end

local function ensure(known, pos, check, posid, cand)
  local m = redis.call('HMGET', meta, 'epoch', 'start', 'seq')
  local epoch, start, seq = m[1], tonumber(m[2] or '0'), tonumber(m[3] or '0')
  local rebase = false
  if not epoch then
    rebase = true
  elseif epoch == known then
    if seq < pos then
      rebase = true
    elseif check == '1' then
      local e = redis.call('XRANGE', stream, str(pos) .. '-0', str(pos) .. '-0')
      if #e > 0 and e[1][2][2] ~= posid then rebase = true end
    end
  end
  if rebase then
    -- New entries must have IDs above every ID the stream ever gave out.
    if redis.call('EXISTS', stream) == 1 then
      local info = redis.call('XINFO', 'STREAM', stream)
      for i = 1, #info, 2 do
        if info[i] == 'last-generated-id' then seq = math.max(seq, seqOf(info[i + 1])) end
      end
    end
    epoch, start = cand, seq
    redis.call('HSET', meta, 'epoch', cand, 'start', str(seq), 'seq', str(seq))
  end
  return epoch, start, seq
end

-- index records occurrence s of id. A new id (the usual case: hub-made
-- UUIDs) costs one HSETNX; a repeated one links s after its last occurrence.
local function index(id, s)
  if redis.call('HSETNX', ids, id, s .. ' ' .. s) == 1 then return end
  local v = redis.call('HGET', ids, id)
  local f, l = string.match(v, '^(%d+) (%d+)$')
  redis.call('HSET', nexts, l, s)
  redis.call('HSET', ids, id, f .. ' ' .. s)
end

local function unindex(id, s)
  local v = redis.call('HGET', ids, id)
  if not v then return end
  local f, l = string.match(v, '^(%d+) (%d+)$')
  if f ~= s then return end
  if l == s then
    redis.call('HDEL', ids, id)
    return
  end
  local n = redis.call('HGET', nexts, s)
  redis.call('HDEL', nexts, s)
  if n then
    redis.call('HSET', ids, id, n .. ' ' .. l)
  else
    redis.call('HDEL', ids, id)
  end
end

-- recordSize raises the largest entry size of block b to n.
local function recordSize(b, n)
  local cur = tonumber(redis.call('HGET', sizes, str(b)) or '0')
  if n > cur then redis.call('HSET', sizes, str(b), str(n)) end
end

-- trim removes, oldest first, the events beyond size and those older than
-- cutoff (Unix ms), at most limit of them, with their index entries. It
-- returns 1 when it stopped at the limit (more may have to go), else 0.
local function trim(size, cutoff, limit)
  if size <= 0 and cutoff <= 0 then return 0 end
  local len = redis.call('XLEN', stream)
  local removed, last, done, firstRemoved = 0, nil, false, nil
  while not done and removed < limit do
    local from = '-'
    if last then from = '(' .. last .. '-0' end
    local es = redis.call('XRANGE', stream, from, '+', 'COUNT', math.min(limit - removed, 256))
    if #es == 0 then done = true end
    for _, e in ipairs(es) do
      local tooMany = size > 0 and len - removed > size
      local tooOld = cutoff > 0 and tonumber(e[2][4]) < cutoff
      if not tooMany and not tooOld then
        done = true
        break
      end
      local s = str(seqOf(e[1]))
      firstRemoved = firstRemoved or s
      unindex(e[2][2], s)
      removed, last = removed + 1, s
      if removed >= limit then break end
    end
  end
  if last then
    redis.call('XTRIM', stream, 'MINID', str(tonumber(last) + 1) .. '-0')
    -- Blocks whose every seq is now below the stream's first entry.
    local upto = math.floor((tonumber(last) + 1) / sizeBlock) - 1
    for b = math.floor(tonumber(firstRemoved) / sizeBlock), upto do
      redis.call('HDEL', sizes, str(b))
    end
  end
  if not done and removed > 0 and removed == limit then return 1 end
  return 0
end
`

// appendScript stores events. ARGV: known epoch, reader position, check
// (1/0), the event id at the position, candidate epoch, size, age cutoff
// (Unix ms, 0: none), extra trim limit, then id, time (Unix ms), payload
// for each event. It returns {epoch, start, first seq assigned, more to
// trim}.
var appendScript = goredis.NewScript(luaCommon + `
local epoch, start, seq = ensure(ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
local first = seq + 1
-- The first block whose every entry has its size recorded: the next one
-- when a stream written without records already has entries.
if redis.call('HEXISTS', sizes, 'from') == 0 then
  local f = math.floor((seq + 1) / sizeBlock)
  if redis.call('XLEN', stream) > 0 and (seq + 1) % sizeBlock ~= 0 then f = f + 1 end
  redis.call('HSET', sizes, 'from', str(f))
end
local block, largest = nil, 0
for i = 9, #ARGV, 3 do
  seq = seq + 1
  local s = str(seq)
  redis.call('XADD', stream, s .. '-0', 'i', ARGV[i], 't', ARGV[i+1], 'd', ARGV[i+2])
  index(ARGV[i], s)
  local b = math.floor(seq / sizeBlock)
  if b ~= block then
    if block then recordSize(block, largest) end
    block, largest = b, 0
  end
  largest = math.max(largest, #ARGV[i] + #ARGV[i+2])
end
if block then recordSize(block, largest) end
redis.call('HSET', meta, 'seq', str(seq))
local n = (#ARGV - 8) / 3
local more = trim(tonumber(ARGV[6]), tonumber(ARGV[7]), n + tonumber(ARGV[8]))
return {epoch, start, first, more}
`)

// pollScript is the feed's read. ARGV: the first five of appendScript, then
// the most entries and the byte budget of their payloads (at least one
// entry is returned whatever its size). It returns {epoch, start, last seq,
// entries after the position}; no entries when the epoch is not the
// caller's.
var pollScript = goredis.NewScript(luaCommon + `
local pos = tonumber(ARGV[2])
local epoch, start, seq = ensure(ARGV[1], pos, ARGV[3], ARGV[4], ARGV[5])
local count, budget = tonumber(ARGV[6]), tonumber(ARGV[7])
if epoch ~= ARGV[1] or count <= 0 then return {epoch, start, seq, {}} end
local from = '-'
if pos > 0 then from = '(' .. str(pos) .. '-0' end
local es = redis.call('XRANGE', stream, from, '+', 'COUNT', count)
local out, bytes = {}, 0
for _, e in ipairs(es) do
  local b = #e[2][6]
  if #out > 0 and bytes + b > budget then break end
  out[#out + 1] = e
  bytes = bytes + b
end
return {epoch, start, seq, out}
`)

// trimScript is a retention pass on its own. ARGV: size, age cutoff, limit.
// It returns 1 when more may have to go.
var trimScript = goredis.NewScript(luaCommon + `
return trim(tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
`)
