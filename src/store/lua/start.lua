--[[
Marks a task as running, unless it already has an outcome.
KEYS[1] task hash
ARGV[1] now (epoch ms)
ARGV[2] how many lost workers a task may survive (TASK_MAX_LOST)

Returns {verdict, record}:
  {"missing"}                 no record (expired or never written)
  {"done", status}            already terminal: a re-run after a crash between outcome and ack
  {"lost", record JSON}       found `running` too many times: caller fails it with worker_lost
  {"cancel", record JSON}     cancelled while queued or lost: caller ends it as cancelled
  {"run", record JSON}        now running
The record is one JSON object of the hash's fields (all strings): one reply
string for the worker to parse, instead of a reply array of every field and
value turned into an object in JavaScript.
A record found in `running` means the previous run's worker died without an
outcome (bee-queue re-queued the stalled job), so `lost` grows by one.
]]
-- One read of the hash: status, cancel and the record all come from it, and
-- the writes below are mirrored into it before it is returned.
local flat = redis.call("hgetall", KEYS[1])
local t = {}
for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end

local status = t.status
if not status then return {"missing"} end
if status == "completed" or status == "failed" or status == "cancelled" then
  return {"done", status}
end
if t.cancel ~= nil then return {"cancel", cjson.encode(t)} end
if status == "running" then
  t.lost = tostring(redis.call("hincrby", KEYS[1], "lost", 1))
  if tonumber(t.lost) > tonumber(ARGV[2]) then return {"lost", cjson.encode(t)} end
end
-- runs is counted from the value just read (the script is atomic), so one
-- HSET writes all three fields.
t.runs = tostring((tonumber(t.runs) or 0) + 1)
t.status = "running"
t.started = ARGV[1]
redis.call("hset", KEYS[1], "status", "running", "started", ARGV[1], "runs", t.runs)
return {"run", cjson.encode(t)}
