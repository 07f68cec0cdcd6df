-- Shared by the scripts that create deliveries (included with `-- #include add-deliveries`).
-- Reads `count` deliveries of 9 values each from ARGV starting at `at`:
--   id, url, body, msg, event, secret ("default" or "sub:<id>"), sub ("" for the task callback),
--   claim ("1" = the caller sends it now), trace (the task's traceparent or "")
-- A delivery that exists already is left alone (a re-run cannot create a second one).
-- Returns the list of ids created.
local function add_deliveries(at, count, now, lease_end, dlv_prefix, wh_prefix, tenant, task_id)
  local created = {}
  for i = 0, count - 1 do
    local b = at + i * 9
    local id, url, body, msg, event, secret, sub, claim, trace =
      ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 8]
    local key = dlv_prefix .. id
    if redis.call("exists", key) == 0 then
      redis.call("hset", key,
        "id", id, "task", task_id, "tenant", tenant, "url", url, "body", body, "msg", msg, "event", event,
        "state", claim == "1" and "delivering" or "pending", "n", "0", "created", now, "next", now,
        "secret", secret, "sub", sub, "trace", trace)
      redis.call("zadd", dlv_prefix .. "due", claim == "1" and lease_end or now, id)
      if sub ~= "" then
        redis.call("zadd", wh_prefix .. sub .. ":dlv", now, id)
        redis.call("hincrby", wh_prefix .. sub .. ":stats", "total", 1)
      end
      created[#created + 1] = id
    end
  end
  return created
end
