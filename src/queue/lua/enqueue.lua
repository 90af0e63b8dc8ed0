--[[
  Enqueue a job: write its record, put its envelope on the queue (or in the scheduled
  set when it is delayed), index it for listing, count it; all or nothing.

  Input:
    KEYS[1] job record        {ns}:job:{id}
    KEYS[2] target            {ns}:queue:{queue} (a list) or {ns}:scheduled (a sorted set)
    KEYS[3] jobs index        {ns}:jobs
    KEYS[4] idempotency key   {ns}:idem:{key} (any key of the namespace when ARGV[9] is "0")
    KEYS[5] stats             {ns}:stats
    ARGV[1] job id
    ARGV[2] record JSON
    ARGV[3] envelope JSON
    ARGV[4] record TTL in seconds
    ARGV[5] creation time in ms (index score)
    ARGV[6] due time in ms; "0" means now (LPUSH on the queue)
    ARGV[7] index cap: the index is trimmed to this many newest ids
    ARGV[8] stats field to increment ("<queue>:enqueued")
    ARGV[9] "1" when the job has an idempotency key, else "0"

  Output:
    {1, id}           created
    {0, existing_id}  the idempotency key was used before: nothing written
]]
if ARGV[9] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[4])
end

redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
if ARGV[6] == '0' then
  redis.call('LPUSH', KEYS[2], ARGV[3])
else
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[7])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, extra - 1) end
redis.call('HINCRBY', KEYS[5], ARGV[8], 1)
return {1, ARGV[1]}
