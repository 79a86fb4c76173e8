-- wrk script for POST /chat/api/v1/messages: a fresh client_id (UUID v4 shape) per request,
-- round-robin over the session tokens in $BENCH_TOKENS (one per line), each thread on its
-- own stride so no two threads share a session at the same moment.
local dir = os.getenv("BENCH_LUA_DIR")
dofile(dir .. "/report.lua")

local threads = {}
local nthreads = 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   table.insert(threads, thread)
end

function init(args)
   tokens = {}
   for line in io.lines(os.getenv("BENCH_TOKENS")) do
      if line ~= "" then tokens[#tokens + 1] = line end
   end
   stride = tonumber(os.getenv("BENCH_THREADS") or "2")
   idx = tid                          -- 0-based; thread t takes tokens t, t+stride, ...
   counter = 0
   -- distinct per thread and per run (warm-up vs measured run); the counter makes each
   -- id unique within a thread, the thread id in the uuid makes threads disjoint
   math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
   prefix = string.format("%08x", math.random(0, 0x7fffffff))
   texts = {
      "How long does shipping take?",
      "what is your return policy",
      "hello, is anyone there",
   }
   status = {}
end

function request()
   counter = counter + 1
   local tok = tokens[(idx % #tokens) + 1]
   idx = idx + stride
   local cid = string.format("%s-%04x-4%03x-%04x-%012x", prefix, tid, math.random(0, 0xfff),
      0x8000 + math.random(0, 0x3fff), counter)
   local body = string.format('{"text":"%s","client_id":"%s"}', texts[(counter % #texts) + 1], cid)
   return wrk.format("POST", "/chat/api/v1/messages",
      { ["Authorization"] = "Bearer " .. tok, ["Content-Type"] = "application/json" }, body)
end

function response(st, headers, body)
   status[st] = (status[st] or 0) + 1
end

-- per-status counts summed over threads, e.g. "status_201=12345 status_429=0"
extra = function()
   local sum = {}
   for _, t in ipairs(threads) do
      local s = t:get("status")
      if s then for k, v in pairs(s) do sum[k] = (sum[k] or 0) + v end end
   end
   local keys = {}
   for k in pairs(sum) do keys[#keys + 1] = k end
   table.sort(keys)
   local out = {}
   for _, k in ipairs(keys) do out[#out + 1] = string.format("status_%d=%d", k, sum[k]) end
   if #out == 0 then return "status_none=0" end
   return table.concat(out, " ")
end
