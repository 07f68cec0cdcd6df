--[[
Takes jobs of one bee-queue queue for a worker and starts their tasks, all in
one step: what bee-queue's own consumer does in a BRPOPLPUSH, an HGET and an
SREM per job, plus the task's start, for every free slot at once.
For each job: move it from `waiting` to `active` (RPOPLPUSH, as bee-queue's
BRPOPLPUSH does), keep it out of the stall check's `stalling` snapshot, and
mark its task running unless it already has an outcome.
KEYS[1] bee-queue waiting list
KEYS[2] bee-queue active list
KEYS[3] bee-queue stalling set
KEYS[4] bee-queue jobs hash
ARGV[1] how many jobs to take from `waiting`
ARGV[2] a job id the caller already moved to `active` itself (its blocking
        BRPOPLPUSH), started first; "" when none
ARGV[3] now (epoch ms)
ARGV[4] how many lost workers a task may survive (TASK_MAX_LOST)
ARGV[5] task key prefix ("P:task:")

Returns 4 values per job taken: job id, verdict, then
  "missing", ""                 no record (expired or never written): acknowledged here
  "done", status                already terminal (a re-run after a crash between
                                outcome and acknowledgement): acknowledged here
  "lost", record JSON, job JSON found `running` too many times: the caller fails it with worker_lost
  "cancel", record JSON, job    cancelled while queued or lost: the caller ends it as cancelled
  "run", record JSON, job JSON  now running
The record is one JSON object of the hash's fields (all strings): one reply
string for the worker to parse, instead of a reply array of every field and
value turned into an object in JavaScript. The job JSON is bee-queue's
(its options carry the task's own retries and backoff).
A record found `running` means the previous run's worker died without an
outcome (the stall check put its job back), so `lost` grows by one.
]]
local ids = {}
-- The moved job is started only while it is still active: a take that came
-- late (a retry after an error) may find that the stall check put it back.
if ARGV[2] ~= "" and redis.call("lpos", KEYS[2], ARGV[2]) then ids[1] = ARGV[2] end
for _ = 1, tonumber(ARGV[1]) do
  local id = redis.call("rpoplpush", KEYS[1], KEYS[2])
  if not id then break end
  ids[#ids + 1] = id
end
if #ids == 0 then return {} end
redis.call("srem", KEYS[3], unpack(ids))

local out = {}
local function reply(id, verdict, a, b)
  out[#out + 1] = id
  out[#out + 1] = verdict
  out[#out + 1] = a
  out[#out + 1] = b
end
-- As bee-queue's acknowledgement of a finished job (removeOnSuccess).
local function ack(id)
  redis.call("lrem", KEYS[2], 0, id)
  redis.call("hdel", KEYS[4], id)
end

for _, id in ipairs(ids) do
  local key = ARGV[5] .. id
  -- One read of the hash: status, cancel and the record all come from it,
  -- and the writes below are mirrored into it before it is returned.
  local flat = redis.call("hgetall", key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  local status = t.status
  if not status then
    ack(id)
    reply(id, "missing", "", "")
  elseif status == "completed" or status == "failed" or status == "cancelled" then
    ack(id)
    reply(id, "done", status, "")
  else
    local job = redis.call("hget", KEYS[4], id) or ""
    -- Every take of the job is a new claim on it: requeue.lua acts only for
    -- the current one, so a worker whose job was taken from it (it stalled, or
    -- its call is a resend) cannot move another worker's run.
    t.claim = tostring((tonumber(t.claim) or 0) + 1)
    if t.cancel ~= nil then
      redis.call("hset", key, "claim", t.claim)
      reply(id, "cancel", cjson.encode(t), job)
    else
      local verdict = "run"
      if status == "running" then
        t.lost = tostring((tonumber(t.lost) or 0) + 1)
        if tonumber(t.lost) > tonumber(ARGV[4]) then verdict = "lost" end
      end
      if verdict == "run" then
        -- Counted from the values just read (the script is atomic), so one
        -- HSET writes every field.
        t.runs = tostring((tonumber(t.runs) or 0) + 1)
        t.status = "running"
        t.started = ARGV[3]
        redis.call("hset", key, "status", "running", "started", ARGV[3], "runs", t.runs, "lost", t.lost or "0", "claim", t.claim)
      else
        redis.call("hset", key, "lost", t.lost, "claim", t.claim)
      end
      reply(id, verdict, cjson.encode(t), job)
    end
  end
end
return out
