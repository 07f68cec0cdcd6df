--[[
Updates a subscription in place, only if it exists and belongs to the tenant
(so a PATCH racing a DELETE cannot resurrect a half hash).
KEYS[1] subscription hash
ARGV[1] tenant
ARGV[2] number of fields to delete (N)
ARGV[3 .. 2+N] fields to delete
ARGV[3+N ..] field, value pairs to set
Returns 1, or 0 when there is no such subscription of this tenant.
]]
if redis.call("hget", KEYS[1], "tenant") ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do redis.call("hdel", KEYS[1], ARGV[i]) end
for i = 3 + n, #ARGV, 2 do redis.call("hset", KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
