--[[
  Promote one due envelope from the scheduled set to the back of its queue, and mark
  its record `queued`. Only the caller whose ZREM removed it pushes it, so concurrent
  promoters never duplicate a job. A job cancelled while scheduled is dropped.

  Input:
    KEYS[1] scheduled set   {ns}:scheduled
    KEYS[2] queue           {ns}:queue:{queue}
    KEYS[3] job record      {ns}:job:{id}
    ARGV[1] the envelope (the set member)
    ARGV[2] `queued` record JSON
    ARGV[3] record TTL in seconds

  Output:
     1  promoted
     0  not there any more (another promoter took it), or the job was cancelled
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local raw = redis.call('GET', KEYS[3])
if raw and cjson.decode(raw).status == 'cancelled' then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
return 1
