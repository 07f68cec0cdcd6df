--[[
Records one attempt and moves the delivery on: delivered, failed (gave up:
a dead letter), or back to pending until its next attempt. For subscription
deliveries it also keeps the endpoint's stats and health: 410 Gone disables
the subscription at once, and so does failing with no success for longer
than the disable window.
Fenced: only the holder of the current claim (state `delivering`, `lease` =
its token, see claim.lua) moves the delivery on. A stale attempt (its lease
ran out and another process claimed the delivery, or it was settled
meanwhile) is appended to the attempts list, so what the receiver saw stays
visible, and changes nothing else: no state, due time, attempt counter,
counters or endpoint health.
A `task.progress` delivery whose task has finished (`final`, set by
finish.lua) is not retried: a retry would follow the terminal event.
KEYS[1] delivery hash
KEYS[2] attempts list
ARGV[1]  delivery id
ARGV[2]  attempt JSON
ARGV[3]  attempt number
ARGV[4]  outcome: delivered | retry | failed | blocked
ARGV[5]  next attempt (epoch ms; for retry)
ARGV[6]  now (epoch ms)
ARGV[7]  HTTP status of the attempt (0 = none)
ARGV[8]  delivery key prefix ("P:dlv:")
ARGV[9]  subscription key prefix ("P:wh:")
ARGV[10] disable window (ms)
ARGV[11] progress interval (ms)
ARGV[12] duration of the attempt (ms)
ARGV[13] the attempt's lease token (0 = the claim made when the delivery was created)
Returns the delivery's state after the update, "stale" (recorded, nothing
changed) or "missing".
]]
-- Every delivery hash has a state: none means no delivery.
local d = redis.call("hmget", KEYS[1], "state", "sub", "tenant", "event", "dirty", "final", "lease")
if not d[1] then return "missing" end
redis.call("rpush", KEYS[2], ARGV[2])
if d[1] ~= "delivering" or (d[7] or "0") ~= ARGV[13] then return "stale" end
local id, now, outcome = ARGV[1], ARGV[6], ARGV[4]
local due = ARGV[8] .. "due"
local sub = d[2] or ""
local wh = ARGV[9] .. sub

local state
if outcome == "delivered" then
  state = "delivered"
  redis.call("hset", KEYS[1], "n", ARGV[3], "state", state, "done", now)
  redis.call("zrem", due, id)
elseif outcome == "retry" and d[4] == "task.progress" and d[6] == "1" then
  state = "dropped"
  redis.call("hset", KEYS[1], "n", ARGV[3], "state", state, "dirty", "0")
  redis.call("zrem", due, id)
elseif outcome == "retry" then
  state = "pending"
  redis.call("hset", KEYS[1], "n", ARGV[3], "state", state, "next", ARGV[5])
  redis.call("zadd", due, ARGV[5], id)
else
  state = "failed"
  redis.call("hset", KEYS[1], "n", ARGV[3], "state", state, "done", now)
  redis.call("zrem", due, id)
  redis.call("zadd", ARGV[8] .. "dead:" .. (d[3] or ""), now, id)
end

-- Per-minute delivery counters for dashboards (kept two hours).
local stats = ARGV[8]:sub(1, -5) .. "stats:" .. math.floor(tonumber(now) / 60000)
redis.call("hincrby", stats, "cb:" .. outcome, 1)
redis.call("pexpire", stats, 7200000)

-- Coalesced progress: a newer value that arrived meanwhile goes out next,
-- unless the task has finished.
if d[4] == "task.progress" and state ~= "pending" then
  redis.call("hset", KEYS[1], "last_sent", now)
  if d[5] == "1" and d[6] ~= "1" then
    local at = tonumber(now) + tonumber(ARGV[11])
    redis.call("hset", KEYS[1], "state", "pending", "dirty", "0", "n", "0", "next", at)
    redis.call("zadd", due, at, id)
    state = "pending"
  end
end

if sub ~= "" and redis.call("exists", wh) == 1 then
  local stats = wh .. ":stats"
  if outcome == "delivered" then
    redis.call("hincrby", stats, "succeeded", 1)
    redis.call("hset", stats, "last_success", now)
    redis.call("lpush", wh .. ":lat", ARGV[12])
    redis.call("ltrim", wh .. ":lat", 0, 999)
    redis.call("hset", wh, "failing_since", "")
  else
    if state == "failed" then redis.call("hincrby", stats, "failed", 1) end
    redis.call("hset", stats, "last_failure", now)
    local since = redis.call("hget", wh, "failing_since")
    if not since or since == "" then
      since = now
      redis.call("hset", wh, "failing_since", now)
    end
    local reason = nil
    if ARGV[7] == "410" then
      reason = "endpoint answered 410 Gone"
    elseif tonumber(now) - tonumber(since) > tonumber(ARGV[10]) then
      reason = "no successful delivery for longer than the disable window"
    end
    if reason and redis.call("hget", wh, "active") == "1" then
      redis.call("hset", wh, "active", "0", "disabled_reason", reason, "disabled_at", now, "updated", now)
    end
  end
end
return state
