--[[
  Claim up to N envelopes without blocking: move them one by one from the right end of
  the queues (in the order given) onto the left of this worker's processing list. The
  worker blocks with BLMOVE outside Lua only when this returns nothing.

  Input:
    KEYS[1]    processing list   {ns}:processing:{worker}
    KEYS[2..]  queues            {ns}:queue:{name}, highest priority first
    ARGV[1]    N, the most envelopes to claim

  Output:
    the claimed envelopes (possibly none)
]]
local want = tonumber(ARGV[1])
local got = {}
for i = 2, #KEYS do
  while #got < want do
    local env = redis.call('LMOVE', KEYS[i], KEYS[1], 'RIGHT', 'LEFT')
    if not env then break end
    got[#got + 1] = env
  end
end
return got
