--[[
One page of a sorted set, newest (highest score) first, after a cursor.
The cursor is the (score, member) of the last item already returned. While
that member is still in the set, the page starts right after its current
rank (exact, even inside a run of equal scores, and unaffected by newer
items added meanwhile); once it is gone, the page starts at the first item
with the cursor's score, so a removed cursor can repeat an item, never skip one.
KEYS[1] sorted set
ARGV[1] cursor score ("" without a cursor)
ARGV[2] cursor member ("" without a cursor)
ARGV[3] min score: older items are not returned ("" for no bound)
ARGV[4] most items to return
Returns a flat list: member, score, member, score, ...
]]
local count = tonumber(ARGV[4])
local start = 0
if ARGV[2] ~= "" then
  local rank = redis.call("zrevrank", KEYS[1], ARGV[2])
  if rank then
    start = rank + 1
  else
    start = redis.call("zcount", KEYS[1], "(" .. ARGV[1], "+inf")
  end
end
local r = redis.call("zrevrange", KEYS[1], start, start + count - 1, "WITHSCORES")
if ARGV[3] == "" then return r end
local min = tonumber(ARGV[3])
local out = {}
for i = 1, #r, 2 do
  if tonumber(r[i + 1]) < min then break end
  out[#out + 1] = r[i]
  out[#out + 1] = r[i + 1]
end
return out
