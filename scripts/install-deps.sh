#!/usr/bin/env bash
# Installs every package that building, running and testing btrt needs (Debian 12).
# Idempotent: apt-get skips what is already there.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev clang-format
  # libraries (docs/design.md names what each layer uses)
  libboost-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libabsl-dev libsoci-dev
  libsqlite3-dev libc-ares-dev
  # tests and micro-benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3-pytest python3-yaml
  # real BitTorrent clients of the end-to-end tests (tests/e2e)
  python3-libtorrent aria2 transmission-cli
  # the provider lab (bench/lab, its smoke test in tests/lab): namespaces, shaping, the
  # router's diversion rules and the origin tracker
  nftables opentracker
  # tools and servers the tests use (MariaDB runs as the tests' own process)
  curl procps iproute2 mariadb-server mariadb-client
  # the /stats page test renders it in a headless browser
  chromium
  # Prometheus (and promtool): the alert rules' unit tests and the scrape test
  # (tests/integration/test_prometheus.py), which starts its own server
  prometheus
  # packages: rpmbuild for CPack's .rpm, systemd-analyze to verify the unit
  rpm systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -ne 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The prometheus and opentracker packages enable and start system-wide servers (:9090, :6969);
# the tests and the lab start their own on free ports, so the packages' services are kept off.
for service in prometheus opentracker; do
  if [ -d /run/systemd/system ] && systemctl is-enabled --quiet "$service" 2>/dev/null; then
    $SUDO systemctl disable --now "$service" || true
  elif [ -x "/etc/init.d/$service" ] && [ ! -d /run/systemd/system ]; then
    $SUDO "/etc/init.d/$service" stop >/dev/null 2>&1 || true
  fi
done
