-- advanceCounter: count one message of a key, enforcing per-key order.
-- Used by the smoke test to prove Kafka -> consumer -> Redis Lua plumbing.
--
-- KEYS[1]  hash for one message key; fields: n (messages counted), last (last sequence number)
-- ARGV[1]  the message's per-key sequence number (0, 1, 2, ...)
-- ARGV[2]  TTL of the hash in seconds
--
-- Returns:
--   n >= 1  the new count (sequence number was last + 1)
--   -1      gap: the sequence number skips ahead of last + 1; nothing written
--   -2      duplicate: sequence number <= last (a redelivery); nothing written
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '-1')
if seq <= last then
  return -2
end
if seq ~= last + 1 then
  return -1
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'last', seq)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return n
