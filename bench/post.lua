-- wrk script for POST /chat/api/v1/messages: a fresh client_id (UUID v4 shape) per request,
-- round-robin over the session tokens in $BENCH_TOKENS (one per line), each thread on its
-- own stride so no two threads share a session at the same moment.
--
-- The client's own CPU is kept small, as pgbench's is for the floor the write is compared with:
-- each request's bytes are two strings made in init() (a token's headers, a text's
-- Content-Length and body head) and the client_id's counter, with no wrk.format() and no
-- response() (wrk parses every answer's headers into a Lua table when response() is defined).
-- So the statuses are counted by wrk: report.lua's non2xx is the answers >= 400, and this script
-- reports the rest as its 2xx (status_2xx): the API never answers a POST with 1xx or 3xx.
local dir = os.getenv("BENCH_LUA_DIR")
dofile(dir .. "/report.lua")

local nthreads = 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
end

function init(args)
   local host = wrk.headers["Host"]
   heads = {}
   for line in io.lines(os.getenv("BENCH_TOKENS")) do
      if line ~= "" then
         heads[#heads + 1] = "POST /chat/api/v1/messages HTTP/1.1\r\nHost: " .. host
            .. "\r\nAuthorization: Bearer " .. line .. "\r\nContent-Type: application/json\r\n"
      end
   end
   stride = tonumber(os.getenv("BENCH_THREADS") or "2")
   idx = tid                          -- 0-based; thread t takes tokens t, t+stride, ...
   counter = 0
   -- distinct per thread and per run (warm-up vs measured run): the random prefix differs per
   -- run, the thread id in it makes threads disjoint, the counter makes each id unique
   math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
   cid_head = string.format("%08x-%04x-4%03x-%04x-", math.random(0, 0x7fffffff), tid,
      math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff))
   local texts = {
      "How long does shipping take?",
      "what is your return policy",
      "hello, is anyone there",
   }
   bodies = {}
   for i, t in ipairs(texts) do
      local head = '{"text":"' .. t .. '","client_id":"'
      -- the client_id is 36 characters, '"}' closes the object
      bodies[i] = "Content-Length: " .. (#head + 36 + 2) .. "\r\n\r\n" .. head
   end
   ntexts = #bodies
end

function request()
   counter = counter + 1
   local h = heads[(idx % #heads) + 1]
   idx = idx + stride
   return h .. bodies[(counter % ntexts) + 1] .. cid_head .. string.format("%012x", counter) .. '"}'
end

-- the 2xx answers of this thread's requests are summed in done() (report.lua): every request
-- wrk counts minus its errors >= 400
count_2xx = true
