--[[
  Suspend an attempt that waits for a signal (`ctx.wait_for`): the job becomes
  `waiting`, its envelope leaves the worker's processing list and waits in the
  `waiting` set (by the time its wait runs out) with its envelope kept beside it, so
  the worker's slot is free and the job costs no heartbeat. If the signal arrived while
  the attempt ran, the job goes straight back to its queue instead. Fenced by attempt.
  A cancel requested while the attempt ran is left to the caller: nothing is written.

  Input:
    KEYS[1] job record        {ns}:job:{id}
    KEYS[2] events            {ns}:events:{id}
    KEYS[3] processing list   {ns}:processing:{worker}
    KEYS[4] signals           {ns}:signals:{id}
    KEYS[5] waiting set       {ns}:waiting
    KEYS[6] waiting envelopes {ns}:waiting:envelopes
    KEYS[7] queue             {ns}:queue:{queue}
    KEYS[8] durable steps     {ns}:steps:{id}
    KEYS[9] cancel flag       {ns}:cancel:{id}
    KEYS[10] metrics          {ns}:metrics
    ARGV[1] attempt
    ARGV[2] worker id
    ARGV[3] the envelope, as claimed
    ARGV[4] `waiting` record JSON
    ARGV[5] `queued` record JSON (when the signal is already there)
    ARGV[6] TTL in seconds for the record, steps and signals (covers the wait)
    ARGV[7] `waiting` status event JSON
    ARGV[8] `queued` status event JSON
    ARGV[9] events cap
    ARGV[10] job id
    ARGV[11] signal name
    ARGV[12] the wait's end, epoch ms
    ARGV[13] the envelope the job resumes with (the claimed one, with the LLM usage so far)
    ARGV[14..] metrics field, increment, ... (HINCRBY each: the attempt's LLM usage)

  Output:
     1  waiting
     2  the signal was already there: queued again
    -1  no record (expired): the envelope is dropped
    -2  stale: another attempt owns the job; the envelope is dropped
    -3  a cancel was requested: nothing written (the caller cancels the attempt)
]]
--- @include "_fence"
local ok = fence(KEYS[1], ARGV[1], ARGV[2])
if ok == 1 and redis.call('EXISTS', KEYS[9]) == 1 then return -3 end
redis.call('LREM', KEYS[3], 1, ARGV[3])
if ok ~= 1 then return ok end
release(KEYS[1], ARGV[3])

count_metrics(KEYS[10], 14)
local ttl = ARGV[6]
redis.call('EXPIRE', KEYS[8], ttl)
if redis.call('HEXISTS', KEYS[4], ARGV[11]) == 1 then
  redis.call('SET', KEYS[1], ARGV[5], 'EX', ttl)
  add_event(KEYS[2], ARGV[8], ARGV[9], ttl)
  push_job(KEYS[7], ARGV[13], false)
  return 2
end
redis.call('SET', KEYS[1], ARGV[4], 'EX', ttl)
add_event(KEYS[2], ARGV[7], ARGV[9], ttl)
redis.call('ZADD', KEYS[5], ARGV[12], ARGV[10])
redis.call('HSET', KEYS[6], ARGV[10], ARGV[13])
return 1
