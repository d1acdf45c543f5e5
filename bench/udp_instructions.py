#!/usr/bin/python3
"""User-space instructions per answered UDP announce, under callgrind (wall clock and CPU time
are useless on a shared machine; instruction counts are not). Runs btrt with the kit's
btrt+groups configuration, or the UDP floor, under valgrind, loads it with bench_udp_load as
bench.py does (registration, warm-up), zeroes the counters, loads it SECONDS more, dumps, and
prints per announce the whole process and the threads that matter.

  bench/udp_instructions.py btrt|floor WORKDIR [SECONDS]

Uses BENCH_BUILD_DIR / BENCH_BTRT like bench.py. Everything stays on 127.0.0.0/8; the tracker
is stopped by its PID, every wait is bounded."""
import glob
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# Inclusive costs worth a line: the UDP worker thread (an io thread of the HTTP server), the
# request path inside it, and the write-behind's flush (its own thread).
FUNCTIONS = ["http::Server::start()::{lambda()#2}", "Handler::handle(", "Handler::announce(",
             "Tracker::announce(", "SwarmStore::announce(", "select_peers(",
             "WriteBehind::flush()"]


def main():
    which, workdir = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    os.makedirs(workdir, exist_ok=True)
    out = os.path.join(workdir, "callgrind.out")
    for f in glob.glob(out + "*"):
        os.remove(f)
    port = bench.free_udp_port()
    if which == "btrt":
        cidr, _ = bench.write_peer_group_table(workdir, int(bench.env("BENCH_PREFIXES")))
        conf = bench.write_btrt_config(workdir, "btrt", bench.free_port(), 1, cidr, port)
        target = [bench.BTRT, "run", "-c", conf]
    else:
        target = [bench.FLOOR_UDP, "--port", str(port)]
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + target
    with open(os.path.join(workdir, "tracker.out"), "w") as log:
        proc = subprocess.Popen(bench.pinned(bench.TRACKER_CPU, argv), stdout=log,
                                stderr=subprocess.STDOUT, cwd=workdir)
    tracker = type("T", (), {})()
    tracker.udp_port, tracker.name = port, which
    tracker.cpu_seconds = lambda: bench.proc_cpu_seconds(proc.pid)
    try:
        deadline = time.monotonic() + 300
        while not bench.udp_ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{which} did not start under valgrind")
            time.sleep(0.5)
        if which == "btrt":
            bench.run_udp_load(tracker, 600, seq=True)
        bench.run_udp_load(tracker, bench.WARMUP)
        bench.callgrind_measure(
            proc.pid, out, lambda: bench.run_udp_load(tracker, seconds),
            lambda r: r["announce_answers"],
            lambda r: f"{which}: {int(r['announce_answers'])} announces answered in "
                      f"{r['seconds']:.0f} s under callgrind",
            FUNCTIONS)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
