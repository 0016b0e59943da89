// The Lua scripts of the Redis queue store. Each multi-step change of a line is one script, so it is
// atomic however many instances run it at once. The key layout is documented in ../queue.store.redis.ts.
//
// Calling convention shared by every script:
//   KEYS[1..10] = seq, cursor, line, active, ended, admitted, settings, epoch, meta, pre (one line's keys)
//   ARGV[1] = key base (`<prefix>{queue}:` or `<prefix>{sale:<id>}:`), for per-token and per-user keys
//   ARGV[2] = now (epoch ms, from the caller: the logic never reads a clock)
//   ARGV[3..6] = activeTtlMs, waitingIdleMs, expiredRetentionMs, gcMarginMs
//   ARGV[7..] = the script's own arguments
// Per-token and per-user keys cannot be declared up front (admission discovers them while walking the
// line); they carry the same hash tag as KEYS, so on Redis Cluster they live in the same slot.
import { createHash } from 'node:crypto';

export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

const PRELUDE = `
local base = ARGV[1]
local now = tonumber(ARGV[2])
local activeTtl = tonumber(ARGV[3])
local idleMs = tonumber(ARGV[4])
local retention = tonumber(ARGV[5])
local gcMargin = tonumber(ARGV[6])
local seqKey, cursorKey, lineKey, activeKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local endedKey, admittedKey, settingsKey, epochKey = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local metaKey, preKey = KEYS[9], KEYS[10]
local channel = base .. 'changes'

-- Lua's own number-to-string conversion switches to exponents; integers are formatted explicitly.
local function int(x) return string.format('%d', x) end
local function tokenKey(id) return base .. 'token:' .. id end
local function userKey(userId) return base .. 'user:' .. userId end

local function load(id)
  local f = redis.call('HMGET', tokenKey(id), 'userId', 'seq', 'status', 'lastSeenAt', 'activeUntil', 'endedAt',
                       'entryId', 'pre', 'drawRank', 'reason')
  if not f[1] then return nil end
  return { id = id, userId = f[1], seq = tonumber(f[2]), status = f[3], lastSeenAt = tonumber(f[4]),
           activeUntil = tonumber(f[5]), endedAt = tonumber(f[6]), entryId = f[7] or '', pre = f[8] == '1',
           drawRank = f[9] or '', reason = f[10] or '' }
end

-- The pre-queue and the line's end: preCount (joins of the pre-queue), preClosed, drawn, and ended
-- (false, or the status its live tokens end with: SOLD_OUT or EXPIRED).
local function meta()
  local m = redis.call('HMGET', metaKey, 'preCount', 'preClosed', 'drawn', 'ended')
  return { preCount = tonumber(m[1]) or 0, preClosed = m[2] == '1', drawn = m[3] == '1', ended = m[4] or false }
end

-- When the line's sale opens (0: a line without a pre-queue).
local function opensAt()
  return tonumber(redis.call('HGET', settingsKey, 'opensAt') or '0') or 0
end

local function live(t) return t.status == 'WAITING' or t.status == 'ACTIVE' end

-- Why a live token ends if it lapsed now: IDLE (WAITING, silent too long), TURN_OVER (ACTIVE, its time
-- ran out); false while it has not lapsed.
local function lapsed(t)
  if t.status == 'WAITING' and now - t.lastSeenAt >= idleMs then return 'IDLE' end
  if t.status == 'ACTIVE' and now >= t.activeUntil then return 'TURN_OVER' end
  return false
end

-- The reason a line's end gives its tokens: SOLD_OUT, or SALE_CLOSED when it ended as EXPIRED.
local function endReason(lineEnd)
  if lineEnd == 'SOLD_OUT' then return 'SOLD_OUT' end
  return 'SALE_CLOSED'
end

-- Ends a live token: out of the line and the active set, the user free to join again, remembered as
-- ended (EXPIRED, or SOLD_OUT when its line ended) with why (PAID, TURN_OVER, IDLE, SOLD_OUT,
-- SALE_CLOSED) for the retention time (admission forgets it then; the TTL is only a backstop).
local function finish(t, status, reason)
  if t.status == 'WAITING' and t.seq > 0 then redis.call('HDEL', lineKey, int(t.seq)) end
  redis.call('ZREM', activeKey, t.id)
  t.status = status
  t.endedAt = now
  t.reason = reason
  local key = tokenKey(t.id)
  redis.call('HSET', key, 'status', status, 'endedAt', int(now), 'reason', reason)
  redis.call('PEXPIRE', key, int(retention + gcMargin))
  local uk = userKey(t.userId)
  if redis.call('GET', uk) == t.id then redis.call('DEL', uk) end
  redis.call('ZADD', endedKey, int(now), t.id)
end

-- A live token of an ended line reads the line's end; one past its time lapses. True if it ended now.
local function settle(t, m)
  if not live(t) then return false end
  if m.ended then
    finish(t, m.ended, endReason(m.ended))
    return true
  end
  local why = lapsed(t)
  if why then
    finish(t, 'EXPIRED', why)
    return true
  end
  return false
end

-- A live WAITING token seen now keeps its place; its keys' TTL (garbage collection only) moves too.
local function touch(t)
  if t.status ~= 'WAITING' or now <= t.lastSeenAt then return end
  t.lastSeenAt = now
  local key = tokenKey(t.id)
  redis.call('HSET', key, 'lastSeenAt', int(now))
  local ttl = int(idleMs + retention + gcMargin)
  redis.call('PEXPIRE', key, ttl)
  redis.call('PEXPIRE', userKey(t.userId), ttl)
end

-- One row per token, the same everywhere: created, tokenId, userId, seq, status, lastSeenAt,
-- activeUntil, endedAt, cursor, epoch, entryId, drawRank ('' if none), preCount, reason ('' while
-- live), and the line's paused ('1'/'0') and message ('' if none), so a poll reads them in its one call.
local function reply(t, created, m)
  local cursor = redis.call('GET', cursorKey) or '0'
  local settings = redis.call('HMGET', settingsKey, 'paused', 'message')
  return { created and 1 or 0, t.id, t.userId, int(t.seq), t.status, int(t.lastSeenAt),
           int(t.activeUntil), int(t.endedAt), cursor, redis.call('GET', epochKey) or '', t.entryId,
           t.drawRank, int(m.preCount), t.reason or '', settings[1] or '0', settings[2] or '' }
end

-- What a poll needs of the line itself, for an instance's copy of it (see ../poll-copy.ts): cursor,
-- epoch, paused, message, preCount, drawn ('1'/'0'), ended ('' or the status its tokens end with).
local function lineView(m)
  local settings = redis.call('HMGET', settingsKey, 'paused', 'message')
  return { redis.call('GET', cursorKey) or '0', redis.call('GET', epochKey) or '', settings[1] or '0',
           settings[2] or '', int(m.preCount), m.drawn and '1' or '0', m.ended or '' }
end

-- A line is seeded while it has an epoch and settings; after Redis came back empty it has neither,
-- and nobody may join or be admitted until an instance re-seeds it from PostgreSQL.
local function seeded()
  return redis.call('EXISTS', epochKey) == 1 and redis.call('EXISTS', settingsKey) == 1
end
`;

