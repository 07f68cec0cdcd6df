--[[
Releases the prune lock only when this run still holds it (its lease may
have expired and another process taken it over).
KEYS[1] lock key
ARGV[1] this run's token
Returns 1 when released, 0 otherwise.
]]
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
