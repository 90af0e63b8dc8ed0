--[[
  Cancel a job. A queued or scheduled job becomes `cancelled` at once (its envelope is
  dropped when a worker claims or promotes it, so it never runs); for a running job the
  cancel flag is set and its worker cancels it within one heartbeat.

  Input:
    KEYS[1] job record    {ns}:job:{id}
    KEYS[2] cancel flag   {ns}:cancel:{id}
    KEYS[3] events        {ns}:events:{id}
    KEYS[4] stats         {ns}:stats
    ARGV[1] the record JSON the caller read (compare-and-set guard)
    ARGV[2] cancelled record JSON (used when queued or scheduled)
    ARGV[3] record TTL in seconds (for the flag)
    ARGV[4] result TTL in seconds
    ARGV[5] cancelled event JSON
    ARGV[6] events cap
    ARGV[7] stats field ("<queue>:cancelled")

  Output:
     1  cancelled now
     2  cancel requested: the job is running
    -1  no record
    -4  already finished: nothing to cancel
    -5  the record changed since the caller read it: read again and retry
]]
--- @include "_fence"
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
if raw ~= ARGV[1] then return -5 end
local status = cjson.decode(raw).status
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then return -4 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
if status == 'running' then return 2 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
add_event(KEYS[3], ARGV[5], ARGV[6], ARGV[4])
redis.call('HINCRBY', KEYS[4], ARGV[7], 1)
return 1
