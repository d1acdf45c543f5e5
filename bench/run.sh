#!/usr/bin/env bash
# Load benchmark of btrt against Debian's opentracker and against the floors on loopback
# (targets: docs/performance.md). One command, from anywhere: bench/run.sh
#   1. installs what it needs with apt-get (idempotent): the build dependencies
#      (scripts/install-deps.sh), opentracker and wrk;
#   2. builds btrt in Release into build-bench, with the kit's own tools: bench_loader,
#      bench_udp_load (BEP 15 load), bench_floor_http and bench_floor_udp (the floors: servers
#      that do only a tracker's socket work and send a fixed 50-peer answer);
#   3. runs bench/bench.py, all trackers side by side, runs interleaved, each tracker pinned to
#      one core and the load to the other: announce (keep-alive and Connection: close, at
#      BENCH_CONNS connections; opentracker, the HTTP floor, btrt with and without a
#      50,000-prefix peer-group table, btrt with 2 threads), scrape, UDP announce (opentracker
#      -P, the UDP floor, btrt with server.udp_listen; the btrt row is skipped with a message
#      when the build refuses that key), memory per peer at 1,000,000 peers. CPU time per
#      answered request, ratios to opentracker and to the floor, req/s scaling of 2 threads.
#      Prints the tables and saves them as build-bench/bench-results-<timestamp>.txt.
# Settings (environment): BENCH_SECONDS=10 BENCH_RUNS=3 BENCH_WARMUP=3 BENCH_CONNS="16 64"
#   BENCH_THREADS2=1 BENCH_PREFIXES=50000 BENCH_MEMORY_PEERS=1000000
#   BENCH_MEMORY_TORRENTS=100000 BENCH_MEMORY_SECONDS=240 BENCH_TRACKER_CPU=0 BENCH_LOAD_CPU=1
#   BENCH_UDP_SOCKETS=32 BENCH_UDP_WINDOW=4 (UDP client sockets, announces in flight each)
#   BENCH_BTRT=path (the btrt binary to measure; default build-bench/src/btrt)
#   BENCH_SECTIONS="announce scrape udp memory" BENCH_SKIP_BUILD=1 (use the existing build).
# A short run while developing: BENCH_SECONDS=2 BENCH_RUNS=1 BENCH_SECTIONS="announce udp"
# With the defaults the kit takes about 20 minutes on 2 cores (see docs/performance.md).
# `bench/run.sh forwarding` runs bench/forwarding.py instead: forwarded announces served from
# the origin cache versus plain ones, and many subscribers waiting on one slow origin.
# Only 127.0.0.1 (and 127.100.0.x as the loaders' sources) is used; the processes it starts are
# stopped by their PIDs. It never uses the system's opentracker service.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

packages=(opentracker wrk util-linux python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
  scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DBTRT_TESTS=OFF
fi

# opentracker chroots to its work directory and drops to nobody; the trackers must run as root
# or as a user that may use taskset: both are true for the usual root shell of this project.
if [ "${1:-}" = "forwarding" ]; then
  exec /usr/bin/python3 bench/forwarding.py
fi
exec /usr/bin/python3 bench/bench.py
