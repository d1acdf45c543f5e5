-- wrk script: announces over 10,000 torrents from 100,000 distinct peers (ip= varies the
-- address; honoured because the load comes from a trusted source), compact, numwant 50.
-- Usage: wrk -t2 -c50 -d10s -s bench/announce.lua http://127.0.0.1:6969
local counter = 0
local function hex20(n)
  return string.format("%%%02x%%%02x%%%02x%%%02x", n % 256, math.floor(n / 256) % 256,
                       math.floor(n / 65536) % 256, 7) .. string.rep("%41", 16)
end

request = function()
  counter = counter + 1
  local peer = math.random(0, 99999)
  local torrent = peer % 10000
  local path = "/announce?info_hash=" .. hex20(torrent) ..
      "&peer_id=-WR0001-" .. string.format("%012d", peer) ..
      "&port=" .. (10000 + peer % 50000) ..
      "&ip=10." .. math.floor(peer / 65536) .. "." .. math.floor(peer / 256) % 256 .. "." .. peer % 256 ..
      "&uploaded=0&downloaded=0&left=" .. (peer % 4) .. "&compact=1&numwant=50"
  return wrk.format("GET", path)
end
