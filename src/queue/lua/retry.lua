--[[
  Schedule the next attempt of a job whose attempt failed (or raised Retry): the new
  envelope goes into the scheduled set at its due time, the record becomes
  `scheduled`. Fenced by attempt. The failed attempt's run and wait times and its error
  type are counted into the metrics hash (src/queue/histograms.py) when it is taken.

  Input:
    KEYS[1] job record        {ns}:job:{id}
    KEYS[2] events            {ns}:events:{id}
    KEYS[3] processing list   {ns}:processing:{worker}
    KEYS[4] stats             {ns}:stats
    KEYS[5] scheduled set     {ns}:scheduled
    KEYS[6] metrics           {ns}:metrics
    ARGV[1] attempt that failed
    ARGV[2] worker id
    ARGV[3] the envelope, as claimed
    ARGV[4] the next attempt's envelope
    ARGV[5] due time in ms
    ARGV[6] `scheduled` record JSON
    ARGV[7] record TTL in seconds
    ARGV[8] event JSON
    ARGV[9] events cap
    ARGV[10] stats field ("<queue>:retried")
    ARGV[11..] metrics field, increment, field, increment, ... (HINCRBY each)

  Output:
     1  scheduled
    -1  no record: envelope dropped
    -2  stale: envelope dropped, nothing written
]]
--- @include "_fence"
local ok = fence(KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[3], 1, ARGV[3])
if ok ~= 1 then return ok end
release(KEYS[1], ARGV[3])

redis.call('ZADD', KEYS[5], ARGV[5], ARGV[4])
redis.call('SET', KEYS[1], ARGV[6], 'EX', ARGV[7])
add_event(KEYS[2], ARGV[8], ARGV[9], ARGV[7])
redis.call('HINCRBY', KEYS[4], ARGV[10], 1)
count_metrics(KEYS[6], 11)
return 1
