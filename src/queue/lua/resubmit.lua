--[[
  Run a failed or cancelled job again from attempt 1: clear its cancel flag, write the
  `queued` record and push a fresh envelope. Compare-and-set on the record the caller
  read, so two concurrent retries enqueue it once.

  Input:
    KEYS[1] job record    {ns}:job:{id}
    KEYS[2] cancel flag   {ns}:cancel:{id}
    KEYS[3] queue         {ns}:queue:{queue}
    KEYS[4] events        {ns}:events:{id}
    KEYS[5] stats         {ns}:stats
    ARGV[1] the record JSON the caller read
    ARGV[2] `queued` record JSON
    ARGV[3] envelope JSON
    ARGV[4] record TTL in seconds
    ARGV[5] event JSON
    ARGV[6] events cap
    ARGV[7] stats field ("<queue>:enqueued")

  Output:
     1  queued again
    -1  no record
    -5  the record changed since the caller read it
]]
--- @include "_fence"
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
if raw ~= ARGV[1] then return -5 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
redis.call('LPUSH', KEYS[3], ARGV[3])
add_event(KEYS[4], ARGV[5], ARGV[6], ARGV[4])
redis.call('HINCRBY', KEYS[5], ARGV[7], 1)
return 1
