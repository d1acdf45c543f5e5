#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test:
#   1. unit tests, black-box tests and end-to-end tests with real BitTorrent clients
#      against the release build;
#   2. unit and black-box tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#      (the end-to-end tests run on the release build only, to stay fast);
#   3. each libFuzzer target for a bounded time (FUZZ_SECONDS, default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
PY=/usr/bin/python3  # Debian's, with python3-pytest

scripts/install-deps.sh

step() { printf '\n==== %s ====\n' "$*"; }

# A private MariaDB server for the storage and persistence tests, stopped on exit.
mariadb_dir=build-test-mariadb
step "MariaDB test server"
scripts/test-mariadb.sh start "$mariadb_dir"
trap 'scripts/test-mariadb.sh stop "$mariadb_dir"' EXIT
eval "$(scripts/test-mariadb.sh env "$mariadb_dir" | sed 's/^/export /')"

step "release build"
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "unit tests (release)"
ctest --test-dir build --output-on-failure -j2
step "black-box tests (release)"
BTRT_BIN=build/src/btrt $PY -m pytest -q -p no:cacheprovider tests/integration
step "end-to-end tests with real clients (release)"
BTRT_BIN=build/src/btrt $PY -m pytest -q -p no:cacheprovider tests/e2e

step "sanitizer build (ASan+UBSan)"
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DBTRT_SANITIZE=ON -DBTRT_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "unit tests (sanitizers)"
ctest --test-dir build-asan --output-on-failure -j2
step "black-box tests (sanitizers)"
BTRT_BIN=build-asan/src/btrt $PY -m pytest -q -p no:cacheprovider tests/integration

step "fuzzing (bounded)"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh

step "all tests passed"
