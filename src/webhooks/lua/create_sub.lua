--[[
Creates a subscription unless its key already has the maximum, in one step
(a separate count and write let parallel creates pass the cap).
KEYS[1] the key's subscription index (sorted set)
KEYS[2] the new subscription's hash
ARGV[1] the maximum per key
ARGV[2] created (epoch ms, the index score)
ARGV[3] subscription id
ARGV[4..] the hash's field/value pairs
Returns 1 when created, 0 at the cap.
]]
if redis.call("zcard", KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call("hset", KEYS[2], unpack(ARGV, 4))
redis.call("zadd", KEYS[1], ARGV[2], ARGV[3])
return 1
