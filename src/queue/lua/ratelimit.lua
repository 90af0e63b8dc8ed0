--[[
  One rate limit shared by every worker, in requests and in tokens per period (e.g. an
  LLM provider's RPM and TPM), for src/worker/ratelimit.py.

  A sliding window counted in slots: the period is cut into ARGV[5] slots, and a request
  is granted only if the slots that overlap the last period (the current one included,
  the oldest counted whole) plus this request stay within both limits. Since the oldest
  slot is counted whole, no window of one period ever holds more than the limit,
  wherever it starts; the price is that capacity returns up to one slot late. (A
  refilling token bucket of the same size would let up to twice the limit through in one
  period: a full bucket, then a full refill.) State is one small hash: field "<slot>" =
  requests granted in that slot, "<slot>:t" = tokens; stale slots are deleted as they
  age out, and the key expires when the limit sits idle.

  Input:
    KEYS[1]  the limit's counts   {ns}:ratelimit:{name}
    ARGV[1]  most requests per period; 0 = no request limit
    ARGV[2]  most tokens per period; 0 = no token limit
    ARGV[3]  tokens this request may use, counted up front (more than the limit counts
             as the limit: a huge request waits for an empty window, not forever)
    ARGV[4]  the period in milliseconds (60000 for "per minute")
    ARGV[5]  slots per period (the window's resolution), e.g. 20
    ARGV[6]  now in milliseconds, or "" for the server's clock (what workers use, so
             their own clocks do not matter)
    ARGV[7]  "1" to learn the slot a grant was counted in (to correct its tokens later
             with ratelimit_adjust.lua); absent or "" otherwise

  Output:
    0 when granted (the request and its tokens are counted); with ARGV[7] = "1", minus
    the slot it was counted in (0 or less: granted). Otherwise the milliseconds to wait
    before asking again (nothing is counted)
]]
--- @include "_clock"

local max_req = tonumber(ARGV[1]) or 0
local max_tok = tonumber(ARGV[2]) or 0
if max_req <= 0 and max_tok <= 0 then
  return 0
end
local want = math.max(0, tonumber(ARGV[3]) or 0)
if max_tok > 0 and want > max_tok then
  want = max_tok
end
local period = math.max(1, tonumber(ARGV[4]) or 60000)
local slots = math.max(1, tonumber(ARGV[5]) or 20)
local now = now_ms(ARGV[6])

local width = math.ceil(period / slots)
local current = math.floor(now / width)
local oldest = current - slots  -- slots + 1 slots overlap the last period

-- Per-slot counts still inside the window; drop the rest.
local reqs, toks = {}, {}
local used_req, used_tok = 0, 0
local stale = {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local field, value = flat[i], tonumber(flat[i + 1]) or 0
  local slot, kind = string.match(field, '^(%-?%d+)(.*)$')
  slot = tonumber(slot)
  if slot == nil or slot < oldest then
    stale[#stale + 1] = field
  elseif kind == ':t' then
    toks[slot] = value
    used_tok = used_tok + value
  else
    reqs[slot] = value
    used_req = used_req + value
  end
end
if #stale > 0 then
  redis.call('HDEL', KEYS[1], unpack(stale))
end

local req_ok = max_req <= 0 or used_req + 1 <= max_req
local tok_ok = max_tok <= 0 or used_tok + want <= max_tok
if req_ok and tok_ok then
  local field = string.format('%.0f', current)
  redis.call('HINCRBY', KEYS[1], field, 1)
  if want > 0 and max_tok > 0 then
    redis.call('HINCRBY', KEYS[1], field .. ':t', want)
  end
  redis.call('PEXPIRE', KEYS[1], period + 2 * width)
  if ARGV[7] == '1' then
    return -current
  end
  return 0
end

-- Denied: find the first moment enough old slots have left the window. Slot s stops
-- being counted once `current` passes s + slots, i.e. at (s + slots + 1) * width.
local function wait_for(counts, excess)
  local freed = 0
  for s = oldest, current do
    freed = freed + (counts[s] or 0)
    if freed >= excess then
      return (s + slots + 1) * width - now
    end
  end
  return (current + slots + 1) * width - now
end

local wait = 1
if not req_ok then
  wait = math.max(wait, wait_for(reqs, used_req + 1 - max_req))
end
if not tok_ok then
  wait = math.max(wait, wait_for(toks, used_tok + want - max_tok))
end
return math.ceil(wait)
