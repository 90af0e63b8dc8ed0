--[[
  Store the result of a durable step (`ctx.step`, and a signal a wait returned) for the
  attempt that runs the job, fenced by attempt. The hash keeps, beside the results, the
  order the steps first completed in (field "\0order", names separated by newlines),
  which replay uses to copy the steps before a given one.

  Input:
    KEYS[1] job record      {ns}:job:{id}
    KEYS[2] durable steps   {ns}:steps:{id}
    ARGV[1] attempt
    ARGV[2] worker id
    ARGV[3] step name
    ARGV[4] result JSON
    ARGV[5] TTL in seconds

  Output:
     1  stored
    -1  no record
    -2  stale: another attempt owns the job; nothing stored
]]
--- @include "_fence"
local ok = fence(KEYS[1], ARGV[1], ARGV[2])
if ok ~= 1 then return ok end
if redis.call('HSET', KEYS[2], ARGV[3], ARGV[4]) == 1 then
  local order = redis.call('HGET', KEYS[2], '\0order')
  redis.call('HSET', KEYS[2], '\0order', order and (order .. '\n' .. ARGV[3]) or ARGV[3])
end
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
