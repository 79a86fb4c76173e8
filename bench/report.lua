-- wrk report hook shared by every bench/run.sh scenario: prints one machine-readable line
--   BENCH requests=N duration_us=N p50_us=N p99_us=N non2xx=N socket_errors=N
-- A script that needs its own response() counts (post.lua) sets `extra` to a function returning a string.
function done(summary, latency, requests)
   local e = summary.errors
   local s = string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout)
   if extra then s = s .. " " .. extra() end
   io.write(s .. "\n")
end
