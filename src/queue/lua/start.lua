--[[
  Start a claimed job: the worker writes the `running` record for this attempt, unless
  the job was cancelled, already finished, or belongs to a newer attempt; then the
  envelope is dropped from the processing list and the job never runs. (A cancel
  requested while the job was running is seen by the worker's heartbeat instead.)

  Input:
    KEYS[1] job record        {ns}:job:{id}
    KEYS[2] events            {ns}:events:{id}
    KEYS[3] processing list   {ns}:processing:{worker}
    ARGV[1] the envelope, as claimed
    ARGV[2] attempt
    ARGV[3] running record JSON
    ARGV[4] record TTL in seconds
    ARGV[5] "running" event JSON
    ARGV[6] events cap

  Output:
     1  started: the record is `running` for this attempt
    -2  stale: finished already, or a newer attempt owns the job; envelope dropped
    -3  cancelled: the record is `cancelled`; envelope dropped
]]
--- @include "_fence"
local attempt = tonumber(ARGV[2])
local raw = redis.call('GET', KEYS[1])
if raw then
  local rec = cjson.decode(raw)
  local status = rec.status
  if status == 'cancelled' then
    redis.call('LREM', KEYS[3], 1, ARGV[1])
    release(KEYS[1], ARGV[1])
    return -3
  end
  if status == 'succeeded' or status == 'failed' or tonumber(rec.attempt) > attempt
     or (status == 'running' and tonumber(rec.attempt) == attempt) then
    redis.call('LREM', KEYS[3], 1, ARGV[1])
    if status ~= 'running' then release(KEYS[1], ARGV[1]) end
    return -2
  end
end

redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
add_event(KEYS[2], ARGV[5], ARGV[6], ARGV[4])
return 1
