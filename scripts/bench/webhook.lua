-- wrk script of scripts/bench-webhook.sh: cycles through the pre-signed `requests` table
-- (written above this file by webhook-requests.py), one POST each. Each request's text is
-- built once, in `init` (as wrk's own pipelining example does), so the load generator
-- spends per request what it spends on a static request like `/health`'s: the comparison
-- is of the host's two paths, not of Lua string building.
local formatted = {}
local n = 0
init = function(args)
  for i, r in ipairs(requests) do
    formatted[i] = wrk.format("POST", nil, {
      ["Content-Type"] = "application/webhook+json",
      ["Authorization"] = r.auth,
    }, r.body)
  end
end
request = function()
  n = n % #formatted + 1
  return formatted[n]
end
