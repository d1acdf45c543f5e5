#!/usr/bin/env bash
# A private MariaDB server for the tests: its own data directory, socket and loopback port,
# started as a plain process (not through systemd) and stopped by its PID.
#
#   scripts/test-mariadb.sh start DIR   initialise (once) and start; creates user and schema
#   scripts/test-mariadb.sh stop DIR    stop it and wait until it has exited
#   scripts/test-mariadb.sh env DIR     print the BTRT_TEST_MYSQL_* variables the tests read
#
# Port: BTRT_TEST_MYSQL_PORT (default 13306). User btrt, password btrt-test, schema btrt.
set -euo pipefail
command=${1:?usage: test-mariadb.sh start|stop|env DIR}
dir=$(realpath -m "${2:?usage: test-mariadb.sh start|stop|env DIR}")
port=${BTRT_TEST_MYSQL_PORT:-13306}
socket="$dir/mysqld.sock"
pidfile="$dir/mysqld.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$command" in
  start)
    mkdir -p "$dir"
    if [ ! -d "$dir/data/mysql" ]; then
      mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
        --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1
    fi
    if ! running; then
      mariadbd --no-defaults --datadir="$dir/data" --socket="$socket" --port="$port" \
        --bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$dir/error.log" \
        --user="$(id -un)" --skip-name-resolve --innodb-buffer-pool-size=64M \
        --innodb-log-file-size=48M >/dev/null 2>&1 &
      for _ in $(seq 1 600); do  # up to 60 s
        mariadb-admin --no-defaults --socket="$socket" -uroot ping >/dev/null 2>&1 && break
        sleep 0.1
      done
      mariadb-admin --no-defaults --socket="$socket" -uroot ping >/dev/null 2>&1 || {
        echo "MariaDB did not start; see $dir/error.log" >&2
        tail -n 20 "$dir/error.log" >&2 || true
        exit 1
      }
    fi
    mariadb --no-defaults --socket="$socket" -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS btrt;
CREATE USER IF NOT EXISTS 'btrt'@'127.0.0.1' IDENTIFIED BY 'btrt-test';
CREATE USER IF NOT EXISTS 'btrt'@'localhost' IDENTIFIED BY 'btrt-test';
GRANT ALL PRIVILEGES ON *.* TO 'btrt'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'btrt'@'localhost';
SQL
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill -TERM "$pid"
      for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then echo "MariaDB $pid did not stop" >&2; exit 1; fi
    fi
    ;;
  env)
    echo "BTRT_TEST_MYSQL_DIR=$dir"
    echo "BTRT_TEST_MYSQL_PORT=$port"
    echo "BTRT_TEST_MYSQL_SOCKET=$socket"
    ;;
  *) echo "usage: test-mariadb.sh start|stop|env DIR" >&2; exit 2 ;;
esac
