--[[
  Report progress of a running job, fenced by attempt: rewrite the record (when one is
  given) and append an event to the job's stream.

  Input:
    KEYS[1] job record   {ns}:job:{id}
    KEYS[2] events       {ns}:events:{id}
    ARGV[1] attempt
    ARGV[2] worker id
    ARGV[3] record JSON, or "" to append the event only
    ARGV[4] record TTL in seconds
    ARGV[5] event JSON
    ARGV[6] events cap

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
add_event(KEYS[2], ARGV[5], ARGV[6], ARGV[4])
return 1
