--[[
Creates deliveries for a non-terminal event (`task.started`), unless the task
already has an outcome.
KEYS[1] task hash
ARGV[1] now, ARGV[2] lease end, ARGV[3] delivery key prefix, ARGV[4] subscription key prefix, ARGV[5] tenant
ARGV[6] how many deliveries (N), then N × 9 values (see lib/add-deliveries.lua)
Returns the ids created.
]]
-- #include add-deliveries
local t = redis.call("hmget", KEYS[1], "status", "id")
if not t[1] or t[1] == "completed" or t[1] == "failed" or t[1] == "cancelled" then return {} end
return add_deliveries(7, tonumber(ARGV[6]), ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], t[2])
