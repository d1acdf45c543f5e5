#!/usr/bin/python3
"""CPU per answered HTTP announce by thread of btrt, run by run: where the kit's CPU µs per
request goes (the worker, the write-behind's flush, the rest). Runs btrt with the kit's
btrt+groups configuration pinned as in the kit, registers the pool, then RUNS runs of 5 s of
wrk load (keep-alive, or one connection per request with `close`, 64 connections), and prints
for each run the process's CPU per announce and each thread's share (/proc/PID/task/*/stat).
A run that holds a flush (every database.flush_interval) shows it in the `btrt-db` thread.

  bench/thread_cpu.py WORKDIR [close] [RUNS]

Uses BENCH_BUILD_DIR / BENCH_BTRT like bench.py. Everything stays on 127.0.0.0/8; the tracker
is stopped by its PID, every wait is bounded."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def thread_seconds(pid):
    seconds = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(os.path.join(task, "comm")) as f:
                name = f.read().strip()
            with open(os.path.join(task, "stat")) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        key = f"{name}[{os.path.basename(task)}]"
        seconds[key] = (int(fields[11]) + int(fields[12])) / bench.CLK_TCK  # utime + stime
    return seconds


def main():
    workdir = sys.argv[1]
    mode = ["close"] if "close" in sys.argv[2:] else []
    runs = next((int(a) for a in sys.argv[2:] if a.isdigit()), 3)
    os.makedirs(workdir, exist_ok=True)
    cidr, _ = bench.write_peer_group_table(workdir, int(bench.env("BENCH_PREFIXES")))
    tracker = bench.start_btrt(workdir, "btrt+groups", 1, cidr, bench.TRACKER_CPU)
    try:
        loaded = bench.run_loader(tracker, bench.ANNOUNCE_PEERS, bench.ANNOUNCE_TORRENTS, 16,
                                  False, 120, "127.0.0.1", ["--wrk-peers", "--numwant", "50"])
        if loaded["ok"] != bench.ANNOUNCE_PEERS:
            raise RuntimeError(f"warm-up registered {loaded}")
        bench.run_wrk(tracker, "announce.lua", 16, 3, [])
        print(f"btrt+groups, {'close' if mode else 'keep-alive'}, 64 connections, 5 s runs; "
              "CPU µs per announce:")
        for _ in range(runs):
            before = thread_seconds(tracker.pid)
            r = bench.run_wrk(tracker, "announce.lua", 64, 5, mode)
            after = thread_seconds(tracker.pid)
            shares = {k: (v - before.get(k, 0)) * 1e6 / max(r["requests"], 1)
                      for k, v in after.items()}
            print(f"  {r['requests']:7d} announces: process {r['cpu_us']:5.2f}; " +
                  ", ".join(f"{k} {v:.2f}" for k, v in sorted(shares.items()) if v >= 0.01))
    finally:
        tracker.stop()


if __name__ == "__main__":
    main()
