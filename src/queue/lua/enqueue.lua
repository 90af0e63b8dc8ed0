--[[
  Enqueue a job: write its record, put its envelope on the queue (its key's list when it
  has a concurrency key, see push_job in _fence.lua; or in the scheduled set when it is
  delayed), set its key's limit, index it for listing, count it; all or nothing.

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
    ARGV[10] the job's concurrency key, or "" (then ARGV[11] is ignored)
    ARGV[11] the key's limit of running jobs: "0" for none
    KEYS[6] key limits        {ns}:key_limits

  Output:
    {1, id}           created
    {0, existing_id}  the idempotency key was used before: nothing written
]]
--- @include "_fence"
if ARGV[9] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[4])
end

redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
if ARGV[10] ~= '' then
  if tonumber(ARGV[11]) > 0 then
    redis.call('HSET', KEYS[6], ARGV[10], ARGV[11])
  else
    redis.call('HDEL', KEYS[6], ARGV[10])
  end
end
if ARGV[6] == '0' then
  push_job(KEYS[2], ARGV[3], false)
else
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[7])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, extra - 1) end
redis.call('HINCRBY', KEYS[5], ARGV[8], 1)
return {1, ARGV[1]}
