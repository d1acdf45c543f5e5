#!/usr/bin/python3
"""Forwarded announces (targets: docs/performance.md): bench/forwarding.sh runs this.

1. Throughput: one btrt (1 thread, pinned like bench.py's) answers the same 100,000-peer load
   (bench/announce.lua) as plain announces and as transparent forwarded announces whose
   origin (a tracker on loopback) has answered once per torrent, so they are served from the
   origin cache. Prints both and the ratio (target: forwarded >= 0.8 x plain); opentracker's
   plain figure in the same run for scale.
2. Waiting: BENCH_WAITERS subscribers (distinct torrents, so nothing is merged) wait at once on
   an origin that answers after BENCH_ORIGIN_DELAY seconds. Prints btrt's threads and resident
   memory before, while they all wait, and after; and how long the answers took.
Only 127.0.0.1 is used; the processes started here are stopped by their PIDs.
"""
import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the kit's helpers: trackers, wrk, medians)

WAITERS = int(os.environ.get("BENCH_WAITERS", "2000"))
ORIGIN_DELAY = float(os.environ.get("BENCH_ORIGIN_DELAY", "3"))
CONNS = int(os.environ.get("BENCH_FORWARD_CONNS", "16"))


def bencode_answer(peers=b"", interval=3600):
    return (b"d8:completei1e10:incompletei2e8:intervali%de5:peers%d:%se" %
            (interval, len(peers), peers))


