-- Adds `counts` (field -> n) to the per-minute dashboard counters
-- `P:stats:{epoch minute}` (read by src/dashboard/stats.ts), kept two hours.
-- `dlv` is the delivery key prefix ("P:dlv:"), which carries the key prefix.
-- One HINCRBY per field for the whole call, however many tasks it carried.
local function add_minute_stats(dlv, nowMs, counts)
  if next(counts) == nil then return end
  local stats = dlv:sub(1, -5) .. "stats:" .. math.floor(nowMs / 60000)
  for field, n in pairs(counts) do redis.call("hincrby", stats, field, n) end
  redis.call("pexpire", stats, 7200000)
end
