--[[
Every active subscription of a tenant, in one round trip.
KEYS[1] the tenant's subscription index (P:wh:t:{tenant})
ARGV[1] subscription key prefix ("P:wh:")
ARGV[2] tenant (a hash whose tenant differs is skipped)
Returns a list of flat HGETALL replies (field, value, ...), oldest first.
]]
local ids = redis.call("zrange", KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  if redis.call("hget", key, "active") == "1" and redis.call("hget", key, "tenant") == ARGV[2] then
    out[#out + 1] = redis.call("hgetall", key)
  end
end
return out
