#!/usr/bin/python3
"""System calls per answered HTTP announce, counted by the kernel's syscall tracepoints
(`perf stat`), which cost the server far less than strace: strace slows it so much that every
request is already there when its connection is accepted, which hides the calls a connection
that waits for its request makes. Runs btrt with the kit's btrt+groups configuration, or the
HTTP floor, registers the pool with wrk, then counts over SECONDS of wrk load (keep-alive, or
one connection per request with `close`) and prints the calls per announce.

  bench/syscalls.py btrt|floor WORKDIR [SECONDS] [close]

Needs perf and root (tracepoints). Uses BENCH_BUILD_DIR / BENCH_BTRT like bench.py. Everything
stays on 127.0.0.0/8; the tracker is stopped by its PID, every wait is bounded."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

CALLS = ["accept4", "recvfrom", "sendto", "close", "shutdown", "epoll_ctl", "epoll_wait",
         "ioctl", "fcntl", "setsockopt", "timerfd_settime", "futex"]


def main():
    which, workdir = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 5
    mode = ["close"] if "close" in sys.argv[3:] else []
    os.makedirs(workdir, exist_ok=True)
    if which == "floor":
        tracker = bench.start_floor_http(workdir, bench.TRACKER_CPU)
    else:
        cidr, _ = bench.write_peer_group_table(workdir, int(bench.env("BENCH_PREFIXES")))
        tracker = bench.start_btrt(workdir, "btrt+groups", 1, cidr, bench.TRACKER_CPU)
    out = os.path.join(workdir, "perf-stat.txt")
    try:
        bench.run_wrk(tracker, "announce.lua", 16, 3, ["seq"])
        events = ",".join(f"syscalls:sys_enter_{c}" for c in CALLS)
        perf = subprocess.Popen(["perf", "stat", "-x,", "-e", events, "-o", out, "-p",
                                 str(tracker.pid)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf attached
        r = bench.run_wrk(tracker, "announce.lua", 16, seconds, mode)
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=30)
    finally:
        tracker.stop()
    per_call = {}
    with open(out) as f:
        for line in f:
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[0].isdigit():
                per_call[fields[2].split("sys_enter_")[1]] = int(fields[0]) / r["requests"]
    print(f"{which}: {r['requests']} announces in {seconds} s "
          f"({'close' if mode else 'keep-alive'}), {r['errors']} errors; calls per announce:")
    for call in CALLS:
        if per_call.get(call, 0) >= 0.001:
            print(f"  {call:16s} {per_call[call]:.3f}")
    print(f"  {'all':16s} {sum(per_call.values()):.3f}")


if __name__ == "__main__":
    main()
