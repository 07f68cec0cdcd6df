--[[
Makes a failed or cancelled task run again under the same id: a new outcome
generation (so its callback is a new delivery with a new webhook-id), status
queued. The caller then adds the bee-queue job again.
KEYS[1] task hash
Returns the new generation, or the current status when the task cannot be retried
("missing", "queued", "running", "completed").
]]
local t = redis.call("hmget", KEYS[1], "status", "gen")
if not t[1] then return "missing" end
if t[1] ~= "failed" and t[1] ~= "cancelled" then return t[1] end
local gen = tonumber(t[2] or "1") + 1
redis.call("hset", KEYS[1], "status", "queued", "gen", gen, "progress", "0", "lost", "0")
redis.call("hdel", KEYS[1], "result", "error", "finished", "started", "dlv", "cancel", "last_error")
return tostring(gen)
