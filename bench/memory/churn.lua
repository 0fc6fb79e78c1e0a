-- wrk script: every request a distinct URL PREFIX<thread>-<n> (a cache miss
-- every time).   wrk ... -s churn.lua http://127.0.0.1:PORT -- PREFIX
local tid = 0
function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end

local prefix, n
function init(args)
  prefix = args[1] or "/obj/1m/churn/"
  n = 0
end

function request()
  n = n + 1
  return wrk.format("GET", prefix .. tid .. "-" .. n)
end
