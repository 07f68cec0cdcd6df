--[[
Puts a job a worker holds back in line, and its task back to `queued`, in one
step. Four cases:
- "handback": the worker is shutting down. The job goes to the front of
  `waiting` (bee-queue pops from the right), so it is the next one taken.
- "retry": the run failed and the task has retries left (its own `retries`
  option). The job is rewritten (bee-queue's format, one retry fewer) and
  waits its backoff in `delayed`, as bee-queue's own retry does; the record
  keeps the error as `last_error`.
- "pause": the worker could not settle the run (a fault: its outcome could
  not be written). The job is rewritten and waits in `delayed`; the record is
  left as it is (`running`), so the next run counts this one as lost.
- "untaken": a job the worker took (or its blocking wait moved) but never
  started, as it stopped. It goes to the front of `waiting`, record untouched,
  unless the task is `running`: then it is someone else's run, or a lost one
  that the stall check puts back.
The first three act only for the caller's claim (ARGV[8], the record's `claim`
as take.lua returned it; every take counts one): a stale call, e.g. one
ioredis sent again after a reconnect while another worker had already taken
the job, or one from a worker that stalled while another took its job,
changes nothing.
And a job moves only while it is still `active`: one that the stall check
already put back, or that a cancel removed, belongs to someone else now.
KEYS[1] task hash
ARGV[1] task id (= job id)
ARGV[2] bee-queue key prefix of the task's queue ("P:bq:{queue}:")
ARGV[3] "handback" | "retry" | "pause" | "untaken"
ARGV[4] last error JSON ("" = none)
ARGV[5] now (epoch ms): the task's `queued` time, from which its queue wait counts
ARGV[6] job JSON (retry, pause)
ARGV[7] when the job may run again (epoch ms; retry, pause); now or earlier = at once
ARGV[8] the caller's claim (handback, retry, pause)
Returns {record requeued (1/0: it was this claim's and running), job moved (1/0)}.
]]
local id, bq, how = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call("hmget", KEYS[1], "status", "claim")
if how == "untaken" then
  if t[1] == "running" then return {0, 0} end
elseif (t[2] or "") ~= ARGV[8] then
  return {0, 0}
end
local requeued = 0
if (how == "handback" or how == "retry") and t[1] == "running" then
  requeued = 1
  if ARGV[4] ~= "" then
    redis.call("hset", KEYS[1], "status", "queued", "queued", ARGV[5], "last_error", ARGV[4])
  else
    redis.call("hset", KEYS[1], "status", "queued", "queued", ARGV[5])
  end
end
local moved = 0
if redis.call("lrem", bq .. "active", 0, id) > 0 then
  moved = 1
  redis.call("srem", bq .. "stalling", id)
  if how == "handback" or how == "untaken" then
    redis.call("rpush", bq .. "waiting", id)
  else
    redis.call("hset", bq .. "jobs", id, ARGV[6])
    local at = tonumber(ARGV[7])
    if at > tonumber(ARGV[5]) then
      -- As bee-queue's retry: the delay timers of every worker hear of a new due time.
      redis.call("zadd", bq .. "delayed", at, id)
      redis.call("publish", bq .. "earlierDelayed", ARGV[7])
    else
      redis.call("lpush", bq .. "waiting", id)
    end
  end
end
return {requeued, moved}
