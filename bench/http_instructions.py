#!/usr/bin/python3
"""User-space instructions per answered HTTP announce, under callgrind: the HTTP twin of
udp_instructions.py (wall clock and CPU time are useless on a shared machine; instruction
counts are not). Runs btrt with the kit's btrt+groups configuration under valgrind, registers
peers with wrk walking the pool in order, zeroes the counters, loads it SECONDS more with wrk
(keep-alive, or one connection per request with `close`), dumps, and prints per announce the
whole process and the functions that matter.

  bench/http_instructions.py WORKDIR [SECONDS] [close]

Uses BENCH_BUILD_DIR / BENCH_BTRT like bench.py. Everything stays on 127.0.0.0/8; the tracker
is stopped by its PID, every wait is bounded."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

FUNCTIONS = ["Connection::parse()", "parse_http_head(", "Router::handle(", "parse_announce(",
             "Tracker::announce(", "SwarmStore::announce(", "select_peers(",
             "encode_announce(", "Connection::respond(", "WriteBehind::flush()"]


def main():
    workdir = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    mode = ["close"] if "close" in sys.argv[3:] else []
    os.makedirs(workdir, exist_ok=True)
    out = os.path.join(workdir, "callgrind.out")
    for f in glob.glob(out + "*"):
        os.remove(f)
    cidr, _ = bench.write_peer_group_table(workdir, int(bench.env("BENCH_PREFIXES")))
    port = bench.free_port()
    conf = bench.write_btrt_config(workdir, "btrt", port, 1, cidr)
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", bench.BTRT, "run",
            "-c", conf]
    tracker = bench.Tracker("btrt", argv, port, workdir, bench.TRACKER_CPU)
    try:
        # Slow under valgrind: the warm-up registers what it can in its time, in order.
        bench.run_wrk(tracker, "announce.lua", 16, 60, ["seq"])
        bench.callgrind_measure(
            tracker.pid, out,
            lambda: bench.run_wrk(tracker, "announce.lua", 16, seconds, mode + ["seq"]),
            lambda r: r["requests"],
            lambda r: f"btrt: {r['requests']} announces answered in {seconds} s under callgrind "
                      f"({'close' if mode else 'keep-alive'}), {r['errors']} errors",
            FUNCTIONS)
    finally:
        tracker.stop()


if __name__ == "__main__":
    main()
