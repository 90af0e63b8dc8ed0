--[[
  Run a failed or cancelled job again from attempt 1, with the options it was submitted
  with: clear its cancel flag, write the `queued` record and push a fresh envelope.

  Compare-and-set on the record the caller read, and a short guard key: of several
  retries sent at once, exactly one starts the job; the others are refused, also those
  that read the record again after the retried job had already failed once more.

  Input:
    KEYS[1] job record    {ns}:job:{id}
    KEYS[2] cancel flag   {ns}:cancel:{id}
    KEYS[3] queue         {ns}:queue:{queue}
    KEYS[4] events        {ns}:events:{id}
    KEYS[5] stats         {ns}:stats
    KEYS[6] retry guard   {ns}:lock:retry:{id}
    ARGV[1] the record JSON the caller read
    ARGV[2] `queued` record JSON
    ARGV[3] envelope JSON
    ARGV[4] record TTL in seconds
    ARGV[5] event JSON
    ARGV[6] events cap
    ARGV[7] stats field ("<queue>:enqueued")
    ARGV[8] how long the guard refuses further retries, in ms

  Output:
     1  queued again
    -1  no record
    -4  not failed or cancelled
    -5  the record changed since the caller read it, or the job was retried moments ago
]]
--- @include "_fence"
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
if raw ~= ARGV[1] then return -5 end
local status = cjson.decode(raw).status
if status ~= 'failed' and status ~= 'cancelled' then return -4 end
if not redis.call('SET', KEYS[6], '1', 'NX', 'PX', ARGV[8]) then return -5 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
push_job(KEYS[3], ARGV[3], false)
add_event(KEYS[4], ARGV[5], ARGV[6], ARGV[4])
redis.call('HINCRBY', KEYS[5], ARGV[7], 1)
return 1
