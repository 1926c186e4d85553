-- llmedge settle: reconcile a job's token estimate with its real usage and free its in-flight slot.
-- token_bucket.lua is prepended (bucket_state, bucket_store).
-- Idempotent: the job's membership in the in-flight set is the settlement guard, so a redelivered
-- callback changes nothing the second time.
--
-- KEYS: 1 in-flight sorted set  2 token bucket hash  3 stats hash
-- ARGV: 1 job id  2 now (ms)  3 tier  4 actual tokens  5 estimated tokens
--       6 bucket size (0 = no budget)  7 refill interval (ms)  8 tokens per refill
-- Returns 1 when settled, 0 when the job was already settled or its slot had expired.

local now = tonumber(ARGV[2])
if redis.call("ZREM", KEYS[1], ARGV[1]) == 0 then
  return 0
end
local actual, estimate = tonumber(ARGV[4]), tonumber(ARGV[5])
local size, interval, refill = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
if size > 0 and actual ~= estimate then
  local tokens, refilled_at = bucket_state(KEYS[2], size, interval, refill, now)
  -- A refund never fills past the bucket size; an extra charge may leave a debt below zero.
  bucket_store(KEYS[2], size, interval, refill, math.min(size, tokens + estimate - actual), refilled_at)
end
redis.call("HINCRBY", KEYS[3], "tokens_used:" .. ARGV[3], actual)
redis.call("HINCRBY", KEYS[3], "settled:" .. ARGV[3], 1)
return 1
