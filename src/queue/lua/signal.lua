--[[
  Deliver a signal to a job (`POST /jobs/{id}/signals/{name}`, or the end of a wait):
  store it in the job's signals hash and add a `signal` event; when the job is
  `waiting` for exactly this signal, it goes back to its queue in the same step (its
  envelope leaves the waiting set). Compare-and-set: the caller read the record as
  ARGV[4] and built the `queued` record from it; a record that moved on, or a job
  that started waiting for this signal since it was read, asks the caller to retry.

  Input:
    KEYS[1] job record        {ns}:job:{id}
    KEYS[2] events            {ns}:events:{id}
    KEYS[3] signals           {ns}:signals:{id}
    KEYS[4] waiting set       {ns}:waiting
    KEYS[5] waiting envelopes {ns}:waiting:envelopes
    KEYS[6] queue             {ns}:queue:{queue}
    ARGV[1] job id
    ARGV[2] signal name
    ARGV[3] signal body (JSON, or "!timeout" when the wait ran out)
    ARGV[4] the record the caller read, when it is `waiting` for this signal; else ""
    ARGV[5] `queued` record JSON (used with ARGV[4])
    ARGV[6] `signal` event JSON
    ARGV[7] `queued` status event JSON (used with ARGV[4])
    ARGV[8] events cap
    ARGV[9] TTL in seconds of the signals hash (at least the record's)

  Output:
     1  stored (the job is not waiting for it)
     2  stored, and the job is queued again
    -1  no record
    -4  the job has ended: nothing stored
    -5  the record changed since the caller read it: read again and retry
]]
--- @include "_fence"
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
local rec = cjson.decode(raw)
if is_terminal(rec.status) then return -4 end
local waits_for_this = rec.status == 'waiting' and type(rec.waiting_for) == 'table'
  and rec.waiting_for.name == ARGV[2]
if (ARGV[4] ~= '' and raw ~= ARGV[4]) or (ARGV[4] == '' and waits_for_this) then
  return -5
end

local ttl = math.max(tonumber(ARGV[9]), redis.call('TTL', KEYS[1]))
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ttl)
add_event(KEYS[2], ARGV[6], ARGV[8], ttl)
if ARGV[4] == '' then return 1 end

local env = redis.call('HGET', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SET', KEYS[1], ARGV[5], 'KEEPTTL')
add_event(KEYS[2], ARGV[7], ARGV[8], ttl)
if env then redis.call('LPUSH', KEYS[6], env) end
return 2
