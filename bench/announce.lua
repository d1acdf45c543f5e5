-- wrk script (bench/run.sh): announces over 10,000 torrents from 100,000 peers, compact,
-- numwant 50. Every peer is a distinct (torrent, address:port) registration for any tracker:
--   peer n (0..99,999): torrent n % 10,000, port 1025 + n % 64,000, ip=10.a.b.c from n,
--   a seeder when floor(n / 10,000) % 4 == 0 (3 seeders and 7 leechers per torrent).
-- btrt honours ip= from a trusted source (the bench config trusts 127.0.0.1/32), so it sees
-- 100,000 distinct addresses; Debian's opentracker ignores ip= (it is built without
-- WANT_IP_FROM_QUERY_STRING) and takes 127.0.0.1, where the ports alone keep the 100,000
-- registrations distinct (same torrent and same port would need n equal modulo 320,000).
-- info_hash(t) = t as 4 big-endian bytes, then 16 'B' (as bench/loader.cpp and the
-- opentracker whitelist).
--
-- Usage: wrk -t1 -c16 -d5s -s bench/announce.lua http://127.0.0.1:6969 -- [close] [seq]
--        [origin=PORT]
--   close: send "Connection: close" (a new connection per request)
--   origin=PORT: send each announce as a DPI passes it on (the transparent shape of docs/dpi-integration.md): Host
--          127.0.0.1:PORT (the origin tracker) and the subscriber's address in
--          X-Forwarded-For instead of ip= (bench/forwarding.py)
--   host=HOST: the Host header (e.g. the origin's address:port of an intercepted announce,
--          bench/intercept.py)
--   torrents=N: spread the peers over N torrents instead of 10,000 (bench/intercept.py: fewer
--          origin answers to fetch before the cache serves)
--   seq:   walk the peers in order instead of at random (the warm-up uses it to register
--          every peer)
-- done() prints one machine-readable line: "RESULT requests=... p50_us=... p99_us=... ...".

local peers, torrents = 100000, 10000
local requests = {}
local sequential = false
local counter = 0
local origin = nil
local host = nil

local function info_hash(t)
  return string.format("%%%02X%%%02X%%%02X%%%02X", math.floor(t / 16777216) % 256,
                       math.floor(t / 65536) % 256, math.floor(t / 256) % 256, t % 256)
      .. string.rep("B", 16)
end

function init(args)
  for _, a in ipairs(args) do
    if a == "close" then wrk.headers["Connection"] = "close" end
    if a == "seq" then sequential = true end
    local port = a:match("^origin=(%d+)$")
    if port then origin = port end
    host = a:match("^host=(.+)$") or host
    local spread = a:match("^torrents=(%d+)$")
    if spread then torrents = tonumber(spread) end
  end
  wrk.headers["Host"] = host or (origin and ("127.0.0.1:" .. origin) or "localhost")
  for n = 0, peers - 1 do
    local address = "10." .. math.floor(n / 65536) .. "." .. math.floor(n / 256) % 256 .. "." ..
        n % 256
    local path = "/announce?info_hash=" .. info_hash(n % torrents) ..
        "&peer_id=-WR0001-" .. string.format("%012d", n) ..
        "&port=" .. (1025 + n % 64000) ..
        (origin and "" or ("&ip=" .. address)) ..
        "&uploaded=0&downloaded=0&left=" .. ((math.floor(n / torrents) % 4 == 0) and 0 or 1000) ..
        "&compact=1&numwant=50"
    local headers = nil
    if origin then  -- wrk.format takes these instead of wrk.headers, not in addition
      headers = {["X-Forwarded-For"] = address}
      for k, v in pairs(wrk.headers) do headers[k] = v end
    end
    requests[n + 1] = wrk.format("GET", path, headers)
  end
end

function request()
  if sequential then
    counter = counter % peers + 1
    return requests[counter]
  end
  return requests[math.random(1, peers)]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
      "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d " ..
      "status=%d timeout=%d\n",
      summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(99.0),
      e.connect, e.read, e.write, e.status, e.timeout))
end
