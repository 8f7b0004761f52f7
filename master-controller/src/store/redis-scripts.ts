/**
 * The Redis store's Lua scripts: every write that reads before it writes runs
 * as one script, so it is atomic against every other controller sharing the
 * store, and publishes its wake-up from inside the script (the wake-up can
 * never go out without the write, nor the write without the wake-up).
 *
 * Every script takes the key prefix as ARGV[1] and builds its key names from
 * it (layout in redis.ts), so the store runs on one Redis server (standalone,
 * or a Sentinel-managed primary), not on Redis Cluster. Scripts return numbers
 * and strings only (never Lua false, whose reply differs between RESP2 and RESP3).
 *
 * The control decision itself is not here: updateControl reads, applies the
 * pure function of control/transitions.ts in TypeScript and writes back with
 * `casControl`, which refuses when the control version moved meanwhile.
 */

import { RATE_SCRIPTS } from './redis-rate-scripts.js';

/** Ends one session: its keys, its place in the idle order and the VM's set; control without a lease returns. */
const DROP = `
local P = ARGV[1]
local function drop(sid, now)
  local sk = P .. 's:' .. sid
  local vm = redis.call('HGET', sk, 'vm')
  if not vm then return 0 end
  redis.call('DEL', sk, sk .. ':vm', sk .. ':browser')
  redis.call('ZREM', P .. 'idle', sid)
  local vk = P .. 'v:' .. vm
  redis.call('SREM', vk .. ':s', sid)
  local c = redis.call('HMGET', vk, 'mode', 'holder', 'since', 'lsid')
  -- A leased holder keeps control for the grace (a reload takes it back); without a lease it returns now.
  if c[2] == sid and c[4] ~= sid then
    local mode = 'agent'
    if c[1] == 'paused' then mode = 'paused' end
    redis.call('HSET', vk, 'mode', mode, 'holder', '', 'since', math.max(now, tonumber(c[3]) + 1))
    redis.call('HINCRBY', vk, 'cv', 1)
  end
  redis.call('PUBLISH', P .. 's:' .. sid, '')
  redis.call('PUBLISH', P .. 'v:' .. vm, '')
  return 1
end
`;

