-- Remove entries (evict or purge) and their index memberships; LSH buckets forget them lazily.
-- KEYS: none (entry keys are derived from ids, so a purge can pass any number of them)
-- ARGV[1] base prefix ("<base>:")  ARGV[2] the index set the ids were read from, or ""
-- ARGV[3…] entry ids ("<19 digits>.<scope>")
-- Reply: how many of the entries still existed.
local base = ARGV[1]
local removed = 0
for i = 3, #ARGV do
  local entry_id = ARGV[i]
  local short, scope = string.sub(entry_id, 1, 19), string.sub(entry_id, 21)
  local key = base .. 's:' .. scope .. ':e:' .. short
  local owner = redis.call('HMGET', key, 'ns', 'm')
  removed = removed + redis.call('DEL', key)
  redis.call('SREM', base .. 's:' .. scope .. ':all', short)
  redis.call('SREM', base .. 'ids', entry_id)
  if owner[1] then redis.call('SREM', base .. 'ns:' .. owner[1], entry_id) end
  if owner[2] then redis.call('SREM', base .. 'm:' .. owner[2], entry_id) end
  -- An expired entry no longer names its namespace or model: clean the set it was listed in.
  if ARGV[2] ~= '' then redis.call('SREM', ARGV[2], entry_id) end
end
return removed
