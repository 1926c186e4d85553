-- Store one entry and index it, in one round trip.
-- KEYS: entry hash, scope id set, namespace id set, model id set, global id set
-- ARGV[1] vector  ARGV[2] its integer norm  ARGV[3] prompt text  ARGV[4] payload  ARGV[5] created (ms)
-- ARGV[6] ttl (ms)  ARGV[7] namespace  ARGV[8] model  ARGV[9] short id  ARGV[10] entry id
-- ARGV[11] bucket key prefix  ARGV[12…] bucket names
local ttl = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', ARGV[2], 't', ARGV[3], 'a', ARGV[4], 'c', ARGV[5],
  'ns', ARGV[7], 'm', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ttl)
-- Index sets live as long as their longest-lived member; expired members are dropped lazily.
local function index(key, member)
  redis.call('SADD', key, member)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
index(KEYS[2], ARGV[9])
index(KEYS[3], ARGV[10])
index(KEYS[4], ARGV[10])
index(KEYS[5], ARGV[10])
for i = 12, #ARGV do index(ARGV[11] .. ARGV[i], ARGV[9]) end
return 1
