--[[
  Correct the tokens a grant of ratelimit.lua counted up front, once the request's real
  use is known (src/worker/ratelimit.py): the window then tracks what was spent, not
  what was feared. Same hash and slots as ratelimit.lua.

  A request that used fewer tokens than it reserved gives the difference back: it is
  taken off the slot the grant was counted in (never below zero; nothing when that slot
  has already left the window, since its tokens are free by then anyway). One that used
  more adds the excess to the current slot, where the spending happened.

  Input:
    KEYS[1]  the limit's counts   {ns}:ratelimit:{name}
    ARGV[1]  tokens to add (> 0) or give back (< 0)
    ARGV[2]  the slot the grant was counted in (minus what ratelimit.lua answered)
    ARGV[3]  the period in milliseconds
    ARGV[4]  slots per period
    ARGV[5]  now in milliseconds, or "" for the server's clock

  Output:
    the tokens actually added (> 0) or given back (< 0); 0 when nothing changed
]]
--- @include "_clock"

local delta = tonumber(ARGV[1]) or 0
if delta == 0 then
  return 0
end
local slot = tonumber(ARGV[2])
local period = math.max(1, tonumber(ARGV[3]) or 60000)
local slots = math.max(1, tonumber(ARGV[4]) or 20)
local now = now_ms(ARGV[5])
local width = math.ceil(period / slots)
local current = math.floor(now / width)
local oldest = current - slots

if delta < 0 then
  if slot == nil or slot < oldest or slot > current then
    return 0
  end
  local field = string.format('%.0f', slot) .. ':t'
  local have = tonumber(redis.call('HGET', KEYS[1], field) or '0') or 0
  local give = math.min(have, -delta)
  if give <= 0 then
    return 0
  end
  if give == have then
    redis.call('HDEL', KEYS[1], field)
  else
    redis.call('HINCRBY', KEYS[1], field, -give)
  end
  return -give
end

redis.call('HINCRBY', KEYS[1], string.format('%.0f', current) .. ':t', delta)
redis.call('PEXPIRE', KEYS[1], period + 2 * width)
return delta
