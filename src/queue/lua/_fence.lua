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

  Fair shares between concurrency keys (src/queue/keys.py names these keys; they are
  derived here from the queue's key or the namespace's prefix, all in the `{ns}` slot):
  concurrency_key(env): the key an envelope names right after its queue
  (`..."queue":"q","concurrency_key":"k"`), or nil for a job without one.
  push_job(queue_key, env, front): put an envelope on its queue: a job without a key on
  the queue list itself (which takes its turns in the ring as the key ""), a job with
  key k on `<queue key>:key:<k>`; the key goes to the end of the queue's ring of keys
  `<queue key>:keys` when its list was empty and it is not in the ring; then one wake-up
  token on `<queue key>:wake` (capped at 64) for an idle worker. `front` puts it where
  it is claimed next (a recovered job).
  count_metrics(metrics_key, from): HINCRBY the field/increment pairs ARGV[from..] into
  the metrics hash; a field `recent:<bucket>:<name>` goes to `{ns}:recent:<bucket>` (a
  five-minute bucket of LLM use, kept two hours) as `<name>`.
  release(prefix_key, env): the attempt of `env` no longer runs: drop the job from
  `{ns}:running:<k>` (what a per-key limit counts).
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

local function concurrency_key(env)
  return string.match(env, '^{"v":1,"id":"[^"]*","type":"[^"]*","queue":"[^"]*",'
    .. '"concurrency_key":"([^"]*)"')
end

local function ns_of(key)
  return string.match(key, '^({[^}]*})')
end

local function push_job(queue_key, env, front)
  local ck = concurrency_key(env) or ''
  local list = queue_key
  if ck ~= '' then list = queue_key .. ':key:' .. ck end
  local n
  if front then n = redis.call('RPUSH', list, env) else n = redis.call('LPUSH', list, env) end
  if n == 1 then
    local ring = queue_key .. ':keys'
    if not redis.call('LPOS', ring, ck) then redis.call('RPUSH', ring, ck) end
  end
  local wake = queue_key .. ':wake'
  if redis.call('LLEN', wake) < 64 then redis.call('LPUSH', wake, '1') end
end

local function release(prefix_key, env)
  local ck = concurrency_key(env)
  if ck then
    redis.call('ZREM', ns_of(prefix_key) .. ':running:' .. ck, string.match(env, '"id":"([^"]*)"'))
  end
end

local function count_metrics(metrics_key, from)
  for i = from, #ARGV, 2 do
    local bucket, name = string.match(ARGV[i], '^recent:(%d+):(.*)$')
    if bucket then
      local key = ns_of(metrics_key) .. ':recent:' .. bucket
      redis.call('HINCRBY', key, name, ARGV[i + 1])
      redis.call('EXPIRE', key, 7200)
    else
      redis.call('HINCRBY', metrics_key, ARGV[i], ARGV[i + 1])
    end
  end
end
