--[[
  End one delivery attempt of a completion callback: drop the leased member, and when
  the callback is to be tried again, add its next member (the attempt count is part of
  the member) at its due time. One step, so the callback is never lost nor doubled.

  Input:
    KEYS[1] callbacks   {ns}:callbacks
    ARGV[1] the leased member
    ARGV[2] the next member, or "" when delivered (or given up)
    ARGV[3] the next member's due time in ms

  Output:
     1  done (the leased member was there)
     0  the member was gone (taken and finished by someone else)
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
end
return 1
