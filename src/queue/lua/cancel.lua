--[[
  Cancel a job. A queued, scheduled or waiting job becomes `cancelled` at once and its
  envelope leaves the queue (or the scheduled or waiting set), so it never runs and is
  no longer counted;
  for a running job the cancel flag is set and its worker cancels it within one
  heartbeat. Finding the envelope reads the list in chunks: O(length of that queue).

  Input:
    KEYS[1] job record    {ns}:job:{id}
    KEYS[2] cancel flag   {ns}:cancel:{id}
    KEYS[3] events        {ns}:events:{id}
    KEYS[4] stats         {ns}:stats
    KEYS[5] queue         {ns}:queue:{queue}, or its key's list {ns}:queue:{queue}:key:{key}
    KEYS[6] scheduled set {ns}:scheduled
    KEYS[7] callbacks     {ns}:callbacks
    KEYS[8] archive list  {ns}:archive
    KEYS[9] waiting set   {ns}:waiting
    KEYS[10] waiting envelopes {ns}:waiting:envelopes
    KEYS[11] metrics      {ns}:metrics
    ARGV[1] the record JSON the caller read (compare-and-set guard)
    ARGV[2] cancelled record JSON (used when queued, scheduled or waiting)
    ARGV[3] record TTL in seconds (for the flag)
    ARGV[4] result TTL in seconds
    ARGV[5] cancelled event JSON
    ARGV[6] events cap
    ARGV[7] stats field ("<queue>:cancelled")
    ARGV[8] job id
    ARGV[9] callback member, or ""
    ARGV[10] now in ms
    ARGV[11] archive list cap; "0" when there is no history database
    ARGV[12..] metrics field, increment, ... (HINCRBY each, when cancelled now)

  Output:
     1  cancelled now
     2  cancel requested: the job is running
    -1  no record
    -4  already finished: nothing to cancel
    -5  the record changed since the caller read it: read again and retry
]]
--- @include "_fence"
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
if raw ~= ARGV[1] then return -5 end
local status = cjson.decode(raw).status
if is_terminal(status) then return -4 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
if status == 'running' then return 2 end

-- The envelope names the job as "id":"<id>" (compact JSON, or with a space after ':').
local id = ARGV[8]
local needles = {'"id":"' .. id .. '"', '"id": "' .. id .. '"'}
local function names_job(env)
  return string.find(env, needles[1], 1, true) or string.find(env, needles[2], 1, true)
end
local chunk = 500
if status == 'waiting' then
  redis.call('ZREM', KEYS[9], id)
  redis.call('HDEL', KEYS[10], id)
elseif status == 'queued' then
  local n = redis.call('LLEN', KEYS[5])
  local found = false
  for start = 0, n - 1, chunk do
    for _, env in ipairs(redis.call('LRANGE', KEYS[5], start, start + chunk - 1)) do
      if names_job(env) then
        redis.call('LREM', KEYS[5], 1, env)
        found = true
        break
      end
    end
    if found then break end
  end
elseif status == 'scheduled' then
  local n = redis.call('ZCARD', KEYS[6])
  local found = false
  for start = 0, n - 1, chunk do
    for _, env in ipairs(redis.call('ZRANGE', KEYS[6], start, start + chunk - 1)) do
      if names_job(env) then
        redis.call('ZREM', KEYS[6], env)
        found = true
        break
      end
    end
    if found then break end
  end
end

redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
add_event(KEYS[3], ARGV[5], ARGV[6], ARGV[4])
redis.call('HINCRBY', KEYS[4], ARGV[7], 1)
call_back(KEYS[7], ARGV[9], ARGV[10])
archive(KEYS[8], KEYS[3], ARGV[8], ARGV[2], ARGV[11])
count_metrics(KEYS[11], 12)
return 1