/** ARGV[7] = tokenId, ARGV[8] = '1' to touch. The hot path of a poll: one call, one round trip. */
const GET = `
local t = load(ARGV[7])
if not t then return false end
local m = meta()
if not settle(t, m) and ARGV[8] == '1' then touch(t) end
return reply(t, false, m)
`;

/**
 * ARGV[7] = '1' to touch, ARGV[8..] = tokenIds: GET for each of them in one call (the polls of one
 * moment that an instance's copy could not answer, such as every stream of a big admission). Returns
 * one row per id, false for an unknown one.
 */
const GET_MANY = `
local m = meta()
local out = {}
for i = 8, #ARGV do
  local t = load(ARGV[i])
  if not t then
    out[#out + 1] = false
  else
    if not settle(t, m) and ARGV[7] == '1' then touch(t) end
    out[#out + 1] = reply(t, false, m)
  end
end
return out
`;

/**
 * ARGV[7] = userId, ARGV[8] = the id for a new token, ARGV[9] = its entry id. Before the line's sale
 * opens (and while its pre-queue is open) the join waits in the pre-queue without a place; after, it
 * goes to the back of the line.
 */
const JOIN = `
local userId, newId, entryId = ARGV[7], ARGV[8], ARGV[9]
if not seeded() then return redis.error_reply('LINE_NOT_SEEDED the line was lost and is not re-seeded yet') end
local m = meta()
if m.ended then return redis.error_reply('LINE_ENDED the line has ended') end
local liveId = redis.call('GET', userKey(userId))
if liveId then
  local t = load(liveId)
  if t and not settle(t, m) and live(t) then
    touch(t)
    return reply(t, false, m)
  end
end
local key = tokenKey(newId)
if redis.call('EXISTS', key) == 1 then return redis.error_reply('TOKEN_ID_IN_USE token id already issued') end
local oa = opensAt()
local seq, pre = 0, '0'
if oa > 0 and now < oa and not m.preClosed then
  pre = '1'
  m.preCount = redis.call('HINCRBY', metaKey, 'preCount', 1)
  redis.call('HSET', preKey, entryId, newId)
else
  if oa > 0 and not m.preClosed then
    redis.call('HSET', metaKey, 'preClosed', '1')
    m.preClosed = true
  end
  seq = m.preCount + redis.call('INCR', seqKey)
  redis.call('HSET', lineKey, int(seq), newId)
end
redis.call('HSET', key, 'userId', userId, 'seq', int(seq), 'status', 'WAITING', 'lastSeenAt', int(now),
           'activeUntil', 0, 'endedAt', 0, 'entryId', entryId, 'pre', pre, 'drawRank', '', 'joinedAt', int(now))
local ttl = int(idleMs + retention + gcMargin)
redis.call('PEXPIRE', key, ttl)
redis.call('SET', userKey(userId), newId, 'PX', ttl)
return reply({ id = newId, userId = userId, seq = seq, status = 'WAITING', lastSeenAt = now,
               activeUntil = 0, endedAt = 0, entryId = entryId, drawRank = '', reason = '' }, true, m)
`;

