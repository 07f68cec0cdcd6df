--[[
Resends a delivery: a new attempt sequence of the same event (same msg, so
the same webhook-id). Attempt numbers restart at 1; earlier attempt records
stay (`att:N` in the hash) with their own numbers.
Refused for a `webhook.test` delivery (a test is sent once, from the API,
and is never a dead letter) and for a `task.progress` delivery whose task
has finished (`final`, or `dropped`): no progress event follows the
terminal one.
KEYS[1] delivery hash
KEYS[2] due sorted set
KEYS[3] the tenant's dead letters (P:dlv:dead:{tenant})
ARGV[1] delivery id
ARGV[2] now (epoch ms)
ARGV[3] tenant (a delivery of another tenant is "missing")
Returns "ok", "missing", "delivering" (an attempt is in flight: refused),
"test_event" or "progress_closed" (refused, see above).
]]
local d = redis.call("hmget", KEYS[1], "state", "tenant", "event", "final")
if not d[1] or d[2] ~= ARGV[3] then return "missing" end
if d[1] == "delivering" then return "delivering" end
if d[3] == "webhook.test" then return "test_event" end
if d[3] == "task.progress" and (d[4] == "1" or d[1] == "dropped") then return "progress_closed" end
redis.call("hset", KEYS[1], "state", "pending", "n", "0", "next", ARGV[2])
redis.call("hdel", KEYS[1], "done")
redis.call("zrem", KEYS[3], ARGV[1])
redis.call("zadd", KEYS[2], ARGV[2], ARGV[1])
return "ok"
