-- wrk script of scripts/bench-webhook.sh: cycles through the pre-signed `requests` table
-- (written above this file by webhook-requests.py), one POST each.
local n = 0
request = function()
  n = n % #requests + 1
  local r = requests[n]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/webhook+json",
    ["Authorization"] = r.auth,
  }, r.body)
end
