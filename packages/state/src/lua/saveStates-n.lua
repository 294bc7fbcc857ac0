-- saveStates: compare-and-set of the state records of several streams.
-- A record's bytes 8..23 are its guard: the source topic hash, partition and
-- offset of the last event applied to it. A write only lands when the stored
-- guard is still the one the writer loaded, so two workers that both stepped
-- a stream during a rebalance cannot both win. Each key is decided on its
-- own: a conflict on one leaves the others written.
--
-- KEYS[i]      the state key of stream i
-- ARGV[1]      time to live in milliseconds (refreshed on every write)
-- ARGV[2i]     the guard the writer loaded for key i (16 bytes), or "" when it found no key
-- ARGV[2i + 1] the new record of key i, or "" to delete the state (an event with end=true)
--
-- A key holding another type than a string (not ours) reads as absent, as it
-- does to the MGET the writer loaded with, so it is overwritten rather than
-- failing every save of the batch.
--
-- Returns one number per key:
--   0  written (or deleted)
--   1  conflict: the key changed since it was loaded; nothing written
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local current = redis.pcall('GETRANGE', KEYS[i], 8, 23)
  if type(current) == 'table' and current.err then
    current = ''
  end
  if current ~= ARGV[2 * i] then
    out[i] = 1
  else
    local record = ARGV[2 * i + 1]
    if record == '' then
      redis.call('DEL', KEYS[i])
    else
      redis.call('SET', KEYS[i], record, 'PX', ttl)
    end
    out[i] = 0
  end
end
return out
