--[[
Deletes the finished tasks of one tenant index entry batch that finished
before the cutoff, with their callback deliveries (`{task_id}.{gen}` for
every generation, and the `dlv` field's). The check and the delete are one
step, so a task retried meanwhile (status back to queued) is kept.
KEYS[1] the tenant's task index (P:tasks:t:{tenant})
ARGV[1] task key prefix ("P:task:")
ARGV[2] delivery key prefix ("P:dlv:")
ARGV[3] cutoff (epoch ms): tasks finished before it are deleted
ARGV[4..] task ids
Returns {tasks deleted, index entries removed (deleted + dangling)}.
]]
local cutoff = tonumber(ARGV[3])
local dlv = ARGV[2]
local deleted, removed = 0, 0
local function drop_delivery(id, tenant)
  redis.call("del", dlv .. id, dlv .. id .. ":att")
  redis.call("zrem", dlv .. "due", id)
  if tenant then redis.call("zrem", dlv .. "dead:" .. tenant, id) end
end
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local t = redis.call("hmget", key, "status", "finished", "gen", "dlv", "tenant")
  if not t[1] then
    -- The record is gone (never written, or deleted): only the entry is left.
    redis.call("zrem", KEYS[1], id)
    removed = removed + 1
  elseif (t[1] == "completed" or t[1] == "failed" or t[1] == "cancelled") and tonumber(t[2] or "") and tonumber(t[2]) < cutoff then
    for g = 1, tonumber(t[3] or "1") or 1 do drop_delivery(id .. "." .. g, t[5]) end
    if t[4] and t[4] ~= "" then drop_delivery(t[4], t[5]) end
    redis.call("del", key)
    redis.call("zrem", KEYS[1], id)
    deleted = deleted + 1
    removed = removed + 1
  end
end
return {deleted, removed}
