package redis

import goredis "github.com/redis/go-redis/v9"

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
const luaCommon = `
local stream, meta, ids, nexts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

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

-- trim removes, oldest first, the events beyond size and those older than
-- cutoff (Unix ms), at most limit of them, with their index entries. It
-- returns 1 when it stopped at the limit (more may have to go), else 0.
local function trim(size, cutoff, limit)
  if size <= 0 and cutoff <= 0 then return 0 end
  local len = redis.call('XLEN', stream)
  local removed, last, done = 0, nil, false
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
      unindex(e[2][2], s)
      removed, last = removed + 1, s
      if removed >= limit then break end
    end
  end
  if last then
    redis.call('XTRIM', stream, 'MINID', str(tonumber(last) + 1) .. '-0')
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
for i = 9, #ARGV, 3 do
  seq = seq + 1
  local s = str(seq)
  redis.call('XADD', stream, s .. '-0', 'i', ARGV[i], 't', ARGV[i+1], 'd', ARGV[i+2])
  index(ARGV[i], s)
end
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
