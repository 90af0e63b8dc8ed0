--[[
  Include: helpers shared by the scripts that change a job's state.

  fence(job_key, attempt, worker) -> 1 when the record is `running` for exactly this
  attempt and worker; -1 when there is no record; -2 when another attempt or worker
  owns the job, or it is no longer running (recovered, cancelled, finished).

  add_event(events_key, event, max_len, ttl): append one event to the job's stream.

  call_back(callbacks_key, member, due_ms): schedule the job's completion callback
  (nothing when `member` is empty).

  is_terminal(status): succeeded, failed or cancelled.

  archive(archive_key, events_key, job_id, record_json, cap): hand a job that ended to
  the history archiver: the entry {"id", "events" (the stream's length), "record"} holds
  the record itself, so it waits safely however long the database is away, even past
  the record's TTL. Nothing when `cap` is "0" (no history database); the list keeps
  the newest `cap` entries.
]]
local function fence(job_key, attempt, worker)
  local raw = redis.call('GET', job_key)
  if not raw then return -1 end
  local rec = cjson.decode(raw)
  if rec.status ~= 'running' or tonumber(rec.attempt) ~= tonumber(attempt) or rec.worker ~= worker then
    return -2
  end
  return 1
end

local function add_event(events_key, event, max_len, ttl)
  redis.call('XADD', events_key, 'MAXLEN', '~', max_len, '*', 'd', event)
  redis.call('EXPIRE', events_key, ttl)
end

local function call_back(callbacks_key, member, due_ms)
  if member ~= '' then
    redis.call('ZADD', callbacks_key, due_ms, member)
  end
end

local function is_terminal(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end

local function archive(archive_key, events_key, job_id, record_json, cap)
  local n = tonumber(cap)
  if n and n > 0 then
    local events = redis.call('XLEN', events_key)
    redis.call('LPUSH', archive_key, '{"id":' .. cjson.encode(job_id) .. ',"events":' .. events
      .. ',"record":' .. record_json .. '}')
    redis.call('LTRIM', archive_key, 0, n - 1)
  end
end
