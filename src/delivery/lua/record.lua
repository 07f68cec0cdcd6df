--[[
Records attempts and moves each delivery on: delivered, failed (gave up:
a dead letter), or back to pending until its next attempt. For subscription
deliveries it also keeps the endpoint's stats and health: 410 Gone disables
the subscription at once, and so does failing with no success for longer
than the disable window.
One call carries every attempt a process finished in one turn of its event
loop (src/store/tick-batch.ts); each is recorded as a call of its own would
record it.
Fenced: only the holder of the current claim (state `delivering`, `lease` =
its token, see claim.lua) moves the delivery on. A stale attempt (its lease
ran out and another process claimed the delivery, or it was settled
meanwhile) is recorded too, so what the receiver saw stays visible, and
changes nothing else: no state, due time, attempt counter, counters or
endpoint health.
Attempt records live in the delivery's own hash: `att` counts them and
`att:1` … `att:{att}` hold them, oldest first, written with the HSET that
moves the delivery on. (Before, each went to a list key of its own,
`{id}:att`: a key and a command more per delivery. Readers still read that
list for the deliveries it holds: src/store/fields.ts, attemptRecords.)
A `task.progress` delivery whose task has finished (`final`, set by
finish.lua) is not retried: a retry would follow the terminal event.
ARGV[1] now (epoch ms)
ARGV[2] delivery key prefix ("P:dlv:"): a delivery's hash is prefix .. id
ARGV[3] subscription key prefix ("P:wh:")
ARGV[4] disable window (ms)
ARGV[5] progress interval (ms)
ARGV[6] how many attempts (N), then N × 8 values:
        delivery id, attempt JSON, attempt number,
        outcome (delivered | retry | failed | blocked), next attempt (epoch ms; for retry),
        HTTP status of the attempt (0 = none), duration of the attempt (ms),
        the attempt's lease token (0 = the claim made when the delivery was created)
Returns, per attempt, the delivery's state after the update, "stale"
(recorded, nothing changed) or "missing".
]]
-- #include minute-stats
local now, prefix, whp = ARGV[1], ARGV[2], ARGV[3]
local due = prefix .. "due"
-- Per-minute delivery counters for dashboards (`cb:{outcome}`), summed over the call and written once.
local counts = {}

local function record(id, attempt, n, outcome, nextAt, status, duration, lease)
  local key = prefix .. id
  -- Every delivery hash has a state: none means no delivery.
  local d = redis.call("hmget", key, "state", "sub", "tenant", "event", "dirty", "final", "lease", "att")
  if not d[1] then return "missing" end
  local seq = tostring((tonumber(d[8]) or 0) + 1)
  -- Writes the attempt record, and whatever else moves the delivery on, in one HSET.
  local function put(...)
    redis.call("hset", key, "att", seq, "att:" .. seq, attempt, ...)
  end
  if d[1] ~= "delivering" or (d[7] or "0") ~= lease then
    put()
    return "stale"
  end
  local sub = d[2] or ""
  local wh = whp .. sub

  local state
  if outcome == "delivered" then
    state = "delivered"
    put("n", n, "state", state, "done", now)
    redis.call("zrem", due, id)
  elseif outcome == "retry" and d[4] == "task.progress" and d[6] == "1" then
    state = "dropped"
    put("n", n, "state", state, "dirty", "0")
    redis.call("zrem", due, id)
  elseif outcome == "retry" then
    state = "pending"
    put("n", n, "state", state, "next", nextAt)
    redis.call("zadd", due, nextAt, id)
  else
    state = "failed"
    put("n", n, "state", state, "done", now)
    redis.call("zrem", due, id)
    redis.call("zadd", prefix .. "dead:" .. (d[3] or ""), now, id)
  end
  counts["cb:" .. outcome] = (counts["cb:" .. outcome] or 0) + 1

  -- Coalesced progress: a newer value that arrived meanwhile goes out next,
  -- unless the task has finished.
  if d[4] == "task.progress" and state ~= "pending" then
    redis.call("hset", key, "last_sent", now)
    if d[5] == "1" and d[6] ~= "1" then
      local at = tonumber(now) + tonumber(ARGV[5])
      redis.call("hset", key, "state", "pending", "dirty", "0", "n", "0", "next", at)
      redis.call("zadd", due, at, id)
      state = "pending"
    end
  end

  if sub ~= "" and redis.call("exists", wh) == 1 then
    local stats = wh .. ":stats"
    if outcome == "delivered" then
      redis.call("hincrby", stats, "succeeded", 1)
      redis.call("hset", stats, "last_success", now)
      redis.call("lpush", wh .. ":lat", duration)
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
      if status == "410" then
        reason = "endpoint answered 410 Gone"
      elseif tonumber(now) - tonumber(since) > tonumber(ARGV[4]) then
        reason = "no successful delivery for longer than the disable window"
      end
      if reason and redis.call("hget", wh, "active") == "1" then
        redis.call("hset", wh, "active", "0", "disabled_reason", reason, "disabled_at", now, "updated", now)
      end
    end
  end
  return state
end

local out = {}
local count = tonumber(ARGV[6])
for i = 0, count - 1 do
  local b = 7 + i * 8
  out[#out + 1] = record(ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7])
end

add_minute_stats(prefix, tonumber(now), counts)
return out
