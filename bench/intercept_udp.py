#!/usr/bin/python3
"""Intercepted UDP announces against plain UDP announces (target: intercepted >= 0.8 x plain).

In the network namespaces of tests/integration/test_interception_udp.py (created here and
removed at the end; only the test ranges are used): btrt on the router with 1 thread, the
shipped ruleset, a fake BEP 15 origin on 203.0.113.10:6969. bench_udp_load in the subscriber's
namespace registers every peer once through the interception (events: the origin is asked
each time) and once on btrt's own server.udp_listen, then runs random announces (no event)
against each for BENCH_SECONDS, BENCH_RUNS times, alternating. Intercepted announces are then
served from the origin cache: the same store work as a plain one plus the original
destination, the cache lookup and the answer from the origin's reply socket. The load
generator shares the machine's cores with btrt: compare the ratio, not the rates.

    sudo BTRT_BIN=build/src/btrt /usr/bin/python3 bench/intercept_udp.py
"""
import os
import re
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
PLAIN_PORT = 6970


def main():
    work = Path(tempfile.mkdtemp(prefix="btrt-intercept-udp-"))
    ti.BTRT_CONFIG = ti.BTRT_CONFIG.replace(
        "  threads: 2\n", f'  threads: 1\n  udp_listen: ["{ti.ROUTER_SUB}:{PLAIN_PORT}"]\n')
    net = ti.Net(work)
    try:
        net.start_origin = lambda: start_udp_origin(net)
        ti.start_router(net, work, UDP_EXTRA)
        for i in range(SOCKETS):
            net.x("sub", "ip", "addr", "add", f"198.18.0.{100 + i}/24", "dev", "r0")
        common = ["--sockets", str(SOCKETS), "--window", "4", "--src", "198.18.0.100",
                  "--peers", "5000", "--torrents", "500", "--no-ip"]

        def load(host, port, seconds, seq=False):
            out = net.x("sub", str(LOAD), "--host", host, "--port", str(port), "--seconds",
                        str(seconds), *common, *(["--seq"] if seq else []), check=False).stdout
            return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out)}

        targets = (("intercepted", ti.ORIGIN, ti.ORIGIN_PORT), ("plain", ti.ROUTER_SUB, PLAIN_PORT))
        for name, host, port in targets:
            warm = load(host, port, 30, seq=True)
            assert warm.get("announce_answers") == 5000, (name, warm)
        rates = {name: [] for name, _, _ in targets}
        for run in range(RUNS):
            for name, host, port in targets:
                got = load(host, port, SECONDS)
                rates[name].append(got["rate"])
                print(f"run {run} {name}: {got['rate']:.0f} announces/s, lost "
                      f"{got['lost']:.0f}, errors {got['error_answers']:.0f}", flush=True)
        median = {name: sorted(r)[len(r) // 2] for name, r in rates.items()}
        print(f"median intercepted {median['intercepted']:.0f}/s, plain {median['plain']:.0f}/s, "
              f"ratio {median['intercepted'] / median['plain']:.2f} (target >= 0.8)")
    finally:
        net.down()


if __name__ == "__main__":
    main()
