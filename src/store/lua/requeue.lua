--[[
Puts a running task back to `queued`: its attempt failed and bee-queue will
retry it, or the worker is shutting down and hands it back.
KEYS[1] task hash
KEYS[2] bee-queue active list ("" = leave the job where it is)
KEYS[3] bee-queue waiting list
ARGV[1] task id (= job id)
ARGV[2] last error JSON ("" = none)
ARGV[3] now (epoch ms): the task's `queued` time, from which its queue wait counts
Returns 1 when requeued, 0 when the task was not running.
]]
if redis.call("hget", KEYS[1], "status") ~= "running" then return 0 end
redis.call("hset", KEYS[1], "status", "queued", "queued", ARGV[3])
if ARGV[2] ~= "" then redis.call("hset", KEYS[1], "last_error", ARGV[2]) end
if KEYS[2] ~= "" and redis.call("lrem", KEYS[2], 0, ARGV[1]) > 0 then
  -- rpush: bee-queue pops from the right, so the job is the next one taken.
  redis.call("rpush", KEYS[3], ARGV[1])
end
return 1
