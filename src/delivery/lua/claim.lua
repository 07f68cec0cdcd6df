--[[
Claims deliveries that are due: moves each one's due time to the end of a
lease so no other process attempts it meanwhile, and fences the claim: the
delivery's `lease` field counts its claims, and the new count is this claim's
token. record.lua and release.lua act only for the token's holder, so a
process that kept a delivery past its lease cannot undo or overwrite what the
next holder does. A process that dies mid-attempt simply lets its lease run out.
A delivery created already claimed (lib/add-deliveries.lua) has no `lease`
field: token 0, its creator's.
KEYS[1] due sorted set
ARGV[1] now (epoch ms)
ARGV[2] lease (ms)
ARGV[3] most to claim
ARGV[4] delivery key prefix ("P:dlv:")
Returns a flat list: id, url, body, msg, n, secret, event, task, sub, trace, lease token, per claimed delivery.
]]
local ids = redis.call("zrangebyscore", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[3]))
local out = {}
local leaseEnd = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(ids) do
  local key = ARGV[4] .. id
  local d = redis.call("hmget", key, "url", "body", "msg", "n", "secret", "event", "task", "sub", "trace", "state", "lease", "final")
  if not d[1] or d[10] == "delivered" or d[10] == "failed" or d[10] == "dropped" then
    -- Orphan or already finished (e.g. a resend raced a success): drop it.
    redis.call("zrem", KEYS[1], id)
  elseif d[6] == "task.progress" and d[12] == "1" then
    -- Its task has finished (finish.lua): no progress event may follow the
    -- terminal one, whatever left it due (a holder that died, a retry).
    redis.call("hset", key, "state", "dropped", "dirty", "0")
    redis.call("zrem", KEYS[1], id)
  else
    local token = (tonumber(d[11]) or 0) + 1
    redis.call("zadd", KEYS[1], leaseEnd, id)
    redis.call("hset", key, "state", "delivering", "lease", token)
    out[#out + 1] = id
    for i = 1, 7 do out[#out + 1] = d[i] end
    out[#out + 1] = d[8] or ""
    out[#out + 1] = d[9] or ""
    out[#out + 1] = token
  end
end
return out
