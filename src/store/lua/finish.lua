--[[
Writes a task's final outcome and its deliveries (the task callback and one
per matching subscription) in one step: either all exist or none does. The
caller claims the deliveries it asks for (due = lease end) and sends them at
once; the others are due now for any dispatcher. In the same step it
acknowledges the task's bee-queue job (as bee-queue's own acknowledgement of
a finished job does), so no crash can leave an outcome with its job still
active, and a finished task costs no round trip of its own to acknowledge.
KEYS[1] task hash
ARGV[1]  now (epoch ms)
ARGV[2]  status: completed | failed | cancelled
ARGV[3]  result JSON ("" when none)
ARGV[4]  error JSON ("" when none)
ARGV[5]  outcome generation the caller ran (stale callers are refused)
ARGV[6]  tenant
ARGV[7]  lease end (epoch ms)
ARGV[8]  delivery key prefix ("P:dlv:")
ARGV[9]  subscription key prefix ("P:wh:")
ARGV[10] id of the task callback delivery ("" when none)
ARGV[11] bee-queue key prefix ("P:bq:"): the job of the task's queue is acknowledged
ARGV[12] how many progress deliveries to close (M), then M ids
then     how many deliveries (N), then N × 9 values (see lib/add-deliveries.lua)

Returns {"ok", created ids...}, {"done"} (an outcome already exists), {"stale"} or {"missing"}.
Every answer but "missing" acknowledges the job: whoever wrote the outcome, the run is over.
]]
-- #include add-deliveries
local t = redis.call("hmget", KEYS[1], "status", "gen", "id", "queue", "type", "started", "cancel")
if not t[1] then return {"missing"} end
local bq = ARGV[11] .. (t[4] or "") .. ":"
redis.call("lrem", bq .. "active", 0, t[3])
redis.call("srem", bq .. "stalling", t[3])
redis.call("hdel", bq .. "jobs", t[3])
if t[1] == "completed" or t[1] == "failed" or t[1] == "cancelled" then return {"done"} end
if t[2] ~= ARGV[5] then return {"stale"} end

-- Every field the outcome sets, in one HSET.
local set = {"status", ARGV[2], "finished", ARGV[1]}
if ARGV[3] ~= "" then set[#set + 1] = "result"; set[#set + 1] = ARGV[3]; set[#set + 1] = "progress"; set[#set + 1] = "100" end
if ARGV[4] ~= "" then set[#set + 1] = "error"; set[#set + 1] = ARGV[4] end
if ARGV[10] ~= "" then set[#set + 1] = "dlv"; set[#set + 1] = ARGV[10] end
redis.call("hset", KEYS[1], unpack(set))
if t[7] then redis.call("hdel", KEYS[1], "cancel") end

-- No progress event may follow the terminal one: close the coalesced ones.
local m = tonumber(ARGV[12])
for i = 1, m do
  local id = ARGV[12 + i]
  local key = ARGV[8] .. id
  if redis.call("exists", key) == 1 then
    redis.call("hset", key, "final", "1", "dirty", "0")
    if redis.call("hget", key, "state") == "pending" then
      redis.call("hset", key, "state", "dropped")
      redis.call("zrem", ARGV[8] .. "due", id)
    end
  end
end

-- Per-minute counters for dashboards (kept two hours).
local now = tonumber(ARGV[1])
local stats = ARGV[8]:sub(1, -5) .. "stats:" .. math.floor(now / 60000)
redis.call("hincrby", stats, (t[4] or "") .. ":" .. ARGV[2], 1)
if t[6] and ARGV[2] ~= "cancelled" then
  local ms = now - tonumber(t[6])
  local bucket = "inf"
  for _, b in ipairs({10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}) do
    if ms <= b then bucket = tostring(b) break end
  end
  redis.call("hincrby", stats, "type:" .. (t[5] or "") .. ":n", 1)
  redis.call("hincrby", stats, "type:" .. (t[5] or "") .. ":le" .. bucket, 1)
end
redis.call("pexpire", stats, 7200000)

local at = 13 + m
local created = add_deliveries(at + 1, tonumber(ARGV[at]), ARGV[1], ARGV[7], ARGV[8], ARGV[9], ARGV[6], t[3])
local out = {"ok"}
for _, id in ipairs(created) do out[#out + 1] = id end
return out
