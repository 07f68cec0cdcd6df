--[[
Gives a claimed delivery back without attempting it (its host is at its
concurrency cap, it waited too long to start within its lease, or the
process is stopping): due again at ARGV[2]. Only the holder of the current
claim may (see claim.lua): a stale give-back must not turn another
process's live claim into a pending delivery that a third one sends too.
KEYS[1] delivery hash
KEYS[2] due sorted set
ARGV[1] delivery id
ARGV[2] due (epoch ms)
ARGV[3] lease token of the claim being given back (0 = the creator's)
Returns 1 when given back, 0 when the caller no longer held it.
]]
local d = redis.call("hmget", KEYS[1], "state", "lease")
if d[1] ~= "delivering" or (d[2] or "0") ~= ARGV[3] then return 0 end
redis.call("hset", KEYS[1], "state", "pending")
redis.call("zadd", KEYS[2], ARGV[2], ARGV[1])
return 1
