--[[
Makes a failed or cancelled task run again under the same id, in one step:
a new outcome generation (so its callback is a new delivery with a new
webhook-id), status queued, and its bee-queue job — so a failure can never
leave a queued task without a job.
KEYS[1] task hash
KEYS[2] bee-queue jobs hash   ("P:bq:{queue}:jobs")
KEYS[3] bee-queue waiting list
KEYS[4] bee-queue active list
ARGV[1] task id (= job id)
ARGV[2] job JSON (bee-queue's Job#toData)
ARGV[3] now (epoch ms): the task's new `queued` time, where its queue wait starts
Returns the new generation; or "busy" when the previous run's job is still
being acknowledged (nothing changed: try again shortly); or the status that
forbids a retry ("missing", "queued", "running", "completed").
]]
local t = redis.call("hmget", KEYS[1], "status", "gen")
if not t[1] then return "missing" end
if t[1] ~= "failed" and t[1] ~= "cancelled" then return t[1] end
if redis.call("hexists", KEYS[2], ARGV[1]) == 1 then
  -- Active: its ack is about to delete the job hash, which would orphan ours.
  if redis.call("lpos", KEYS[4], ARGV[1]) then return "busy" end
  -- Waiting or delayed (e.g. cancelled before it ran): that job runs the new generation.
else
  redis.call("hset", KEYS[2], ARGV[1], ARGV[2])
  redis.call("lpush", KEYS[3], ARGV[1])
end
local gen = tonumber(t[2] or "1") + 1
redis.call("hset", KEYS[1], "status", "queued", "gen", gen, "progress", "0", "lost", "0", "queued", ARGV[3])
redis.call("hdel", KEYS[1], "result", "error", "finished", "started", "dlv", "cancel", "last_error")
return tostring(gen)
