/**
 * The rate limits' Lua scripts (merged into redis-scripts.ts SCRIPTS): one
 * script per decision, so controllers sharing the store never both spend the
 * last token. Keys (P = prefix):
 *   P rl:<bucket>   hash t (tokens), at (ms); expires once the bucket would be full again
 *   P lp:<key>      sorted set: long-poll slot id by lease end; expires with its last lease
 */
export const RATE_SCRIPTS = {
  /** ARGV: P, now, then key, capacity, refillPerS per bucket → 0 taken, else ms to wait */
  takeTokens: `
local P, now = ARGV[1], tonumber(ARGV[2])
local n = (#ARGV - 2) / 3
local cur, wait = {}, 0
for i = 1, n do
  local cap, rate = tonumber(ARGV[2 + i * 3 - 1]), tonumber(ARGV[2 + i * 3])
  local h = redis.call('HMGET', P .. 'rl:' .. ARGV[2 + i * 3 - 2], 't', 'at')
  local t = cap
  if h[1] then t = math.min(cap, tonumber(h[1]) + (now - tonumber(h[2])) / 1000 * rate) end
  if t < 1 then wait = math.max(wait, math.ceil((1 - t) / rate * 1000)) end
  cur[i] = t
end
if wait > 0 then return wait end
for i = 1, n do
  local k = P .. 'rl:' .. ARGV[2 + i * 3 - 2]
  local cap, rate = tonumber(ARGV[2 + i * 3 - 1]), tonumber(ARGV[2 + i * 3])
  local t = cur[i] - 1
  redis.call('HSET', k, 't', tostring(t), 'at', ARGV[2])
  redis.call('PEXPIRE', k, math.ceil((cap - t) / rate * 1000) + 1000)
end
return 0`,

  /** ARGV: P, key, id, max, leaseMs, now → 1 held, 0 full */
  acquireSlot: `
local k = ARGV[1] .. 'lp:' .. ARGV[2]
local now = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
if redis.call('ZCARD', k) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', k, now + tonumber(ARGV[5]), ARGV[3])
redis.call('PEXPIRE', k, tonumber(ARGV[5]))
return 1`,

  /** ARGV: P, key, id */
  releaseSlot: `
redis.call('ZREM', ARGV[1] .. 'lp:' .. ARGV[2], ARGV[3])
return 1`,
} as const;
