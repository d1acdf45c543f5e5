#!/usr/bin/env bash
# The provider lab (docs/locality.md), on demand, not in CI. One command, as root:
#   bench/lab/run.sh [lab.py options]        e.g. --swarms few --seeders 0 2 --cutoffs 10
# 1. installs what it needs with apt-get (idempotent, scripts/install-deps.sh: iproute2,
#    nftables, opentracker, python3-libtorrent, curl);
# 2. builds btrt (release build, `build`) unless BTRT_BIN is set;
# 3. runs bench/lab/lab.py: builds the namespaces (prefix btrtlab-<pid>-, reserved test
#    ranges only, no route to the machine's own namespace), runs every scenario of both
#    swarms (baseline, retracker.local, HTTP interception, interception with the partner's
#    neighbour, and the sweep of tracker.locality_seeders x locality_cutoff), removes the
#    namespaces, prints the table and saves it as build-lab/lab-<timestamp>.txt.
# Duration with the defaults: about 17 minutes on the 2-core development machine (32
# scenarios of 25-40 s each). A lab left by a killed run is removed at the next start.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}  # 2 cores, shared

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/lab/run.sh: needs root (network namespaces, nftables, tc)" >&2
  exit 1
fi
scripts/install-deps.sh
if [ -z "${BTRT_BIN:-}" ]; then
  scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
  export BTRT_BIN=build/src/btrt
fi
exec /usr/bin/python3 bench/lab/lab.py "$@"
