--[[
Queues tasks in one atomic step: for each task, its record, its entry in the
tenant's index and its bee-queue job, so a process killed mid-submit leaves
either all of a task or none of it (never a record without a job).
One call carries every submit request an API process received in one turn
of its event loop (src/store/tick-batch.ts); each request is handled as a
call of its own would be, and the whole call is one atomic step.
The job is written exactly as bee-queue's own addJob.lua / addDelayedJob.lua
do (job JSON built by bee-queue's Job#toData in the caller).
ARGV[1] task key prefix ("P:task:")
ARGV[2] bee-queue key prefix ("P:bq:")
ARGV[3] F: how many record fields, then the F field names: every task's
        record values below come in this order (names are sent once per call)
then    R: how many requests, then per request:
        tenant index key ("P:tasks:t:{tenant}"), now (epoch ms), N: how many tasks,
        whether an Idempotency-Key claim follows ("1" or "0"): the claim to
        complete, its token, and the answer to store in it: status, response
        JSON, Location, TTL (ms);
        then per task: id, queue, job JSON, delay until (epoch ms, "" = none), F values
Returns R numbers: the tasks each request queued, or -1 for a request whose
claim is no longer its own (its lock expired, and the key may be another
request's now): that request queues nothing.
]]
local nf = tonumber(ARGV[3])
local names = {}
for j = 1, nf do names[j] = ARGV[3 + j] end
local at = 4 + nf
local requests = tonumber(ARGV[at])
at = at + 1
local out = {}
local fields = {}
for j = 1, nf do fields[2 * j - 1] = names[j] end

-- Writes `count` tasks from ARGV[at] on: record, index entry, bee-queue job.
-- Ids are new random UUIDs, so a record that exists already means this call
-- is ioredis resending a script whose reply a dropped connection lost: the
-- task may have run since, and writing it again would reset its record and
-- queue it a second time.
local function queue_tasks(index, now, count)
  for _ = 1, count do
    local id, queue, job, delay = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
    for j = 1, nf do fields[2 * j] = ARGV[at + 3 + j] end
    at = at + 4 + nf
    if redis.call("exists", ARGV[1] .. id) == 0 then
      redis.call("hset", ARGV[1] .. id, unpack(fields))
      redis.call("zadd", index, now, id)
      local bq = ARGV[2] .. queue .. ":"
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
  end
end

for r = 1, requests do
  local index, now, count, claimed = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]), ARGV[at + 3] == "1"
  at = at + 4
  local idem
  if claimed then
    idem = {ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]}
    at = at + 6
  end
  if idem and redis.call("hget", idem[1], "token") ~= idem[2] then
    -- Fenced by the claim's token: a request that outlived its lock queues
    -- nothing, since a retry may have taken the key over and queued the same tasks.
    at = at + count * (4 + nf)
    out[r] = -1
  else
    queue_tasks(index, now, count)
    -- The answer is stored with the tasks it describes, in the same step: a
    -- client that retries after a lost reply (a timeout, or an API process
    -- killed before it answered) gets this answer replayed, not a second task.
    if idem then
      redis.call("hset", idem[1], "state", "done", "status", idem[3], "response", idem[4], "location", idem[5])
      redis.call("pexpire", idem[1], idem[6])
    end
    out[r] = count
  end
end
return out
