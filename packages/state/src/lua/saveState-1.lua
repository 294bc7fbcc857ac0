-- saveState: compare-and-set of one stream's state record.
-- The record's bytes 8..23 are its guard: the source topic hash, partition and
-- offset of the last event applied to it. A write only lands when the stored
-- guard is still the one the writer loaded, so two workers that both stepped
-- a stream during a rebalance cannot both win.
--
-- KEYS[1]  the state key
-- ARGV[1]  the guard the writer loaded (16 bytes), or "" when it found no key
-- ARGV[2]  the new record, or "" to delete the state (an event with end=true)
-- ARGV[3]  time to live in milliseconds (refreshed on every write)
--
-- Returns:
--   0  written (or deleted)
--   1  conflict: the key changed since it was loaded; nothing written
local current = redis.call('GETRANGE', KEYS[1], 8, 23)
if current ~= ARGV[1] then
  return 1
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
end
return 0
