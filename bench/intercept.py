#!/usr/bin/python3
"""Intercepted announces against plain ones, over UDP and over HTTP (target: intercepted >= 0.8
x plain, both protocols).

In the network namespaces of tests/integration/test_interception*.py (created here and removed
at the end; only the test ranges are used): btrt on the router with 1 thread, the shipped
ruleset, a fake origin on 203.0.113.10:6969 (BEP 15 for the UDP run, HTTP for the HTTP run).
The load runs in the subscriber's namespace, first registering every peer through the
interception (the origin is asked once per torrent and interval) and on btrt's own listener,
then sending random announces against each for BENCH_SECONDS, BENCH_RUNS times, alternating.
Intercepted announces are then served from the origin cache: the same store work as a plain
one plus the original destination, the cache lookup and, for UDP, the answer from the origin's
reply socket. The load generator shares the machine's cores with btrt: compare the ratio, not
the rates.

UDP: bench_udp_load, 16 sockets x 4 in flight, 5,000 peers in 500 torrents.
HTTP: wrk -t1 -c16 with bench/announce.lua (keep-alive; its 100,000 peers in 500 torrents),
the Host header the origin's address for the intercepted run.

    sudo BTRT_BIN=build/src/btrt /usr/bin/python3 bench/intercept.py [udp] [http]
"""
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import test_interception as ti  # noqa: E402
from test_interception_udp import UDP_EXTRA, start_udp_origin  # noqa: E402

LOAD = Path(os.environ.get("BENCH_UDP_LOAD", ROOT / "build" / "bench" / "bench_udp_load"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SOCKETS = 16
PLAIN_UDP_PORT = 6970
TORRENTS = 500  # as many as the UDP run's


def compare(run_load, targets):
    """Alternating measured runs of run_load(name) -> rate; prints and returns the ratio."""
    rates = {name: [] for name in targets}
    for run in range(RUNS):
        for name in targets:
            rate, note = run_load(name)
            rates[name].append(rate)
            print(f"run {run} {name}: {rate:.0f} announces/s, {note}", flush=True)
    median = {name: sorted(r)[len(r) // 2] for name, r in rates.items()}
    ratio = median["intercepted"] / median["plain"]
    print(f"median intercepted {median['intercepted']:.0f}/s, plain {median['plain']:.0f}/s, "
          f"ratio {ratio:.2f} (target >= 0.8)", flush=True)
    return ratio


def bench_udp(work):
    ti.BTRT_CONFIG = ti.BTRT_CONFIG.replace(
        "  threads: 2\n", f'  threads: 1\n  udp_listen: ["{ti.ROUTER_SUB}:{PLAIN_UDP_PORT}"]\n')
    net = ti.Net(work)
    try:
        net.start_origin = lambda: start_udp_origin(net)
        ti.start_router(net, work, UDP_EXTRA)
        for i in range(SOCKETS):
            net.x("sub", "ip", "addr", "add", f"198.18.0.{100 + i}/24", "dev", "r0")
        common = ["--sockets", str(SOCKETS), "--window", "4", "--src", "198.18.0.100",
                  "--peers", "5000", "--torrents", "500", "--no-ip"]
        targets = {"intercepted": (ti.ORIGIN, ti.ORIGIN_PORT),
                   "plain": (ti.ROUTER_SUB, PLAIN_UDP_PORT)}

        def load(name, seconds=SECONDS, seq=False):
            host, port = targets[name]
            out = net.x("sub", str(LOAD), "--host", host, "--port", str(port), "--seconds",
                        str(seconds), *common, *(["--seq"] if seq else []), check=False).stdout
            return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out)}

        for name in targets:
            warm = load(name, 30, seq=True)
            assert warm.get("announce_answers") == 5000, (name, warm)

        def measured(name):
            got = load(name)
            return got["rate"], f"lost {got['lost']:.0f}, errors {got['error_answers']:.0f}"

        print("UDP (BEP 15)", flush=True)
        return compare(measured, targets)
    finally:
        net.down()


def bench_http(work):
    wrk = shutil.which("wrk")
    assert wrk, "wrk is not installed (bench/run.sh installs it)"
    net = ti.Net(work)
    try:
        ti.start_router(net, work, "")
        script = str(ROOT / "bench" / "announce.lua")
        origin = f"{ti.ORIGIN}:{ti.ORIGIN_PORT}"
        targets = {"intercepted": (f"http://{origin}", [f"host={origin}"]),
                   "plain": (f"http://{ti.ROUTER_SUB}:{ti.LOCAL_PORT}", [])}
        spread = f"torrents={TORRENTS}"

        def load(name, seconds, seq=False):
            url, args = targets[name]
            out = net.x("sub", wrk, "-t1", "-c16", f"-d{seconds:g}s", "-s", script, url, "--",
                        *args, spread, *(["seq"] if seq else []), check=False).stdout
            result = dict(re.findall(r"(\w+)=(\d+)", out.split("RESULT", 1)[-1]))
            assert "requests" in result, out
            return {k: int(v) for k, v in result.items()}

        # the peers in order: the first TORRENTS cover every torrent, so that every torrent's
        # origin answer is cached (the namespace helper bounds a command to 30 s)
        for name in targets:
            warm = load(name, 20, seq=True)
            assert warm["requests"] >= TORRENTS and warm["status"] == 0, (name, warm)

        def measured(name):
            got = load(name, SECONDS)
            return (got["requests"] * 1e6 / got["duration_us"],
                    f"p99 {got['p99_us']} µs, non-2xx {got['status']}")

        print("HTTP (keep-alive)", flush=True)
        return compare(measured, targets)
    finally:
        net.down()


def main():
    which = sys.argv[1:] or ["udp", "http"]
    for protocol in which:
        work = Path(tempfile.mkdtemp(prefix=f"btrt-intercept-{protocol}-"))
        {"udp": bench_udp, "http": bench_http}[protocol](work)


if __name__ == "__main__":
    main()
