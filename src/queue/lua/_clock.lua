--[[
  Include: the clock of the rate-limit scripts.

  now_ms(arg): `arg` as milliseconds when it is a number (tests), else the server's clock
  (what workers use, so their own clocks do not matter).
]]
local function now_ms(arg)
  local now = tonumber(arg)
  if now then return now end
  if redis.replicate_commands then
    pcall(redis.replicate_commands)  -- Redis 6.2: allow writes after TIME
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
