-- wrk script (bench/run.sh): scrapes one random torrent of the 10,000 that bench/announce.lua
-- fills (info_hash(t) = t as 4 big-endian bytes, then 16 'B').
-- Usage: wrk -t1 -c16 -d5s -s bench/scrape.lua http://127.0.0.1:6969 [-- close]
-- done() prints one machine-readable line: "RESULT requests=... p50_us=... p99_us=... ...".

local torrents = 10000
local requests = {}

function init(args)
  for _, a in ipairs(args) do
    if a == "close" then wrk.headers["Connection"] = "close" end
  end
  wrk.headers["Host"] = "localhost"
  for t = 0, torrents - 1 do
    local hash = string.format("%%%02X%%%02X%%%02X%%%02X", math.floor(t / 16777216) % 256,
                               math.floor(t / 65536) % 256, math.floor(t / 256) % 256, t % 256)
        .. string.rep("B", 16)
    requests[t + 1] = wrk.format("GET", "/scrape?info_hash=" .. hash)
  end
end

function request()
  return requests[math.random(1, torrents)]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
      "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d " ..
      "status=%d timeout=%d\n",
      summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(99.0),
      e.connect, e.read, e.write, e.status, e.timeout))
end
