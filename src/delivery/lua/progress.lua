--[[
Coalesces `task.progress` events: one delivery per task and endpoint, whose
body is replaced by the latest value. It is sent at most once per interval;
a value that arrives while one is in flight is sent after it.
KEYS[1] task hash
KEYS[2] the progress delivery hash
ARGV[1] now, ARGV[2] interval (ms), ARGV[3] delivery key prefix, ARGV[4] subscription key prefix, ARGV[5] tenant
ARGV[6] delivery id, ARGV[7] url, ARGV[8] body, ARGV[9] msg, ARGV[10] secret, ARGV[11] sub
Returns 1 when the event will be sent, 0 when the task has finished.
]]
local t = redis.call("hmget", KEYS[1], "status", "id")
if t[1] ~= "running" then return 0 end
local d = redis.call("hmget", KEYS[2], "state", "final", "last_sent")
if d[2] == "1" then return 0 end
local now = tonumber(ARGV[1])
redis.call("hset", KEYS[2], "id", ARGV[6], "task", t[2], "tenant", ARGV[5], "url", ARGV[7], "body", ARGV[8],
  "msg", ARGV[9], "event", "task.progress", "secret", ARGV[10], "sub", ARGV[11])
if not d[1] then
  redis.call("hset", KEYS[2], "created", now, "n", "0")
  redis.call("zadd", ARGV[4] .. ARGV[11] .. ":dlv", now, ARGV[6])
  redis.call("hincrby", ARGV[4] .. ARGV[11] .. ":stats", "total", 1)
end
if d[1] == "delivering" then
  redis.call("hset", KEYS[2], "dirty", "1")
  return 1
end
local due = math.max(now, (tonumber(d[3]) or 0) + tonumber(ARGV[2]))
local queued = redis.call("zscore", ARGV[3] .. "due", ARGV[6])
redis.call("hset", KEYS[2], "state", "pending", "n", "0", "next", due)
if not queued then redis.call("zadd", ARGV[3] .. "due", due, ARGV[6]) end
return 1
