--[[
Queues tasks in one atomic step: for each task, its record, its entry in the
tenant's index and its bee-queue job, so a process killed mid-submit leaves
either all of a task or none of it (never a record without a job).
The job is written exactly as bee-queue's own addJob.lua / addDelayedJob.lua
do (job JSON built by bee-queue's Job#toData in the caller).
ARGV[1] task key prefix ("P:task:")
ARGV[2] tenant index key ("P:tasks:t:{tenant}")
ARGV[3] bee-queue key prefix ("P:bq:")
ARGV[4] now (epoch ms)
ARGV[5] how many tasks, then per task:
        id, queue, job JSON, delay until (epoch ms, "" = none), N (number of record fields × 2), N values
then    optionally, the Idempotency-Key claim to complete, its token, and the answer
        to store in it: status, response JSON, Location, TTL (ms)
Returns the number of tasks queued.
]]
local at = 6
local count = tonumber(ARGV[5])
for _ = 1, count do
  local id, queue, job, delay, n = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4])
  local fields = {}
  for j = 1, n do fields[j] = ARGV[at + 4 + j] end
  at = at + 5 + n
  redis.call("hset", ARGV[1] .. id, unpack(fields))
  redis.call("zadd", ARGV[2], ARGV[4], id)
  local bq = ARGV[3] .. queue .. ":"
  if redis.call("hsetnx", bq .. "jobs", id, job) == 1 then
    if delay == "" then
      redis.call("lpush", bq .. "waiting", id)
    else
      redis.call("zadd", bq .. "delayed", tonumber(delay), id)
      -- As addDelayedJob.lua: a new head wakes the workers' delay timers.
      local head = redis.call("zrange", bq .. "delayed", 0, 0)
      if head[1] == id then redis.call("publish", bq .. "earlierDelayed", delay) end
    end
  end
end
-- The answer is stored with the tasks it describes, in the same step: a client
-- that retries after a lost reply (a timeout, or an API process killed before
-- it answered) gets this answer replayed instead of a second task. Only while
-- the claim is still ours: an expired claim may belong to another request now.
local idem = ARGV[at]
if idem and redis.call("hget", idem, "token") == ARGV[at + 1] then
  redis.call("hset", idem, "state", "done", "status", ARGV[at + 2], "response", ARGV[at + 3], "location", ARGV[at + 4])
  redis.call("pexpire", idem, ARGV[at + 5])
end
return count
