--[[
  End an attempt for good: `succeeded`, `failed` (optionally dead-lettering the
  envelope) or `cancelled`. Fenced by attempt: a worker that lost the job only drops
  its own copy of the envelope. The completion callback, when the job has one, and the
  hand-over to the history archiver are done in the same step, so a worker dying right
  after cannot lose either. The attempt's run and wait times (and its error type) are
  counted into the metrics hash (src/queue/histograms.py) only when the write is taken.

  Input:
    KEYS[1] job record        {ns}:job:{id}
    KEYS[2] events            {ns}:events:{id}
    KEYS[3] processing list   {ns}:processing:{worker}
    KEYS[4] stats             {ns}:stats
    KEYS[5] dead list         {ns}:dead
    KEYS[6] cancel flag       {ns}:cancel:{id}
    KEYS[7] durable steps     {ns}:steps:{id}
    KEYS[8] callbacks         {ns}:callbacks
    KEYS[9] archive list      {ns}:archive
    KEYS[10] metrics          {ns}:metrics
    ARGV[1] attempt
    ARGV[2] worker id
    ARGV[3] the envelope, as claimed
    ARGV[4] final record JSON
    ARGV[5] result TTL in seconds
    ARGV[6] final status event JSON
    ARGV[7] events cap
    ARGV[8] stats field ("<queue>:succeeded", ":failed" or ":cancelled")
    ARGV[9] envelope to push on the dead list, or ""
    ARGV[10] dead list cap
    ARGV[11] callback member, or "" when the job has no callback_url
    ARGV[12] now in ms (the callback's due time)
    ARGV[13] job id
    ARGV[14] archive list cap; "0" when there is no history database
    ARGV[15..] metrics field, increment, field, increment, ... (HINCRBY each)

  Output:
     1  finished
    -1  no record (expired): the envelope is dropped
    -2  stale: another attempt owns the job; the envelope is dropped, nothing written
]]
--- @include "_fence"
local ok = fence(KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[3], 1, ARGV[3])
if ok ~= 1 then return ok end
release(KEYS[1], ARGV[3])

redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
add_event(KEYS[2], ARGV[6], ARGV[7], ARGV[5])
redis.call('EXPIRE', KEYS[7], ARGV[5])
redis.call('DEL', KEYS[6])
redis.call('HINCRBY', KEYS[4], ARGV[8], 1)
if ARGV[9] ~= '' then
  redis.call('LPUSH', KEYS[5], ARGV[9])
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[10]) - 1)
end
call_back(KEYS[8], ARGV[11], ARGV[12])
archive(KEYS[9], KEYS[2], ARGV[13], ARGV[4], ARGV[14])
count_metrics(KEYS[10], 15)
return 1