class FastOrigin:
    """An origin tracker that answers at once with one external peer and a long interval."""

    def __init__(self):
        origin = self
        self.count = 0
        self.lock = threading.Lock()
        body = bencode_answer(socket.inet_aton("192.0.2.1") + (6881).to_bytes(2, "big"))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with origin.lock:
                    origin.count += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write_config(workdir, port, timeout, max_concurrent):
    path = os.path.join(workdir, f"btrt-fwd-{port}.conf")
    with open(path, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1:{port}"]
  threads: 1
  hostnames: ["localhost", "retracker.local"]
  trusted_sources: ["127.0.0.1/32"]
  max_connections: {WAITERS * 2 + 1000}
  request_timeout: 60
tracker:
  locality_cutoff: 0
logging:
  path: "{workdir}/log-fwd"
  level: "warning"
database:
  url: "sqlite://{workdir}/fwd-{port}.db"
forwarding:
  timeout: {timeout}
  max_concurrent: {max_concurrent}
  allowed_destinations: ["127.0.0.0/8"]
peer_groups: []
""")
    return path


def start_btrt(workdir, timeout=5, max_concurrent=512, cpu=None):
    port = bench.free_port()
    conf = write_config(workdir, port, timeout, max_concurrent)
    return bench.Tracker("btrt", [bench.BTRT, "run", "-c", conf], port, workdir, cpu)


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def throughput(workdir, report):
    origin = FastOrigin()
    ot = bench.start_opentracker(workdir, "opentracker", bench.free_port(), bench.TRACKER_CPU)
    btrt = start_btrt(workdir, cpu=bench.TRACKER_CPU)
    try:
        forwarded = [f"origin={origin.port}"]
        # Every torrent's origin answer cached first: one forwarded announce per torrent.
        asyncio.run(fill_origin_cache(btrt.port, origin.port))
        if origin.count < bench.ANNOUNCE_TORRENTS:
            raise RuntimeError(f"origin asked only {origin.count} times while filling the cache")
        for t, args in ((btrt, []), (btrt, forwarded), (ot, [])):
            bench.run_wrk(t, "announce.lua", CONNS, bench.WARMUP, args + ["seq"])
            bench.run_wrk(t, "announce.lua", CONNS, bench.WARMUP, args)
        asked = origin.count
        bench.log(f"origin asked {asked} times during the warm-up "
                  f"({bench.ANNOUNCE_TORRENTS} torrents)")
        rows = []
        for mode in ("keep-alive", "close"):
            extra = ["close"] if mode == "close" else []
            runs = {"opentracker": [], "btrt plain": [], "btrt forwarded": []}
            for _ in range(bench.RUNS):
                runs["opentracker"].append(bench.run_wrk(ot, "announce.lua", CONNS,
                                                         bench.SECONDS, extra))
                runs["btrt plain"].append(bench.run_wrk(btrt, "announce.lua", CONNS,
                                                        bench.SECONDS, extra))
                runs["btrt forwarded"].append(bench.run_wrk(btrt, "announce.lua", CONNS,
                                                            bench.SECONDS, extra + forwarded))
            med = {k: bench.median_of(v) for k, v in runs.items()}
            for k, m in med.items():
                if m["errors"]:
                    bench.log(f"warning: {k} {mode}: {m['errors']} errors")
            rows.append((mode, med))
            bench.log(f"{mode}: " + ", ".join(f"{k} {m['rps']:.0f}/s" for k, m in med.items()))
        during = origin.count - asked
        report.add(f"Forwarded announces served from the origin cache, c{CONNS}, "
                   f"{bench.RUNS} runs x {bench.SECONDS} s, medians "
                   f"(origin asked {asked} times in the warm-up, {during} times during the runs)")
        table = []
        for mode, med in rows:
            p, f, o = med["btrt plain"], med["btrt forwarded"], med["opentracker"]
            table.append([mode, f"{o['rps']:.0f}", f"{p['rps']:.0f}", f"{f['rps']:.0f}",
                          f"{f['rps'] / p['rps']:.2f}", f"{p['cpu_us']:.1f}", f"{f['cpu_us']:.1f}",
                          f"{f['p99_us']:.0f}"])
        report.table(["mode", "opentracker req/s", "btrt plain req/s", "btrt fwd req/s",
                      "fwd/plain", "plain CPU µs", "fwd CPU µs", "fwd p99 µs"], table)
    finally:
        btrt.stop()
        ot.stop()
        origin.close()


async def fill_origin_cache(port, origin_port, parallel=32):
    """One forwarded announce per torrent of bench/announce.lua (torrent t = its peer t)."""
    queue = list(range(bench.ANNOUNCE_TORRENTS))

    async def worker():
        while queue:
            n = queue.pop()
            _, good = await one_subscriber(port, origin_port, n, hash_tail=b"B")
            if not good:
                raise RuntimeError(f"forwarded announce {n} failed")

    await asyncio.gather(*(worker() for _ in range(parallel)))


async def slow_origin_server(delay, counter):
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                counter["in"] += 1
                await asyncio.sleep(delay)
                body = bencode_answer()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, backlog=WAITERS * 2)


async def one_subscriber(port, origin_port, n, hash_tail=b"W"):
    ih = b"".join(b"%%%02X" % b for b in n.to_bytes(4, "big")) + hash_tail * 16
    target = (b"/announce?info_hash=" + ih + b"&peer_id=-WT0001-%012d&port=6881&left=1"
              b"&event=started&compact=1" % n)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 b"X-Forwarded-For: 10.%d.%d.%d\r\nConnection: close\r\n\r\n" %
                 (origin_port, (n >> 16) & 255, (n >> 8) & 255, n & 255))
    await writer.drain()
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), timeout=60)
    writer.close()
    return time.monotonic() - started, data.startswith(b"HTTP/1.1 200") and b"interval" in data


async def waiting(workdir, report):
    counter = {"in": 0}
    server = await slow_origin_server(ORIGIN_DELAY, counter)
    origin_port = server.sockets[0].getsockname()[1]
    btrt = start_btrt(workdir, timeout=int(ORIGIN_DELAY) + 5, max_concurrent=WAITERS + 10)
    try:
        before = (threads_of(btrt.pid), btrt.rss_kib())
        tasks = [asyncio.create_task(one_subscriber(btrt.port, origin_port, n))
                 for n in range(WAITERS)]
        deadline = time.monotonic() + 30
        while counter["in"] < WAITERS and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        during = (threads_of(btrt.pid), btrt.rss_kib(), counter["in"])
        results = await asyncio.gather(*tasks)
        after = (threads_of(btrt.pid), btrt.rss_kib())
    finally:
        btrt.stop()
        server.close()
    ok = sum(1 for _, good in results if good)
    times = sorted(t for t, _ in results)
    report.add("")
    report.add(f"{WAITERS} subscribers waiting on one origin that answers after "
               f"{ORIGIN_DELAY:.0f} s (distinct torrents: nothing merged)")
    report.table(["", "btrt threads", "btrt RSS MiB", "upstream requests in flight"],
                 [["before", before[0], f"{before[1] / 1024:.1f}", 0],
                  ["all waiting", during[0], f"{during[1] / 1024:.1f}", during[2]],
                  ["after", after[0], f"{after[1] / 1024:.1f}", 0]])
    report.add(f"answered {ok}/{WAITERS}; answer time median {times[len(times) // 2]:.2f} s, "
               f"max {times[-1]:.2f} s; RSS per waiting subscriber "
               f"{(during[1] - before[1]) * 1024 / max(WAITERS, 1):.0f} bytes")


def main():
    for path, what in ((bench.BTRT, "btrt"), (bench.OPENTRACKER, "opentracker"),
                       (bench.WRK, "wrk")):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {what} not found at {path} (run bench/forwarding.sh)")
    report = bench.Report()
    workdir = tempfile.mkdtemp(prefix="btrt-bench-fwd-")
    os.chmod(workdir, 0o755)
    with open(os.path.join(workdir, "whitelist.txt"), "w") as f:
        for t in range(bench.ANNOUNCE_TORRENTS):
            f.write(bench.info_hash_bytes(t).hex() + "\n")
    os.chmod(os.path.join(workdir, "whitelist.txt"), 0o644)
    report.add(f"btrt forwarding benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')}; "
               f"{bench.NCPU} cores, {bench.cpu_model()}; load average {bench.load_average()}")
    throughput(workdir, report)
    asyncio.run(waiting(workdir, report))



if __name__ == "__main__":
    main()
