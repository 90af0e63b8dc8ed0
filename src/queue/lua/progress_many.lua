--[[
  Report progress of many running jobs in one call (a worker's outbox tick): for each
  job, fenced by its attempt, rewrite the record (when one is given) and append its
  events to the job's stream, in order. A job the fence refuses gets nothing written;
  the others are written all the same.

  Input:
    KEYS[2i-1]  job i's record   {ns}:job:{id}
    KEYS[2i]    job i's events   {ns}:events:{id}
    ARGV[1] worker id
    ARGV[2] record TTL in seconds
    ARGV[3] events cap
    ARGV[4..] for each job i in the order of its keys: attempt, record JSON or "" (append
            the events only), n, then its n event JSONs, oldest first

  Output:
    one code per job, in order:
     1  written
    -1  no record (expired)
    -2  stale: this attempt no longer owns the job; nothing written for it
]]
--- @include "_fence"
local out = {}
local a = 4
for i = 1, #KEYS, 2 do
  local n = tonumber(ARGV[a + 2])
  local ok = fence(KEYS[i], ARGV[a], ARGV[1])
  if ok == 1 then
    if ARGV[a + 1] ~= '' then
      redis.call('SET', KEYS[i], ARGV[a + 1], 'EX', ARGV[2])
    end
    for j = a + 3, a + 2 + n do
      redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', ARGV[3], '*', 'd', ARGV[j])
    end
    redis.call('EXPIRE', KEYS[i + 1], ARGV[2])
  end
  out[#out + 1] = ok
  a = a + 3 + n
end
return out
