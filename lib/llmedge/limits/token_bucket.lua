-- Shared by admission.lua and settle.lua (prepended to each by scripts.py).
-- upstash-ratelimit's TokenBucket refill: a missing bucket is full; every whole `interval` since
-- `refilled_at` adds `refill` tokens, up to `size`. A bucket may hold fewer than 0 tokens (a debt left
-- by a request that used more than its estimate); it then refills from below zero.
local function bucket_state(key, size, interval, refill, now)
  local state = redis.call("HMGET", key, "refilled_at", "tokens")
  local refilled_at, tokens = now, size
  if state[1] then
    -- A tier whose budget shrank since the bucket was written is capped at the new size at once.
    refilled_at, tokens = tonumber(state[1]), math.min(size, tonumber(state[2]))
  end
  if now >= refilled_at + interval then
    local refills = math.floor((now - refilled_at) / interval)
    tokens = math.min(size, tokens + refills * refill)
    refilled_at = refilled_at + refills * interval
  end
  return tokens, refilled_at
end

-- Write the bucket back; it expires once it would have refilled to full (a missing bucket is full).
local function bucket_store(key, size, interval, refill, tokens, refilled_at)
  local full_in = math.ceil((size - tokens) / refill) * interval
  if full_in <= 0 then
    redis.call("DEL", key)
    return
  end
  redis.call("HSET", key, "refilled_at", refilled_at, "tokens", tokens)
  redis.call("PEXPIRE", key, full_in)
end
