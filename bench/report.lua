-- wrk report hook shared by every bench/run.sh scenario: prints one machine-readable line
--   BENCH requests=N duration_us=N p50_us=N p99_us=N non2xx=N socket_errors=N
-- A script that needs its own counts sets `extra` to a function returning a string; one that sets
-- `count_2xx` (post.lua) adds status_2xx=N: the requests wrk counted minus its errors >= 400.
function done(summary, latency, requests)
   local e = summary.errors
   local s = string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout)
   if count_2xx then s = s .. string.format(" status_2xx=%d", summary.requests - e.status) end
   if extra then s = s .. " " .. extra() end
   io.write(s .. "\n")
end
