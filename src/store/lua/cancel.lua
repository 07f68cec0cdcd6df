--[[
Asks for a task to be cancelled: sets its `cancel` flag. A queued task is then
finished as cancelled by the caller (or by the worker that picks it up first:
whoever writes the outcome first wins, see finish.lua); a running one is
stopped by its worker, which a PUBLISH on the cancel channel tells (message:
`{task id}:{gen}`, the generation that runs).
KEYS[1] task hash
ARGV[1] cancel channel
ARGV[2] task id
Returns the status the task had: queued | running | completed | failed | cancelled, or "missing".
]]
local t = redis.call("hmget", KEYS[1], "status", "gen")
local status = t[1]
if not status then return "missing" end
if status == "queued" or status == "running" then
  redis.call("hset", KEYS[1], "cancel", "1")
  -- The run's generation rides along: a worker tells this run's cancel from
  -- one for an earlier run of the task (before an API retry) without a clock.
  if status == "running" then redis.call("publish", ARGV[1], ARGV[2] .. ":" .. (t[2] or "1")) end
end
return status
