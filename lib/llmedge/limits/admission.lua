-- llmedge admission: the exact-cache read and every limit in one atomic round trip, all-or-nothing.
-- token_bucket.lua is prepended (bucket_state, bucket_store).
-- No `#!lua flags=allow-key-locking` line: Redis 6.2 cannot parse a shebang. Every key the script
-- touches is declared in KEYS all the same, so it also runs under Upstash's key locking.
--
-- KEYS: 1 exact-cache entry (read only when ARGV[2] == "1")  2 stats hash
--       3, 4 request sliding window: current, previous   5, 6 global sliding window: current, previous
--       7 token bucket hash                               8 in-flight sorted set (job id -> expiry ms)
-- ARGV: 1 now (ms)  2 read cache (0/1)  3 tier
--       4 request limit (0 = off)  5 its window (ms)     6 global limit (0 = off)  7 its window (ms)
--       8 bucket size (0 = off)  9 refill interval (ms)  10 tokens per refill  11 cost (estimate)
--       12 in-flight cap (0 = off)  13 slot lifetime (ms)  14 record the job (0/1)  15 job id
--       16.. pairs (stats field, count) decided locally since the last call (block-cache refusals)
-- Returns {denied mask (1 requests, 2 global, 4 tokens, 8 in_flight), hit (0/1),
--          then remaining, reset (ms), retry at (ms) for requests, global, tokens, in_flight,
--          then the cached value, only when admitted and present}.

local now = tonumber(ARGV[1])
local tier = ARGV[3]

-- upstash-ratelimit's SlidingWindow, same arithmetic (so the same sequence gets the same answers).
local function window_check(current_key, previous_key, limit, window)
  local current = tonumber(redis.call("GET", current_key) or "0")
  local previous = tonumber(redis.call("GET", previous_key) or "0")
  local percentage_in_current = (now % window) / window
  local weighted = math.floor((1 - percentage_in_current) * previous)
  local start = now - now % window
  local reset = start + window
  if weighted + current >= limit then
    -- The earliest moment the previous window's weight leaves room: a lower bound, nothing is missed.
    local retry = reset
    if current < limit then
      retry = start + math.floor(window * (1 - (limit - current) / previous))
    end
    return false, 0, reset, retry
  end
  return true, limit - (current + 1 + weighted), reset, 0
end

local function window_charge(current_key, window)
  if redis.call("INCRBY", current_key, 1) == 1 then
    redis.call("PEXPIRE", current_key, window * 2 + 1000)
  end
end

local result = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
local function report(slot, remaining, reset, retry)
  result[slot] = remaining
  result[slot + 1] = reset
  result[slot + 2] = retry
end

local cached = false
if ARGV[2] == "1" then
  cached = redis.call("GET", KEYS[1])
end
local miss = not cached
if cached then result[2] = 1 end

local denied = 0
local applied = {}

local request_limit, request_window = tonumber(ARGV[4]), tonumber(ARGV[5])
if request_limit > 0 then
  local ok, remaining, reset, retry = window_check(KEYS[3], KEYS[4], request_limit, request_window)
  report(3, remaining, reset, retry)
  if not ok then denied = denied + 1 end
  applied[#applied + 1] = "requests"
end

local global_limit, global_window = tonumber(ARGV[6]), tonumber(ARGV[7])
if miss and global_limit > 0 then
  local ok, remaining, reset, retry = window_check(KEYS[5], KEYS[6], global_limit, global_window)
  report(6, remaining, reset, retry)
  if not ok then denied = denied + 2 end
  applied[#applied + 1] = "global"
end

local size, interval, refill, cost = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local tokens, refilled_at
if miss and size > 0 then
  tokens, refilled_at = bucket_state(KEYS[7], size, interval, refill, now)
  if tokens < cost then
    denied = denied + 4
    local refills_needed = math.ceil((cost - tokens) / refill)
    report(9, tokens, refilled_at + interval, refilled_at + refills_needed * interval)
  else
    report(9, tokens - cost, refilled_at + interval, 0)
  end
  applied[#applied + 1] = "tokens"
end

local cap, slot_ttl, record_job = tonumber(ARGV[12]), tonumber(ARGV[13]), ARGV[14] == "1"
if miss and (cap > 0 or record_job) then
  redis.call("ZREMRANGEBYSCORE", KEYS[8], "-inf", now)
end
if miss and cap > 0 then
  local count = redis.call("ZCARD", KEYS[8])
  local oldest = redis.call("ZRANGE", KEYS[8], 0, 0, "WITHSCORES")
  local frees_at = now + slot_ttl
  if oldest[2] then frees_at = tonumber(oldest[2]) end
  if count >= cap then
    denied = denied + 8
    report(12, 0, frees_at, frees_at)
  else
    report(12, cap - count - 1, frees_at, 0)
  end
  applied[#applied + 1] = "in_flight"
end

for i = 16, #ARGV, 2 do
  redis.call("HINCRBY", KEYS[2], ARGV[i], tonumber(ARGV[i + 1]))
end

result[1] = denied
if denied > 0 then
  local names = {"requests", "global", "tokens", "in_flight"}
  for bit = 0, 3 do
    if math.floor(denied / 2 ^ bit) % 2 == 1 then
      redis.call("HINCRBY", KEYS[2], "denied:" .. names[bit + 1] .. ":" .. tier, 1)
    end
  end
  redis.call("HINCRBY", KEYS[2], "denied:all:" .. tier, 1)
  return result
end

-- Every check passed: only now is anything charged.
if request_limit > 0 then window_charge(KEYS[3], request_window) end
if miss and global_limit > 0 then window_charge(KEYS[5], global_window) end
if miss and size > 0 then
  bucket_store(KEYS[7], size, interval, refill, tokens - cost, refilled_at)
end
if miss and (cap > 0 or record_job) then
  redis.call("ZADD", KEYS[8], now + slot_ttl, ARGV[15])
  redis.call("PEXPIRE", KEYS[8], slot_ttl)
end
for _, name in ipairs(applied) do
  redis.call("HINCRBY", KEYS[2], "admitted:" .. name .. ":" .. tier, 1)
end
redis.call("HINCRBY", KEYS[2], "admitted:all:" .. tier, 1)
if cached then result[15] = cached end
return result