/**
 * ARGV[7] = tokenId, ARGV[8] = why it ends (PAID). Returns 1 if it ended the token now, 0 if it was
 * unknown or already ended (its first reason stays).
 */
const EXPIRE = `
local t = load(ARGV[7])
if not t or not live(t) then return 0 end
finish(t, 'EXPIRED', ARGV[8])
redis.call('PUBLISH', channel, 'expire')
return 1
`;

/**
 * ARGV[7] = budget: at most this many active expiries and this many line entries per call, so one call
 * never holds Redis long. ARGV[8] = cap: admit at most this many ('-1': no cap). ARGV[9] = admit only
 * among the first this many joins after any pre-queue ('-1': all). Returns
 * { admitted, more, epoch, abandoned, { joinedAt... }, lineView, { tokenId... }, activeUntil }; more = 1
 * when the budget ran out with work left; epoch '' when the line is not seeded (nothing was done);
 * abandoned: WAITING tokens the walk found silent too long and ended; joinedAt: when each admitted
 * token joined (tokens issued before that was recorded are left out), so the service can measure the
 * wait they had; lineView: the line after the call, so every instance's tick refreshes its copy without
 * another round trip; tokenId…: the tokens admitted, ACTIVE until activeUntil, so the calling instance's
 * copy answers their streams and polls without reading each of them back.
 */
