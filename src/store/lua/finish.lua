--[[
Writes tasks' final outcomes and their deliveries (the task callback and one
per matching subscription), each in one step with its own: either all of an
outcome's writes exist or none does. The caller claims the deliveries it asks
for (due = lease end) and sends them at once; the others are due now for any
dispatcher. In the same step it acknowledges the task's bee-queue job (as
bee-queue's own acknowledgement of a finished job does), so no crash can leave
an outcome with its job still active, and a finished task costs no round trip
of its own to acknowledge.
One call carries every outcome a process reached in one turn of its event
loop (src/store/tick-batch.ts); each is written as a call of its own would
write it.
ARGV[1] now (epoch ms)
ARGV[2] task key prefix ("P:task:")
ARGV[3] delivery key prefix ("P:dlv:")
ARGV[4] subscription key prefix ("P:wh:")
ARGV[5] bee-queue key prefix ("P:bq:"): the job of each task's queue is acknowledged
ARGV[6] how many outcomes (T), then per outcome:
        task id, status (completed | failed | cancelled), result JSON ("" when none),
        error JSON ("" when none), the outcome generation the caller ran (stale callers
        are refused), tenant, lease end (epoch ms), id of the task callback delivery
        ("" when none), how many progress deliveries to close (M), then M ids,
        how many deliveries (N), then N × 9 values (see lib/add-deliveries.lua)

Returns, per outcome: {"ok", created ids...}, {"done"} (an outcome already
exists), {"stale"} (the task runs a newer generation) or {"missing"}. "ok" and
"done" acknowledge the job: whoever wrote the outcome, the run is over. A
stale caller's job is left alone: it is the newer generation's.
]]
-- #include add-deliveries
-- #include minute-stats
local now, dlv = ARGV[1], ARGV[3]
local nowMs = tonumber(now)
local buckets = {10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}
-- Per-minute counters for dashboards, summed over the call and written once.
local counts = {}
local function count(field) counts[field] = (counts[field] or 0) + 1 end

local function finish(at)
  local id, status, result, err, gen, tenant, lease, callback =
    ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], ARGV[at + 6], ARGV[at + 7]
  local m = tonumber(ARGV[at + 8])
  local n = tonumber(ARGV[at + 9 + m])
  local nextAt = at + 10 + m + n * 9
  local key = ARGV[2] .. id
  local t = redis.call("hmget", key, "status", "gen", "id", "queue", "type", "started", "cancel")
  if not t[1] then return {"missing"}, nextAt end
  local terminal = t[1] == "completed" or t[1] == "failed" or t[1] == "cancelled"
  -- A stale caller's job is no longer its own: the stall check took it back,
  -- and the job of that id now belongs to the task's newer generation.
  if not terminal and t[2] ~= gen then return {"stale"}, nextAt end
  local bq = ARGV[5] .. (t[4] or "") .. ":"
  redis.call("lrem", bq .. "active", 0, t[3])
  redis.call("srem", bq .. "stalling", t[3])
  redis.call("hdel", bq .. "jobs", t[3])
  if terminal then return {"done"}, nextAt end

  -- Every field the outcome sets, in one HSET.
  local set = {"status", status, "finished", now}
  if result ~= "" then set[#set + 1] = "result"; set[#set + 1] = result; set[#set + 1] = "progress"; set[#set + 1] = "100" end
  if err ~= "" then set[#set + 1] = "error"; set[#set + 1] = err end
  if callback ~= "" then set[#set + 1] = "dlv"; set[#set + 1] = callback end
  redis.call("hset", key, unpack(set))
  if t[7] then redis.call("hdel", key, "cancel") end

  -- No progress event may follow the terminal one: close the coalesced ones.
  for i = 1, m do
    local pid = ARGV[at + 8 + i]
    local pkey = dlv .. pid
    if redis.call("exists", pkey) == 1 then
      redis.call("hset", pkey, "final", "1", "dirty", "0")
      if redis.call("hget", pkey, "state") == "pending" then
        redis.call("hset", pkey, "state", "dropped")
        redis.call("zrem", dlv .. "due", pid)
      end
    end
  end

  count((t[4] or "") .. ":" .. status)
  if t[6] and status ~= "cancelled" then
    local ms = nowMs - tonumber(t[6])
    local bucket = "inf"
    for _, b in ipairs(buckets) do
      if ms <= b then bucket = tostring(b) break end
    end
    count("type:" .. (t[5] or "") .. ":n")
    count("type:" .. (t[5] or "") .. ":le" .. bucket)
  end

  local created = add_deliveries(at + 10 + m, n, now, lease, dlv, ARGV[4], tenant, t[3])
  local out = {"ok"}
  for _, cid in ipairs(created) do out[#out + 1] = cid end
  return out, nextAt
end

local out = {}
local at = 7
for i = 1, tonumber(ARGV[6]) do
  out[i], at = finish(at)
end

add_minute_stats(dlv, nowMs, counts)
return out