export const SCRIPTS = {
  ...RATE_SCRIPTS,
  /** ARGV: P, vmId, name, createdAt */
  createVm: `
local P = ARGV[1]
local vk = P .. 'v:' .. ARGV[2]
redis.call('HSET', vk, 'name', ARGV[3], 'created', ARGV[4], 'seen', '', 'mode', 'agent', 'holder', '',
  'since', ARGV[4], 'lsid', '', 'lowner', '', 'snapUntil', 0, 'snapAnn', 0, 'oseq', 0, 'cv', 0)
redis.call('SADD', P .. 'vms', ARGV[2])
return 1`,

  /** ARGV: P, vmId → [hash as flat list, lease aliveAt or ''] ; {} when absent */
  getVm: `
local P = ARGV[1]
local h = redis.call('HGETALL', P .. 'v:' .. ARGV[2])
if #h == 0 then return {} end
local alive = redis.call('ZSCORE', P .. 'leases', ARGV[2])
return {h, alive or ''}`,

  /** ARGV: P, vmId, now → 1 deleted, 0 absent */
  deleteVm: `${DROP}
local vm = ARGV[2]
local vk = P .. 'v:' .. vm
if redis.call('EXISTS', vk) == 0 then return 0 end
for _, sid in ipairs(redis.call('SMEMBERS', vk .. ':s')) do drop(sid, tonumber(ARGV[3])) end
redis.call('DEL', vk, vk .. ':s', vk .. ':h', vk .. ':a', P .. 'snap:' .. vm, P .. 'r:' .. vm, P .. 'r:' .. vm .. ':th', P .. 'rec:' .. vm)
redis.call('SREM', P .. 'vms', vm)
redis.call('ZREM', P .. 'leases', vm)
redis.call('PUBLISH', P .. 'v:' .. vm, '')
redis.call('PUBLISH', P .. 'p:' .. vm, '')
redis.call('PUBLISH', P .. 'a:' .. vm, '')
for _, t in ipairs({'rs:', 'ri:', 'ro:'}) do redis.call('PUBLISH', P .. t .. vm, '') end
return 1`,

  /**
   * A VM's versioned document (redis-doc.ts): the run (kind 'r', run-doc.ts) or the recordings
   * ('rec', recordings/doc.ts). ARGV: P, vmId, kind → [1, version, doc JSON or ''] ; {0} when there is no such VM
   */
  getDoc: `
local P = ARGV[1]
if redis.call('EXISTS', P .. 'v:' .. ARGV[2]) == 0 then return {0} end
local r = redis.call('HMGET', P .. ARGV[3] .. ':' .. ARGV[2], 'v', 'doc')
return {1, r[1] or '0', r[2] or ''}`,

  /**
   * Compare-and-set of a VM's run document (run-doc.ts): written only if its version is unchanged.
   * ARGV: P, vmId, expected version, doc JSON, thumbnail index or '', thumbnail bytes,
   * thumbnails to drop ('*' all, or comma-separated indexes), channels to publish (comma-separated topics)
   * → 1 written, 0 version moved, -1 no such VM
   */
  casRun: `
local P = ARGV[1]
local vm = ARGV[2]
if redis.call('EXISTS', P .. 'v:' .. vm) == 0 then return -1 end
local rk = P .. 'r:' .. vm
local v = redis.call('HGET', rk, 'v') or '0'
if v ~= ARGV[3] then return 0 end
redis.call('HSET', rk, 'v', tonumber(v) + 1, 'doc', ARGV[4])
local tk = rk .. ':th'
if ARGV[7] == '*' then
  redis.call('DEL', tk)
elseif ARGV[7] ~= '' then
  for i in string.gmatch(ARGV[7], '[^,]+') do redis.call('HDEL', tk, i) end
end
if ARGV[5] ~= '' then redis.call('HSET', tk, ARGV[5], ARGV[6]) end
for t in string.gmatch(ARGV[8], '[^,]+') do redis.call('PUBLISH', P .. t, '') end
return 1`,

  /**
   * Compare-and-set of a VM's recordings document: written only if its version is unchanged.
   * ARGV: P, vmId, expected version, doc JSON, wake (1: publish the VM's topic) → 1 written, 0 version moved, -1 no such VM
   */
  casRecordings: `
local P = ARGV[1]
local vm = ARGV[2]
if redis.call('EXISTS', P .. 'v:' .. vm) == 0 then return -1 end
local rk = P .. 'rec:' .. vm
local v = redis.call('HGET', rk, 'v') or '0'
if v ~= ARGV[3] then return 0 end
redis.call('HSET', rk, 'v', tonumber(v) + 1, 'doc', ARGV[4])
if ARGV[5] == '1' then redis.call('PUBLISH', P .. 'v:' .. vm, '') end
return 1`,

  /** ARGV: P, vmId, sample JSON, keep → 1 appended, 0 no such VM */
  addHealth: `
local vk = ARGV[1] .. 'v:' .. ARGV[2]
if redis.call('EXISTS', vk) == 0 then return 0 end
redis.call('RPUSH', vk .. ':h', ARGV[3])
redis.call('LTRIM', vk .. ':h', -tonumber(ARGV[4]), -1)
return 1`,

  /**
   * The audit trail: list `P v:<vmId>:a` of "seq|event JSON" (without its seq), oldest first, seqs from
   * the VM hash's `aseq`. ARGV: P, vmId, keep, event JSON... → the first seq given; 0 when there is no such VM.
   */
  appendAudit: `
local P = ARGV[1]
local vk = P .. 'v:' .. ARGV[2]
if redis.call('EXISTS', vk) == 0 then return 0 end
local first = 0
for i = 4, #ARGV do
  local seq = redis.call('HINCRBY', vk, 'aseq', 1)
  if first == 0 then first = seq end
  redis.call('RPUSH', vk .. ':a', seq .. '|' .. ARGV[i])
end
redis.call('LTRIM', vk .. ':a', -tonumber(ARGV[3]), -1)
if first > 0 then redis.call('PUBLISH', P .. 'a:' .. ARGV[2], '') end
return first`,

  /** ARGV: P, vmId, since → {} when there is no such VM, else {last seq given, {entries with seq > since, in order}} */
  getAudit: `
local vk = ARGV[1] .. 'v:' .. ARGV[2]
local last = redis.call('HGET', vk, 'aseq')
if redis.call('EXISTS', vk) == 0 then return {} end
local list = redis.call('LRANGE', vk .. ':a', 0, -1)
local since = tonumber(ARGV[3])
local i = #list
while i > 0 and tonumber(string.sub(list[i], 1, string.find(list[i], '|', 1, true) - 1)) > since do i = i - 1 end
local out = {}
for j = i + 1, #list do table.insert(out, list[j]) end
return {last or '0', out}`,

  /** ARGV: P, vmId, at, stats JSON or '' (keep) */
  touchVm: `
local vk = ARGV[1] .. 'v:' .. ARGV[2]
if redis.call('EXISTS', vk) == 0 then return 0 end
redis.call('HSET', vk, 'seen', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', vk, 'stats', ARGV[4]) end
return 1`,

  /**
   * ARGV: P, vmId, expected cv, mode, holder, since, lsid, lowner, aliveAt, controlChanged (1/0)
   * → 1 written, 0 the version moved (re-read and re-apply), -1 no such VM.
   */
  casControl: `
local P = ARGV[1]
local vm = ARGV[2]
local vk = P .. 'v:' .. vm
local cv = redis.call('HGET', vk, 'cv')
if not cv then return -1 end
if cv ~= ARGV[3] then return 0 end
local oldLease = redis.call('HGET', vk, 'lsid')
redis.call('HSET', vk, 'mode', ARGV[4], 'holder', ARGV[5], 'since', ARGV[6], 'lsid', ARGV[7], 'lowner', ARGV[8])
redis.call('HINCRBY', vk, 'cv', 1)
if ARGV[7] == '' then
  redis.call('ZREM', P .. 'leases', vm)
elseif ARGV[7] == oldLease then
  -- The same lease carried over (pause/resume): never move its sign of life back.
  redis.call('ZADD', P .. 'leases', 'GT', ARGV[9], vm)
else
  redis.call('ZADD', P .. 'leases', ARGV[9], vm)
end
if ARGV[10] == '1' then redis.call('PUBLISH', P .. 'v:' .. vm, '') end
return 1`,

  /**
   * ARGV: P, aliveBefore, now, mode, limit → flat [vmId, sessionId, from mode, to mode, ...] of the
   * leases ended; the modes are '' when control did not change with the lease.
   */
  expireLeases: `
local P = ARGV[1]
local now = tonumber(ARGV[3])
local out = {}
for _, vm in ipairs(redis.call('ZRANGE', P .. 'leases', '-inf', '(' .. ARGV[2], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[5]))) do
  local vk = P .. 'v:' .. vm
  local c = redis.call('HMGET', vk, 'mode', 'holder', 'since', 'lsid')
  redis.call('ZREM', P .. 'leases', vm)
  if c[4] and c[4] ~= '' then
    redis.call('HSET', vk, 'lsid', '', 'lowner', '')
    local from, to = '', ''
    if c[2] == c[4] then
      local mode = ARGV[4]
      if c[1] == 'paused' then mode = 'paused' end
      redis.call('HSET', vk, 'mode', mode, 'holder', '', 'since', math.max(now, tonumber(c[3]) + 1))
      redis.call('PUBLISH', P .. 'v:' .. vm, '')
      from, to = c[1], mode
    end
    redis.call('HINCRBY', vk, 'cv', 1)
    table.insert(out, vm)
    table.insert(out, c[4])
    table.insert(out, from)
    table.insert(out, to)
  end
end
return out`,

  /** ARGV: P, sessionId, vmId, owner, createdAt, maxSessions, iceTransportPolicy, kind, role → 1 created, 0 no VM, -1 full */
  createSession: `
local P = ARGV[1]
local vk = P .. 'v:' .. ARGV[3]
if redis.call('EXISTS', vk) == 0 then return 0 end
if redis.call('ZCARD', P .. 'idle') >= tonumber(ARGV[6]) then return -1 end
redis.call('HSET', P .. 's:' .. ARGV[2], 'vm', ARGV[3], 'owner', ARGV[4], 'created', ARGV[5], 'active', ARGV[5],
  'oseq', 0, 'seq', 0, 'policy', ARGV[7], 'kind', ARGV[8], 'role', ARGV[9])
redis.call('ZADD', P .. 'idle', ARGV[5], ARGV[2])
redis.call('SADD', vk .. ':s', ARGV[2])
return 1`,

  /** ARGV: P, now, sessionId... → how many exist (each touched) */
  touchSessions: `
local P = ARGV[1]
local n = 0
for i = 3, #ARGV do
  local sid = ARGV[i]
  local sk = P .. 's:' .. sid
  local vm = redis.call('HGET', sk, 'vm')
  if vm then
    redis.call('HSET', sk, 'active', ARGV[2])
    redis.call('ZADD', P .. 'idle', ARGV[2], sid)
    if redis.call('HGET', P .. 'v:' .. vm, 'lsid') == sid then
      redis.call('ZADD', P .. 'leases', 'GT', ARGV[2], vm)
    end
    n = n + 1
  end
end
return n`,

  /** ARGV: P, sessionId, sdp → 'ok' | 'not_found' | 'exists' */
  setOffer: `
local P = ARGV[1]
local sk = P .. 's:' .. ARGV[2]
local vm = redis.call('HGET', sk, 'vm')
if not vm then return 'not_found' end
local cur = redis.call('HGET', sk, 'offer')
if cur then
  if cur == ARGV[3] then return 'ok' end
  return 'exists'
end
local seq = redis.call('HINCRBY', P .. 'v:' .. vm, 'oseq', 1)
redis.call('HSET', sk, 'offer', ARGV[3], 'oseq', seq)
redis.call('PUBLISH', P .. 's:' .. ARGV[2], '')
redis.call('PUBLISH', P .. 'v:' .. vm, '')
return 'ok'`,

  /**
   * An ICE restart (Store.restartIce). ARGV: P, sessionId, sdp
   * → {offerSeq, generation} | 'not_found' | 'missing' | 'exists'
   */
  restartIce: `
local P = ARGV[1]
local sk = P .. 's:' .. ARGV[2]
local s = redis.call('HMGET', sk, 'vm', 'offer', 'answer', 'oseq', 'gen')
if not s[1] then return 'not_found' end
if not s[2] then return 'missing' end
local gen = tonumber(s[5] or '0')
if s[2] == ARGV[3] then
  if gen > 0 then return {tonumber(s[4]), gen} end
  return 'exists'
end
if not s[3] then return 'exists' end
local seq = redis.call('HINCRBY', P .. 'v:' .. s[1], 'oseq', 1)
gen = gen + 1
redis.call('HSET', sk, 'offer', ARGV[3], 'oseq', seq, 'gen', gen)
redis.call('HDEL', sk, 'answer')
redis.call('DEL', sk .. ':vm', sk .. ':browser')
redis.call('PUBLISH', P .. 's:' .. ARGV[2], '')
redis.call('PUBLISH', P .. 'v:' .. s[1], '')
return {seq, gen}`,

  /** ARGV: P, sessionId, sdp → 'ok' | 'not_found' | 'missing' | 'exists' */
  setAnswer: `
local P = ARGV[1]
local sk = P .. 's:' .. ARGV[2]
local s = redis.call('HMGET', sk, 'vm', 'offer', 'answer')
if not s[1] then return 'not_found' end
if not s[2] then return 'missing' end
if s[3] then
  if s[3] == ARGV[3] then return 'ok' end
  return 'exists'
end
redis.call('HSET', sk, 'answer', ARGV[3])
redis.call('PUBLISH', P .. 's:' .. ARGV[2], '')
redis.call('PUBLISH', P .. 'v:' .. s[1], '')
return 'ok'`,

  /**
   * ARGV: P, sessionId, side, body (JSON of [candidate, sdpMLineIndex, sdpMid]), now, maxPerSide
   * → {seq, timestamp} | 'not_found' | 'limit'. Entries are "seq|timestamp|body".
   */
  addCandidate: `
local P = ARGV[1]
local sk = P .. 's:' .. ARGV[2]
if redis.call('EXISTS', sk) == 0 then return 'not_found' end
local lk = sk .. ':' .. ARGV[3]
local body = ARGV[4]
local list = redis.call('LRANGE', lk, 0, -1)
for _, e in ipairs(list) do
  local a = string.find(e, '|', 1, true)
  local b = string.find(e, '|', a + 1, true)
  if string.sub(e, b + 1) == body then
    return {tonumber(string.sub(e, 1, a - 1)), tonumber(string.sub(e, a + 1, b - 1))}
  end
end
if #list >= tonumber(ARGV[6]) then return 'limit' end
local seq = redis.call('HINCRBY', sk, 'seq', 1)
redis.call('RPUSH', lk, seq .. '|' .. ARGV[5] .. '|' .. body)
redis.call('PUBLISH', P .. 's:' .. ARGV[2], '')
return {seq, tonumber(ARGV[5])}`,

  /**
   * ARGV: P, sessionId, side, since → 0 absent, else {generation, the entries with seq > since, in order}
   * (a restart drops the lists, so every entry is of the session's current generation)
   */
  getCandidates: `
local sk = ARGV[1] .. 's:' .. ARGV[2]
if redis.call('EXISTS', sk) == 0 then return 0 end
local gen = redis.call('HGET', sk, 'gen') or '0'
local list = redis.call('LRANGE', sk .. ':' .. ARGV[3], 0, -1)
local since = tonumber(ARGV[4])
local i = #list
while i > 0 and tonumber(string.sub(list[i], 1, string.find(list[i], '|', 1, true) - 1)) > since do i = i - 1 end
local out = {}
for j = i + 1, #list do table.insert(out, list[j]) end
return {gen, out}`,

  /** ARGV: P, sessionId, now → 1 ended, 0 absent */
  endSession: `${DROP}
return drop(ARGV[2], tonumber(ARGV[3]))`,

  /** ARGV: P, olderThan, now, limit → how many ended */
  expireIdle: `${DROP}
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', P .. 'idle', '-inf', '(' .. ARGV[2], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))) do
  n = n + drop(sid, tonumber(ARGV[3]))
  -- A session whose hash is already gone leaves no member behind either.
  redis.call('ZREM', P .. 'idle', sid)
end
return n`,

  /** ARGV: P, vmId → flat [sessionId, owner, createdAt, active, offer ('' none), answer ('' none), offerSeq, policy, kind, role, generation, ...] for every session */
  listVmSessions: `
local P = ARGV[1]
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', P .. 'v:' .. ARGV[2] .. ':s')) do
  local s = redis.call('HMGET', P .. 's:' .. sid, 'owner', 'created', 'active', 'offer', 'answer', 'oseq', 'policy', 'kind', 'role', 'gen')
  if s[2] then
    table.insert(out, sid)
    table.insert(out, s[1] or '')
    table.insert(out, s[2])
    table.insert(out, s[3] or '')
    table.insert(out, s[4] or '')
    table.insert(out, s[5] or '')
    table.insert(out, s[6] or '0')
    table.insert(out, s[7] or '')
    table.insert(out, s[8] or 'rest')
    table.insert(out, s[9] or '')
    table.insert(out, s[10] or '0')
  end
end
return out`,

  /** ARGV: P, vmId, until, now */
  requestSnapshot: `
local vk = ARGV[1] .. 'v:' .. ARGV[2]
local cur = redis.call('HGET', vk, 'snapUntil')
if not cur then return 0 end
local was = tonumber(cur) > tonumber(ARGV[4])
redis.call('HSET', vk, 'snapUntil', math.max(tonumber(cur), tonumber(ARGV[3])))
if not was then
  redis.call('HSET', vk, 'snapAnn', 0)
  redis.call('PUBLISH', ARGV[1] .. 'v:' .. ARGV[2], '')
end
return 1`,

  /** ARGV: P, vmId, now → 1 claimed, 0 not */
  claimSnapshotRequest: `
local vk = ARGV[1] .. 'v:' .. ARGV[2]
local s = redis.call('HMGET', vk, 'snapUntil', 'snapAnn')
if not s[1] or s[2] == '1' or tonumber(s[1]) <= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', vk, 'snapAnn', 1)
return 1`,

  /** ARGV: P, vmId, at, jpeg → 1 stored, 0 no VM */
  putSnapshot: `
local vk = ARGV[1] .. 'v:' .. ARGV[2]
if redis.call('EXISTS', vk) == 0 then return 0 end
redis.call('HSET', ARGV[1] .. 'snap:' .. ARGV[2], 'at', ARGV[3], 'jpeg', ARGV[4])
redis.call('HSET', vk, 'snapUntil', 0)
redis.call('PUBLISH', ARGV[1] .. 'p:' .. ARGV[2], '')
return 1`,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
