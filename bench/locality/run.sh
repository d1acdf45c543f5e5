#!/usr/bin/env bash
# The localisation experiment (docs/locality.md), on demand, not in CI. One command:
#   bench/locality/run.sh
# 1. installs what it needs with apt-get (idempotent): the build and test dependencies
#    (scripts/install-deps.sh: python3-libtorrent among them) and opentracker;
# 2. builds btrt (release build, `build`, as scripts/test.sh does) unless BTRT_BIN is set;
# 3. runs bench/locality/locality.py: the same swarm of real libtorrent clients against
#    opentracker and against btrt, for each composition; prints per leecher the bytes from
#    each peer group, then the share of bytes from local peers and the download times.
# Settings (environment, see locality.py): LOCALITY_COMPOSITIONS="12+12 3+12"
#   LOCALITY_LEECHERS="4 2 2" LOCALITY_TRACKERS="opentracker btrt btrt-cutoff3" LOCALITY_MIB=16
#   LOCALITY_UPLOAD_KIB=100 LOCALITY_SEEDERS_REANNOUNCE="0 1" LOCALITY_DEADLINE=300
# Only 127.0.0.0/8 is used; opentracker runs chrooted as nobody (run as root). The processes
# it starts are stopped by their PIDs. The output is also saved as
# build/locality-results-<timestamp>.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}  # 2 cores, shared

scripts/install-deps.sh
if ! dpkg-query -W -f='${Status}' opentracker 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends opentracker
fi

if [ -z "${BTRT_BIN:-}" ]; then
  scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  export BTRT_BIN=build/src/btrt
fi

mkdir -p build
out="build/locality-results-$(date +%Y%m%d-%H%M%S).txt"
/usr/bin/python3 bench/locality/locality.py | tee "$out"
echo "saved: $out"
