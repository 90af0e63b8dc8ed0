--[[
  Claim up to N envelopes without blocking, onto the left of this worker's processing
  list, queue by queue in the order given (highest priority first). In each queue the
  ring of keys is turned one key per job, so each key with waiting jobs gets a turn in
  round-robin (FIFO within a key) and a key's backlog never delays another key's first
  job by more than one turn per key. Jobs without a key wait on the queue's own list,
  which takes its turns as the key "". A key whose limit (`{ns}:key_limits`) of running
  jobs is reached is passed over without blocking the others. A claimed keyed job joins
  `{ns}:running:<key>`, which the script that ends its attempt leaves. Envelopes another
  producer LPUSHed on the queue list take the queue's turn too (its "" joins the ring).

  Input:
    KEYS[1]    processing list   {ns}:processing:{worker}
    KEYS[2]    key limits        {ns}:key_limits
    KEYS[3..]  queues            {ns}:queue:{name}, highest priority first
    ARGV[1]    N, the most envelopes to claim
    ARGV[2]    now in ms (the running set's score)

  Output:
    the claimed envelopes (possibly none)
]]
--- @include "_fence"
local want = tonumber(ARGV[1])
local got = {}
local ns = ns_of(KEYS[1])
local limits = {}

local function room(ck)
  if ck == '' then return true end
  local limit = limits[ck]
  if limit == nil then
    limit = tonumber(redis.call('HGET', KEYS[2], ck)) or 0
    limits[ck] = limit
  end
  return limit <= 0 or redis.call('ZCARD', ns .. ':running:' .. ck) < limit
end

for i = 3, #KEYS do
  local queue = KEYS[i]
  local ring = queue .. ':keys'
  if redis.call('LLEN', queue) > 0 and not redis.call('LPOS', ring, '') then
    redis.call('RPUSH', ring, '')  -- envelopes another producer LPUSHed take turns too
  end
  local keys_left = redis.call('LLEN', ring)
  local passed = 0  -- keys turned without a claim since the last one
  while #got < want and keys_left > 0 and passed < keys_left do
    local ck = redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
    local list = queue
    if ck ~= '' then list = queue .. ':key:' .. ck end
    if not room(ck) then
      passed = passed + 1
    else
      -- one job per turn; a key alone in the ring takes what it may at once
      local took, env = 0, redis.call('LMOVE', list, KEYS[1], 'RIGHT', 'LEFT')
      while env do
        got[#got + 1] = env
        took = took + 1
        if ck ~= '' then
          redis.call('ZADD', ns .. ':running:' .. ck, ARGV[2], string.match(env, '"id":"([^"]*)"'))
        end
        if keys_left > 1 or #got >= want or not room(ck) then break end
        env = redis.call('LMOVE', list, KEYS[1], 'RIGHT', 'LEFT')
      end
      if took > 0 then passed = 0 end
      if took == 0 or redis.call('LLEN', list) == 0 then
        redis.call('LREM', ring, -1, ck)
        keys_left = keys_left - 1
      end
    end
  end
end
return got
