--[[
  Move an envelope that cannot be run (unreadable JSON, no id or type) from where it
  was found to the dead list. When it still names a job whose record waits for it
  (queued, scheduled, or running for it), that record becomes `failed` with error type
  `invalid`, with its event, its counter and its callback: a job never stays waiting
  for an envelope that is gone.

  Input:
    KEYS[1] source        the list ({ns}:processing:{worker}) or {ns}:scheduled
    KEYS[2] dead list     {ns}:dead
    KEYS[3] job record    {ns}:job:{id} (any key of the namespace when no id was read)
    KEYS[4] events        {ns}:events:{id} (likewise)
    KEYS[5] stats         {ns}:stats
    KEYS[6] callbacks     {ns}:callbacks
    KEYS[7] archive list  {ns}:archive
    ARGV[1] the envelope
    ARGV[2] "zset" when the source is the scheduled set, else "list"
    ARGV[3] dead list cap
    ARGV[4] the record JSON the caller read, or "" (no record to fail)
    ARGV[5] the `failed` record JSON
    ARGV[6] result TTL in seconds
    ARGV[7] `failed` status event JSON
    ARGV[8] events cap
    ARGV[9] stats field ("<queue>:failed")
    ARGV[10] callback member, or ""
    ARGV[11] now in ms
    ARGV[12] job id, or ""
    ARGV[13] archive list cap; "0" when there is no history database

  Output:
     2  buried, and the job's record failed
     1  buried; no record changed (none, or it had moved on)
     0  the envelope was not there any more: someone else handled it
]]
--- @include "_fence"
local removed
if ARGV[2] == 'zset' then
  removed = redis.call('ZREM', KEYS[1], ARGV[1])
else
  removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
end
if removed == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
if ARGV[4] == '' or redis.call('GET', KEYS[3]) ~= ARGV[4] then return 1 end
redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6])
add_event(KEYS[4], ARGV[7], ARGV[8], ARGV[6])
redis.call('HINCRBY', KEYS[5], ARGV[9], 1)
call_back(KEYS[6], ARGV[10], ARGV[11])
archive(KEYS[7], KEYS[4], ARGV[12], ARGV[5], ARGV[13])
return 2
