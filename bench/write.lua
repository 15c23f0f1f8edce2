-- wrk: durable audited writes. Each request creates a visit record for a random seeded subject
-- (ids in the file given after --), as the provider (PV_TOKEN), for treatment.
local subjects = {}
local token = os.getenv("PV_TOKEN")
local body = '{"date":"2026-02-01","reason":"benchmark","notes":"blood pressure normal, follow up"}'

function init(args)
  for line in io.lines(args[1]) do subjects[#subjects + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  return wrk.format("POST", "/v1/subjects/" .. subjects[math.random(#subjects)] .. "/records/visits",
    { ["Authorization"] = "Bearer " .. token, ["X-Purpose"] = "treatment",
      ["Content-Type"] = "application/json" }, body)
end
