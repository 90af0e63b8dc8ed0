--[[
  Report progress of a running job, fenced by attempt: rewrite the record (when one is
  given) and append the events to the job's stream, in order. A worker sends the events
  a job made within one tick together (src/worker/outbox.py).

  Input:
    KEYS[1] job record   {ns}:job:{id}
    KEYS[2] events       {ns}:events:{id}
    ARGV[1] attempt
    ARGV[2] worker id
    ARGV[3] record JSON, or "" to append the events only
    ARGV[4] record TTL in seconds
    ARGV[5] events cap
    ARGV[6..] event JSON, oldest first

  Output:
     1  written
    -1  no record (expired)
    -2  stale: this attempt no longer owns the job; nothing written
]]
--- @include "_fence"
local ok = fence(KEYS[1], ARGV[1], ARGV[2])
if ok ~= 1 then return ok end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
end
for i = 6, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'd', ARGV[i])
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
