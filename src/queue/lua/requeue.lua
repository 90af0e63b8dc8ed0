--[[
  Put one dead-lettered job back on its queue from attempt 1: write its `queued`
  record, tell its followers, count it. Only the caller whose LREM removed the envelope
  from the dead list writes, so concurrent requeues of one job run it exactly once more.

  Input:
    KEYS[1] dead list     {ns}:dead
    KEYS[2] queue         {ns}:queue:{queue}
    KEYS[3] job record    {ns}:job:{id}
    KEYS[4] events        {ns}:events:{id}
    KEYS[5] cancel flag   {ns}:cancel:{id}
    KEYS[6] stats         {ns}:stats
    ARGV[1] the envelope in the dead list
    ARGV[2] the fresh envelope (attempt 1)
    ARGV[3] `queued` record JSON
    ARGV[4] record TTL in seconds
    ARGV[5] `queued` status event JSON
    ARGV[6] events cap
    ARGV[7] stats field ("<queue>:enqueued")

  Output:
     1  requeued
     0  the envelope was no longer in the dead list: someone else requeued it
]]
--- @include "_fence"
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[5])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
push_job(KEYS[2], ARGV[2], false)
add_event(KEYS[4], ARGV[5], ARGV[6], ARGV[4])
redis.call('HINCRBY', KEYS[6], ARGV[7], 1)
return 1
