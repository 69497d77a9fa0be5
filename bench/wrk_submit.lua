-- wrk script: asynchronous POST /api/v1/jobs with a unique job_id per request.
--   BENCH_WORKSPACE=/path/to/ws [BENCH_QUEUE=lane] wrk -t2 -c32 -d5s -s bench/wrk_submit.lua URL
-- Each wrk thread has its own Lua state: threads are numbered in setup() so that ids from
-- different threads never collide, and the run's start time keeps runs apart.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter = 0
local started = os.time()
local workspace = os.getenv("BENCH_WORKSPACE")
local queue = os.getenv("BENCH_QUEUE")
local config = ""
if queue ~= nil and queue ~= "" then
  config = string.format(',"config":{"queue":"%s"}', queue)
end

function init(args)
  if workspace == nil then
    error("set BENCH_WORKSPACE to the workspace the jobs score")
  end
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"job_id":"wrk-%d-%d-%d","workspace_path":"%s","async":true%s}',
    started, tid, counter, workspace, config)
  return wrk.format("POST", "/api/v1/jobs", {["Content-Type"] = "application/json"}, body)
end
