--[[
Records one attempt and moves the delivery on: delivered, failed (gave up),
or back to pending until its next attempt.
KEYS[1] delivery hash
KEYS[2] attempts list
KEYS[3] due sorted set
ARGV[1] delivery id
ARGV[2] attempt JSON
ARGV[3] attempt number
ARGV[4] outcome: delivered | retry | failed | blocked
ARGV[5] next attempt (epoch ms; for retry)
ARGV[6] now (epoch ms)
Returns the delivery's state after the update.
]]
if redis.call("exists", KEYS[1]) == 0 then return "missing" end
redis.call("rpush", KEYS[2], ARGV[2])
local state = redis.call("hget", KEYS[1], "state")
if state == "delivered" then
  -- A duplicate attempt after a lease ran out: keep the success.
  return state
end
redis.call("hset", KEYS[1], "n", ARGV[3])
if ARGV[4] == "delivered" then
  redis.call("hset", KEYS[1], "state", "delivered", "done", ARGV[6])
  redis.call("zrem", KEYS[3], ARGV[1])
  return "delivered"
elseif ARGV[4] == "retry" then
  redis.call("hset", KEYS[1], "state", "pending", "next", ARGV[5])
  redis.call("zadd", KEYS[3], ARGV[5], ARGV[1])
  return "pending"
else
  redis.call("hset", KEYS[1], "state", "failed", "done", ARGV[6])
  redis.call("zrem", KEYS[3], ARGV[1])
  return "failed"
end
