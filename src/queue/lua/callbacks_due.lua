--[[
  Lease the completion callbacks that are due: each one taken is pushed `lease` ms into
  the future, so a worker that dies while delivering it leaves it to be taken again
  when the lease runs out (delivery is at least once).

  Input:
    KEYS[1] callbacks   {ns}:callbacks (member -> due time in ms)
    ARGV[1] now in ms
    ARGV[2] the lease in ms
    ARGV[3] the most to take

  Output:
    the leased members (possibly none)
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', until_ms, member)
end
return due
