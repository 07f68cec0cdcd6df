--[[
Deletes the deliveries of one batch that are settled (delivered, failed or
dropped) and whose last activity (`created`, `done`) is before the cutoff,
and takes them out of every set that lists them: the due set, their
subscription's delivery log, their tenant's dead letters. Subscription stats
are left alone: they count what happened. An id whose hash is gone is only
removed from the given index.
ARGV[1] delivery key prefix ("P:dlv:")
ARGV[2] subscription key prefix ("P:wh:")
ARGV[3] cutoff (epoch ms)
ARGV[4] the sorted set the ids were read from ("" for none: a keyspace scan)
ARGV[5..] delivery ids
Returns {deliveries deleted, index entries removed (deleted + dangling)}.
]]
local dlv, wh, cutoff, index = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local deleted, removed = 0, 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = dlv .. id
  local d = redis.call("hmget", key, "state", "created", "done", "sub", "tenant")
  if not d[1] then
    if redis.call("exists", key) == 0 and index ~= "" then
      redis.call("zrem", index, id)
      removed = removed + 1
    end
  elseif d[1] == "delivered" or d[1] == "failed" or d[1] == "dropped" then
    local last = math.max(tonumber(d[2] or "") or 0, tonumber(d[3] or "") or 0)
    if last < cutoff then
      redis.call("del", key, key .. ":att")
      redis.call("zrem", dlv .. "due", id)
      if d[4] and d[4] ~= "" then redis.call("zrem", wh .. d[4] .. ":dlv", id) end
      if d[5] and d[5] ~= "" then redis.call("zrem", dlv .. "dead:" .. d[5], id) end
      if index ~= "" then redis.call("zrem", index, id) end
      deleted = deleted + 1
      removed = removed + 1
    end
  end
end
return {deleted, removed}
