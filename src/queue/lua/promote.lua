--[[
  Promote one due envelope from the scheduled set to the back of its queue: mark its
  record `queued` and tell its followers. Only the caller whose ZREM removed it pushes
  it, so concurrent promoters never duplicate a job. A job cancelled while scheduled is
  dropped.

  Input:
    KEYS[1] scheduled set   {ns}:scheduled
    KEYS[2] queue           {ns}:queue:{queue}
    KEYS[3] job record      {ns}:job:{id}
    KEYS[4] events          {ns}:events:{id}
    ARGV[1] the envelope (the set member)
    ARGV[2] `queued` record JSON
    ARGV[3] record TTL in seconds
    ARGV[4] `queued` status event JSON
    ARGV[5] events cap

  Output:
     1  promoted
     0  not there any more (another promoter took it), or the job was cancelled
]]
--- @include "_fence"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local raw = redis.call('GET', KEYS[3])
if raw and is_terminal(cjson.decode(raw).status) then return 0 end
push_job(KEYS[2], ARGV[1], false)
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
add_event(KEYS[4], ARGV[4], ARGV[5], ARGV[3])
return 1
