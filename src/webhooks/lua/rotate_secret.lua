--[[
Rotates a subscription's signing secret: the current one becomes
prev_secret, still signing until prev_until.
KEYS[1] subscription hash
ARGV[1] tenant
ARGV[2] new secret
ARGV[3] prev_until (epoch ms)
ARGV[4] now (epoch ms)
Returns 1, or 0 when there is no such subscription of this tenant.
]]
if redis.call("hget", KEYS[1], "tenant") ~= ARGV[1] then return 0 end
local old = redis.call("hget", KEYS[1], "secret")
redis.call("hset", KEYS[1], "prev_secret", old, "prev_until", ARGV[3], "secret", ARGV[2], "updated", ARGV[4])
return 1
