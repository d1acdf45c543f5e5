#!/usr/bin/env bash
# Installs what is needed, builds, and runs the tracker with the development configuration:
# 127.0.0.1:6969, logs in var/log, SQLite in var/lib (paths relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
mkdir -p var/log var/lib
exec build/src/btrt run -c etc/btrt.dev.conf
