-- Semantic lookup in one round trip: gather candidates, score them, return the best few.
-- KEYS[1]  the scope's set of entry ids
-- ARGV[1]  key prefix of the scope ("<base>:s:<scope>:"); entries are <prefix>e:<id>, buckets <prefix>b:<name>
-- ARGV[2]  query vector, one printable character per dimension (see vectors.py)
-- ARGV[3]  integer norm of the quantised query
-- ARGV[4]  similarity threshold
-- ARGV[5]  how many candidates to return (best first)
-- ARGV[6]  scopes up to this size are scanned whole (exact); larger ones through their LSH buckets
-- ARGV[7]  scoring budget: at most this many distinct ids are scored
-- ARGV[8]  gathering budget: stop reading buckets once this many members have been read
-- ARGV[9…] bucket names to probe, most promising first
-- Reply: {candidates scored, payload of the best or false, id, score, text, created_ms, id, score, …}
local prefix = ARGV[1]
local query = {string.byte(ARGV[2], 1, -1)}
local dims = #query
for i = 1, dims do query[i] = query[i] - 79 end
local query_norm = tonumber(ARGV[3])
local threshold = tonumber(ARGV[4])
local wanted = tonumber(ARGV[5])
local budget = tonumber(ARGV[7])
local gather_budget = tonumber(ARGV[8])

-- ids in the order first met, the bucket each was met in (for dropping expired ones), and how many
-- probed buckets hold it: a vector near the query shares many of its buckets, a far one few.
local ids, source, collisions = {}, {}, {}
local function gather(members, from)
  for _, id in ipairs(members) do
    local seen = collisions[id]
    if seen == nil then
      source[id] = from
      ids[#ids + 1] = id
      collisions[id] = 1
    else
      collisions[id] = seen + 1
    end
  end
end
local exact = redis.call('SCARD', KEYS[1]) <= tonumber(ARGV[6])
if exact then
  gather(redis.call('SMEMBERS', KEYS[1]), false)
else
  local read = 0
  for i = 9, #ARGV do
    if read >= gather_budget then break end
    local bucket = prefix .. 'b:' .. ARGV[i]
    local members = redis.call('SMEMBERS', bucket)
    read = read + #members
    gather(members, bucket)
  end
end

-- Gathering is cheap (a set read), scoring is not (a hash read and a dot product): past the budget,
-- score the ids that collided most often, first met first among equals. Counting sort: O(ids).
-- A small scope is scored whole: that is what makes it exact.
if not exact and #ids > budget then
  local by_count, most = {}, 0
  for _, id in ipairs(ids) do
    local count = collisions[id]
    if count > most then most = count end
    local same = by_count[count]
    if same == nil then by_count[count] = {id} else same[#same + 1] = id end
  end
  local kept = {}
  for count = most, 1, -1 do
    for _, id in ipairs(by_count[count] or {}) do
      if #kept >= budget then break end
      kept[#kept + 1] = id
    end
    if #kept >= budget then break end
  end
  ids = kept
end

-- Dot product with the stored characters read eight at a time into locals (no table per candidate);
-- the characters carry +79, so dot(q, v) = sum(q_i * c_i) - 79 * sum(q_i).
local offset = 0
for i = 1, dims do offset = offset + 79 * query[i] end
local byte = string.byte
local function dot(stored)
  local sum, i = 0, 1
  while i + 7 <= dims do
    local c1, c2, c3, c4, c5, c6, c7, c8 = byte(stored, i, i + 7)
    sum = sum + query[i] * c1 + query[i + 1] * c2 + query[i + 2] * c3 + query[i + 3] * c4
      + query[i + 4] * c5 + query[i + 5] * c6 + query[i + 6] * c7 + query[i + 7] * c8
    i = i + 8
  end
  while i <= dims do
    sum = sum + query[i] * byte(stored, i)
    i = i + 1
  end
  return sum - offset
end

local best = {}  -- up to `wanted` of {score, id}, best first
for _, id in ipairs(ids) do
  local entry = redis.call('HMGET', prefix .. 'e:' .. id, 'v', 'n')
  local stored = entry[1]
  if not stored then
    -- Expired or evicted: forget it where we found it (other buckets forget it when they are read).
    redis.call('SREM', KEYS[1], id)
    if source[id] then redis.call('SREM', source[id], id) end
  elseif #stored == dims then
    local score = dot(stored) / (query_norm * tonumber(entry[2]))
    if score >= threshold and (#best < wanted or score > best[#best][1]) then
      local at = #best + 1
      while at > 1 and best[at - 1][1] < score do at = at - 1 end
      table.insert(best, at, {score, id})
      if #best > wanted then best[#best] = nil end
    end
  end
end

local reply = {#ids, false}
for rank, hit in ipairs(best) do
  -- Prompt text and age only for the few returned; the payload only for the best.
  local entry = redis.call('HMGET', prefix .. 'e:' .. hit[2], 't', 'c', 'a')
  if rank == 1 then reply[2] = entry[3] end
  reply[#reply + 1] = hit[2]
  reply[#reply + 1] = string.format('%.6f', hit[1])
  reply[#reply + 1] = entry[1]
  reply[#reply + 1] = entry[2]
end
return reply
