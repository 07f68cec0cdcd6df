--[[
Asks for a task to be cancelled: sets its `cancel` flag. A queued task is then
finished as cancelled by the caller (or by the worker that picks it up first:
whoever writes the outcome first wins, see finish.lua); a running one is
stopped by its worker, which a PUBLISH on the cancel channel tells.
KEYS[1] task hash
ARGV[1] cancel channel
ARGV[2] task id
Returns the status the task had: queued | running | completed | failed | cancelled, or "missing".
]]
local status = redis.call("hget", KEYS[1], "status")
if not status then return "missing" end
if status == "queued" or status == "running" then
  redis.call("hset", KEYS[1], "cancel", "1")
  if status == "running" then redis.call("publish", ARGV[1], ARGV[2]) end
end
return status