const ADMIT = `
if not seeded() then return { 0, 0, '', 0, {} } end
local budget = tonumber(ARGV[7])
local cap = tonumber(ARGV[8])
local joinedUpTo = tonumber(ARGV[9])
local changed = false
local more = 0

local lapsedIds = redis.call('ZRANGEBYSCORE', activeKey, '-inf', int(now), 'LIMIT', 0, budget)
for _, id in ipairs(lapsedIds) do
  local t = load(id)
  if t and t.status == 'ACTIVE' then finish(t, 'EXPIRED', 'TURN_OVER') else redis.call('ZREM', activeKey, id) end
  changed = true
end
if #lapsedIds >= budget then more = 1 end

local forgotten = redis.call('ZRANGEBYSCORE', endedKey, '-inf', int(now - retention), 'LIMIT', 0, budget)
for _, id in ipairs(forgotten) do redis.call('DEL', tokenKey(id)) end
if #forgotten > 0 then redis.call('ZREM', endedKey, unpack(forgotten)) end

local admitted = 0
local abandoned = 0
local joinedAts = {}
local admittedIds = {}
local activeUntil = now + activeTtl
local settings = redis.call('HMGET', settingsKey, 'activeLimit', 'paused')
local limit = tonumber(settings[1]) or 0
local m = meta()
if settings[2] ~= '1' and not m.ended and (m.drawn or opensAt() == 0) then
  local active = redis.call('ZCARD', activeKey)
  local start = tonumber(redis.call('GET', cursorKey) or '0')
  local joined = tonumber(redis.call('GET', seqKey) or '0')
  if joinedUpTo >= 0 and joinedUpTo < joined then joined = joinedUpTo end
  local last = m.preCount + joined
  local cursor = start
  local activeGc = int(activeTtl + retention + gcMargin)
  while active < limit and cursor < last and (cap < 0 or admitted < cap) do
    if cursor - start >= budget then
      more = 1
      break
    end
    cursor = cursor + 1
    local field = int(cursor)
    local id = redis.call('HGET', lineKey, field)
    if id then
      redis.call('HDEL', lineKey, field)
      local t = load(id)
      if t and t.status == 'WAITING' then
        local why = lapsed(t)
        if why then
          finish(t, 'EXPIRED', why)
          abandoned = abandoned + 1
        else
          local key = tokenKey(id)
          redis.call('HSET', key, 'status', 'ACTIVE', 'activeUntil', int(activeUntil))
          redis.call('PEXPIRE', key, activeGc)
          redis.call('PEXPIRE', userKey(t.userId), activeGc)
          redis.call('ZADD', activeKey, int(activeUntil), id)
          redis.call('ZADD', admittedKey, int(now), field)
          local joinedAt = redis.call('HGET', key, 'joinedAt')
          if joinedAt then joinedAts[#joinedAts + 1] = joinedAt end
          admittedIds[#admittedIds + 1] = id
          active = active + 1
          admitted = admitted + 1
        end
      end
    end
  end
  if cursor ~= start then
    redis.call('SET', cursorKey, int(cursor))
    changed = true
  end
end

redis.call('ZREMRANGEBYSCORE', admittedKey, '-inf', int(now - 60000))
if changed then redis.call('PUBLISH', channel, 'admit') end
return { admitted, more, redis.call('GET', epochKey), abandoned, joinedAts, lineView(meta()), admittedIds, int(activeUntil) }
`;

/** The line as a poll sees it (lineView), for an instance's copy after a change it heard of. */
const LINE_VIEW = `
return lineView(meta())
`;

/**
 * ARGV[7..] = pairs of tokenId and the epoch ms it was seen at: the polls an instance answered from its
 * copy, written in one call. A WAITING token's lastSeenAt moves forward to the time it was seen, if it
 * was still live then (not silent for the idle time already); nothing else changes, nothing publishes.
 * Returns how many it moved.
 */
const TOUCH = `
local moved = 0
for i = 7, #ARGV, 2 do
  local t = load(ARGV[i])
  local seenAt = tonumber(ARGV[i + 1])
  if t and t.status == 'WAITING' and seenAt > t.lastSeenAt and seenAt - t.lastSeenAt < idleMs then
    now = seenAt
    touch(t)
    moved = moved + 1
  end
end
return moved
`;

/** Returns { waiting, active, admittedPerMinute, activeLimit, paused, prequeued, drawn, ended (1/0), message ('' if none) } read at one instant. */
const STATS = `
local settings = redis.call('HMGET', settingsKey, 'activeLimit', 'paused', 'message')
local m = meta()
-- A line without a pre-queue is drawn; one not seeded (lost) may have had one: not drawn until it is.
local drawn = m.drawn or (opensAt() == 0 and seeded())
return {
  redis.call('HLEN', lineKey),
  redis.call('ZCOUNT', activeKey, '(' .. int(now), '+inf'),
  redis.call('ZCOUNT', admittedKey, '(' .. int(now - 60000), '+inf'),
  settings[1] or '0',
  settings[2] or '0',
  drawn and 0 or m.preCount,
  drawn and 1 or 0,
  m.ended and 1 or 0,
  settings[3] or '',
}
`;

