-- wrk: audited reads. Each request reads a random record of the seeded set (paths in the file
-- given after --), as the provider (PV_TOKEN), for treatment.
local paths = {}
local token = os.getenv("PV_TOKEN")

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)],
    { ["Authorization"] = "Bearer " .. token, ["X-Purpose"] = "treatment" })
end
