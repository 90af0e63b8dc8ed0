--[[
  Drop ids the history archiver has written to SQL from the archive list. Each id is
  removed once, from the oldest end (where the archiver read it), so ids pushed since,
  a job's later end included, stay for the next batch.

  Input:
    KEYS[1] archive list   {ns}:archive (or {ns}:archive:webhooks)
    ARGV    the entries written, as read

  Output:
    how many entries were removed
]]
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('LREM', KEYS[1], -1, ARGV[i])
end
return removed
