#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test:
#   0. the include-direction check (docs/design.md's folder table), before anything is built;
#   1. unit tests, black-box tests and end-to-end tests with real BitTorrent clients, the
#      provider lab's smoke run (network namespaces: root),
#      against the release build (a real Prometheus scrapes btrt in tests/integration), and
#      promtool's check and unit tests of the alert rules;
#   2. the packages: the .deb built from the release tree, installed, checked and purged;
#      the .rpm built and inspected (needs root; skipped otherwise);
#   3. unit and black-box tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#      (the end-to-end tests run on the release build only, to stay fast);
#   4. the unit tests and the black-box tests of the threaded parts (server, forwarder and its
#      resolver, neighbours, write-behind and restore, logging, signals) under ThreadSanitizer;
#   5. each libFuzzer target for a bounded time (FUZZ_SECONDS, default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
PY=/usr/bin/python3  # Debian's, with python3-pytest

scripts/install-deps.sh

step() { printf '\n==== %s ====\n' "$*"; }

# Cheap, so first: every include keeps the direction of docs/design.md's folder table.
step "include directions"
$PY scripts/check-includes.py

# A private MariaDB server for the storage and persistence tests, stopped on exit.
mariadb_dir=build-test-mariadb
step "MariaDB test server"
scripts/test-mariadb.sh start "$mariadb_dir"
trap 'scripts/test-mariadb.sh stop "$mariadb_dir"' EXIT
eval "$(scripts/test-mariadb.sh env "$mariadb_dir" | sed 's/^/export /')"

step "release build"
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr
step "unit tests (release)"
ctest --test-dir build --output-on-failure -j2
step "black-box tests (release)"
BTRT_BIN=build/src/btrt BTRT_ARTIFACTS=build/test-artifacts $PY -m pytest -q -p no:cacheprovider tests/integration
step "alert rules: promtool check and unit tests"
promtool check rules packaging/prometheus/btrt-alerts.yml
(cd packaging/prometheus && promtool test rules btrt-alerts.test.yml)
step "end-to-end tests with real clients (release)"
BTRT_BIN=build/src/btrt $PY -m pytest -q -p no:cacheprovider tests/e2e
step "provider lab smoke: baseline against btrt in network namespaces (release, root)"
BTRT_BIN=build/src/btrt $PY -m pytest -q -p no:cacheprovider tests/lab
step "packages (release)"
BTRT_BUILD_DIR=build timeout 600 $PY -m pytest -q -p no:cacheprovider tests/package

step "sanitizer build (ASan+UBSan)"
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DBTRT_SANITIZE=ON -DBTRT_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "unit tests (sanitizers)"
ctest --test-dir build-asan --output-on-failure -j2
step "black-box tests (sanitizers)"
BTRT_BIN=build-asan/src/btrt BTRT_ARTIFACTS=build-asan/test-artifacts $PY -m pytest -q -p no:cacheprovider tests/integration

step "thread sanitizer build (TSan)"
scripts/build.sh build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBTRT_SANITIZE_THREAD=ON \
  -DBTRT_BENCH=OFF
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
step "unit tests (TSan)"
ctest --test-dir build-tsan --output-on-failure -j2
step "black-box tests of the threaded parts (TSan)"
BTRT_BIN=build-tsan/src/btrt $PY -m pytest -q -p no:cacheprovider \
  tests/integration/test_forwarding.py tests/integration/test_neighbors.py \
  tests/integration/test_chaos.py tests/integration/test_abuse.py tests/integration/test_metrics.py \
  tests/integration/test_forwarding_limits.py tests/integration/test_origin_answers.py \
  tests/integration/test_counts.py tests/integration/test_logging.py \
  tests/integration/test_persistence.py tests/integration/test_udp.py

step "fuzzing (bounded)"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh

step "all tests passed"
