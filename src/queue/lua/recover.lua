--[[
  Take one envelope out of a processing list (a dead worker's, or our own at shutdown)
  and put it back at the front of its queue for the given attempt, or on the dead list
  when its attempts are used up. Only the caller whose LREM removed the envelope writes,
  so two recoverers never both requeue it. A job whose cancel was requested is
  cancelled instead. A job that ends here (lost for good, or cancelled) has its
  completion callback scheduled in the same step.

  Input:
    KEYS[1] processing list   {ns}:processing:{worker}
    KEYS[2] queue             {ns}:queue:{queue}
    KEYS[3] dead list         {ns}:dead
    KEYS[4] job record        {ns}:job:{id}
    KEYS[5] events            {ns}:events:{id}
    KEYS[6] cancel flag       {ns}:cancel:{id}
    KEYS[7] stats             {ns}:stats
    KEYS[8] callbacks         {ns}:callbacks
    KEYS[9] archive list      {ns}:archive
    ARGV[1] the envelope in the processing list
    ARGV[2] mode: "queue" or "dead"
    ARGV[3] the envelope to requeue or bury
    ARGV[4] record JSON (`queued`, or `failed` with error type "lost")
    ARGV[5] cancelled record JSON
    ARGV[6] record TTL in seconds (queued)
    ARGV[7] result TTL in seconds (failed, cancelled)
    ARGV[8] event JSON for the record written
    ARGV[9] cancelled event JSON
    ARGV[10] events cap
    ARGV[11] dead list cap
    ARGV[12] queue name (for stats fields)
    ARGV[13] callback member, or "" when the job has no callback_url
    ARGV[14] now in ms
    ARGV[15] job id
    ARGV[16] archive list cap; "0" when there is no history database

  Output:
     1  requeued
     2  dead-lettered
     3  cancelled
     0  the envelope was no longer there: someone else handled it
]]
--- @include "_fence"
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
release(KEYS[1], ARGV[1])

local raw = redis.call('GET', KEYS[4])
if raw then
  local status = cjson.decode(raw).status
  if is_terminal(status) then return 0 end
end
local q = ARGV[12]
if redis.call('EXISTS', KEYS[6]) == 1 then
  redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[7])
  add_event(KEYS[5], ARGV[9], ARGV[10], ARGV[7])
  redis.call('HINCRBY', KEYS[7], q .. ':cancelled', 1)
  call_back(KEYS[8], ARGV[13], ARGV[14])
  archive(KEYS[9], KEYS[5], ARGV[15], ARGV[5], ARGV[16])
  return 3
end
if ARGV[2] == 'queue' then
  push_job(KEYS[2], ARGV[3], true)
  redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[6])
  add_event(KEYS[5], ARGV[8], ARGV[10], ARGV[6])
  redis.call('HINCRBY', KEYS[7], q .. ':recovered', 1)
  return 1
end
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[11]) - 1)
redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[7])
add_event(KEYS[5], ARGV[8], ARGV[10], ARGV[7])
redis.call('HINCRBY', KEYS[7], q .. ':failed', 1)
call_back(KEYS[8], ARGV[13], ARGV[14])
archive(KEYS[9], KEYS[5], ARGV[15], ARGV[4], ARGV[16])
return 2
