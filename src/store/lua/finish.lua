--[[
Writes a task's final outcome and, when it has a callback URL, its durable
delivery, in one step: either both exist or neither does. The caller claims
the delivery (due = lease end) so it can send it at once.
KEYS[1] task hash
KEYS[2] delivery hash
KEYS[3] due sorted set
ARGV[1]  now (epoch ms)
ARGV[2]  status: completed | failed | cancelled
ARGV[3]  result JSON ("" when none)
ARGV[4]  error JSON ("" when none)
ARGV[5]  outcome generation the caller ran (stale callers are refused)
ARGV[6]  delivery id ("" when the task has no callback)
ARGV[7]  callback URL
ARGV[8]  body: the exact JSON bytes to send
ARGV[9]  webhook-id
ARGV[10] event name
ARGV[11] lease end (epoch ms): nobody else attempts it before then
ARGV[12] tenant

Returns "ok", "done" (an outcome already exists), "stale" (generation moved on) or "missing".
]]
local t = redis.call("hmget", KEYS[1], "status", "gen")
if not t[1] then return "missing" end
if t[1] == "completed" or t[1] == "failed" or t[1] == "cancelled" then return "done" end
if t[2] ~= ARGV[5] then return "stale" end

redis.call("hset", KEYS[1], "status", ARGV[2], "finished", ARGV[1])
if ARGV[3] ~= "" then redis.call("hset", KEYS[1], "result", ARGV[3], "progress", "100") end
if ARGV[4] ~= "" then redis.call("hset", KEYS[1], "error", ARGV[4]) end

if ARGV[6] ~= "" and redis.call("exists", KEYS[2]) == 0 then
  redis.call("hset", KEYS[1], "dlv", ARGV[6])
  redis.call("hset", KEYS[2],
    "id", ARGV[6], "task", redis.call("hget", KEYS[1], "id"), "tenant", ARGV[12],
    "url", ARGV[7], "body", ARGV[8], "msg", ARGV[9], "event", ARGV[10],
    "state", "delivering", "n", "0", "created", ARGV[1], "next", ARGV[1], "secret", "default")
  redis.call("zadd", KEYS[3], ARGV[11], ARGV[6])
end
return "ok"
