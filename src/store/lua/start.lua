--[[
Marks a task as running, unless it already has an outcome.
KEYS[1] task hash
ARGV[1] now (epoch ms)
ARGV[2] how many lost workers a task may survive (TASK_MAX_LOST)

Returns {verdict, fields...}:
  {"missing"}                          no record (expired or never written)
  {"done", status}                     already terminal: a re-run after a crash between outcome and ack
  {"lost", lost, field, value, ...}    found `running` too many times: caller fails it with worker_lost
  {"cancel", field, value, ...}        cancelled while queued or lost: caller ends it as cancelled
  {"run", field, value, ...}           now running; the flattened record follows
A record found in `running` means the previous run's worker died without an
outcome (bee-queue re-queued the stalled job), so `lost` grows by one.
]]
local status = redis.call("hget", KEYS[1], "status")
if not status then return {"missing"} end
if status == "completed" or status == "failed" or status == "cancelled" then
  return {"done", status}
end
if redis.call("hexists", KEYS[1], "cancel") == 1 then
  local out = {"cancel"}
  for _, v in ipairs(redis.call("hgetall", KEYS[1])) do out[#out + 1] = v end
  return out
end
if status == "running" then
  local lost = redis.call("hincrby", KEYS[1], "lost", 1)
  if lost > tonumber(ARGV[2]) then
    local out = {"lost"}
    for _, v in ipairs(redis.call("hgetall", KEYS[1])) do out[#out + 1] = v end
    return out
  end
end
redis.call("hincrby", KEYS[1], "runs", 1)
redis.call("hset", KEYS[1], "status", "running", "started", ARGV[1])
local out = {"run"}
for _, v in ipairs(redis.call("hgetall", KEYS[1])) do out[#out + 1] = v end
return out