/**
 * ARGV[7] = a new epoch, used only if the line has none (it was lost); ARGV[8..12] = activeLimit,
 * paused ('1'/'0'), version, opensAt, message ('' for none): taken unless the copy here is as new
 * already. Taking them publishes, so every instance's streams of the line see a pause or a message at
 * once. Returns the epoch.
 */
const SEED = `
redis.call('SET', epochKey, ARGV[7], 'NX')
local have = tonumber(redis.call('HGET', settingsKey, 'version') or '-1')
if tonumber(ARGV[10]) > have then
  redis.call('HSET', settingsKey, 'activeLimit', ARGV[8], 'paused', ARGV[9], 'version', ARGV[10], 'opensAt', ARGV[11],
             'message', ARGV[12])
  redis.call('PUBLISH', channel, 'settings')
end
return redis.call('GET', epochKey)
`;

/**
 * Closes the pre-queue (later joins go to the back) and returns the entry ids of its live entries:
 * WAITING and seen within the idle time before the line's opensAt. Once closed, the set cannot grow.
 */
const CLOSE_PREQUEUE = `
if not seeded() then return redis.error_reply('LINE_NOT_SEEDED the line was lost and is not re-seeded yet') end
redis.call('HSET', metaKey, 'preClosed', '1')
local cutoff = opensAt() - idleMs
local out = {}
local all = redis.call('HGETALL', preKey)
for i = 1, #all, 2 do
  local t = load(all[i + 1])
  if t and t.status == 'WAITING' and t.lastSeenAt > cutoff then out[#out + 1] = all[i] end
end
return out
`;

/**
 * ARGV[7] = the place of the first entry given, ARGV[8] = '1' on the last chunk, ARGV[9..] = entry ids
 * in drawn order. Places them unless the line is drawn already; the last chunk marks it drawn, after
 * which every further call does nothing (so two instances drawing at once write the same places, and
 * nothing after admission began). Returns 1 if it placed them, 0 if the line was drawn already.
 */
const APPLY_DRAW = `
if redis.call('HGET', metaKey, 'drawn') == '1' then return 0 end
local rank = tonumber(ARGV[7])
for i = 9, #ARGV do
  local id = redis.call('HGET', preKey, ARGV[i])
  if id then
    local key = tokenKey(id)
    local status = redis.call('HGET', key, 'status')
    if status then
      redis.call('HSET', key, 'seq', int(rank), 'drawRank', int(rank))
      if status == 'WAITING' then redis.call('HSET', lineKey, int(rank), id) end
    end
  end
  rank = rank + 1
end
if ARGV[8] == '1' then
  redis.call('HSET', metaKey, 'drawn', '1', 'preClosed', '1')
  redis.call('PUBLISH', channel, 'draw')
end
return 1
`;

/**
 * ARGV[7] = the status tokens end with (SOLD_OUT or EXPIRED). Ends the line for good: ACTIVE tokens end
 * now; WAITING ones read the status when next seen (the line, and with it the waiting count, is
 * emptied at once).
 */
const END_LINE = `
if redis.call('HEXISTS', metaKey, 'ended') == 1 then return 0 end
redis.call('HSET', metaKey, 'ended', ARGV[7])
for _, id in ipairs(redis.call('ZRANGE', activeKey, 0, -1)) do
  local t = load(id)
  if t and t.status == 'ACTIVE' then finish(t, ARGV[7], endReason(ARGV[7])) end
end
redis.call('DEL', lineKey)
redis.call('PUBLISH', channel, 'end')
return 1
`;

function script(name: string, body: string): LuaScript {
  const source = PRELUDE + body;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

export const queueScripts = {
  get: script('get', GET),
  getMany: script('getMany', GET_MANY),
  join: script('join', JOIN),
  expire: script('expire', EXPIRE),
  admit: script('admit', ADMIT),
  lineView: script('lineView', LINE_VIEW),
  touch: script('touch', TOUCH),
  stats: script('stats', STATS),
  seed: script('seed', SEED),
  closePrequeue: script('closePrequeue', CLOSE_PREQUEUE),
  applyDraw: script('applyDraw', APPLY_DRAW),
  endLine: script('endLine', END_LINE),
} as const;
