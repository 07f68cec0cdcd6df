--[[
Gives a claimed delivery back without attempting it (its host is at its
concurrency cap, or the process is stopping): due again at ARGV[2].
KEYS[1] delivery hash
KEYS[2] due sorted set
ARGV[1] delivery id
ARGV[2] due (epoch ms)
]]
if redis.call("hget", KEYS[1], "state") ~= "delivering" then return 0 end
redis.call("hset", KEYS[1], "state", "pending")
redis.call("zadd", KEYS[2], ARGV[2], ARGV[1])
return 1
