#!/usr/bin/python3
"""Load benchmark of btrt against Debian's opentracker and against the floors, servers that do
only the socket work of a tracker (targets: docs/performance.md). Run by bench/run.sh, which
installs the packages and builds btrt first; see docs/performance.md.

Everything stays on 127.0.0.0/8. Every process started here is ended here, by its PID; every
wait is bounded. Settings come from the environment (see DEFAULTS).
"""

import datetime
import glob
import ipaddress
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

DEFAULTS = {
    # length of one measured wrk run: btrt's flush interval (FLUSH_INTERVAL), so that every
    # run of btrt holds one flush of its write-behind and its CPU per request the flush's share
    "BENCH_SECONDS": "10",
    "BENCH_RUNS": "3",  # runs per configuration; the table shows medians
    "BENCH_WARMUP": "3",  # seconds of random load before measuring, per tracker
    "BENCH_CONNS": "16 64",  # wrk connection counts
    "BENCH_THREADS2": "1",  # 1: also measure btrt with 2 threads, unpinned
    "BENCH_PREFIXES": "50000",  # prefixes of the realistic peer-group table
    "BENCH_MEMORY_PEERS": "1000000",
    "BENCH_MEMORY_TORRENTS": "100000",
    "BENCH_MEMORY_SECONDS": "240",  # bound of one memory load
    "BENCH_TRACKER_CPU": "0",  # core for the trackers
    "BENCH_LOAD_CPU": "1",  # core for wrk and the loader
    "BENCH_SECTIONS": "announce scrape udp memory",
    "BENCH_UDP_SOCKETS": "32",  # UDP client sockets, one loopback source address each
    "BENCH_UDP_WINDOW": "4",  # UDP announces in flight per socket
}

FLUSH_INTERVAL = 10  # btrt's database.flush_interval in the bench configuration (its default)
ANNOUNCE_PEERS = 100_000
ANNOUNCE_TORRENTS = 10_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def env(name):
    return os.environ.get(name, DEFAULTS[name])


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
BUILD = os.environ.get("BENCH_BUILD_DIR", os.path.join(ROOT, "build-bench"))
BTRT = os.environ.get("BENCH_BTRT", os.path.join(BUILD, "src", "btrt"))
LOADER = os.path.join(BUILD, "bench", "bench_loader")
UDP_LOAD = os.path.join(BUILD, "bench", "bench_udp_load")
FLOOR_HTTP = os.path.join(BUILD, "bench", "bench_floor_http")
FLOOR_UDP = os.path.join(BUILD, "bench", "bench_floor_udp")
OPENTRACKER = shutil.which("opentracker") or "/usr/bin/opentracker"
WRK = shutil.which("wrk") or "/usr/bin/wrk"

SECONDS = int(env("BENCH_SECONDS"))
RUNS = int(env("BENCH_RUNS"))
WARMUP = int(env("BENCH_WARMUP"))
CONNS = [int(c) for c in env("BENCH_CONNS").split()]
TRACKER_CPU = env("BENCH_TRACKER_CPU")
LOAD_CPU = env("BENCH_LOAD_CPU")
SECTIONS = env("BENCH_SECTIONS").split()
UDP_SOCKETS = int(env("BENCH_UDP_SOCKETS"))
UDP_WINDOW = int(env("BENCH_UDP_WINDOW"))
UDP_SRC = "127.100.0.1"  # the UDP load's first source address; btrt trusts 127.100.0.0/16
NCPU = os.cpu_count() or 1
PIN = NCPU >= 2


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pinned(cpu, argv):
    return ["taskset", "-c", cpu] + argv if PIN and cpu is not None else argv


def slug(name):
    return re.sub(r"[^A-Za-z0-9]+", "_", name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def info_hash_bytes(t):
    return t.to_bytes(4, "big") + b"B" * 16


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


# --------------------------------------------------------------------------------------------
# trackers


def tcp_ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def udp_connect(port, sock):
    """BEP 15 connect from sock; the connection id, or None when no answer came in time."""
    txid = random.getrandbits(32)
    sock.sendto(struct.pack(">QII", 0x41727101980, 0, txid), ("127.0.0.1", port))
    try:
        data = sock.recv(2048)
    except OSError:  # timeout or refused
        return None
    if len(data) < 16 or struct.unpack(">II", data[:8]) != (0, txid):
        return None
    return struct.unpack(">Q", data[8:16])[0]


def udp_ready(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        return udp_connect(port, sock) is not None


def udp_sanity_check(tracker):
    """Peer 5 of the pool announces again over UDP (as bench_udp_load would, with ip=10.0.0.5)
    and gets the other peers of torrent 5. Returns how many."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.bind((UDP_SRC, 0))
        cid = udp_connect(tracker.udp_port, sock)
        if cid is None:
            raise RuntimeError(f"{tracker.name}: no UDP connect answer")
        txid = random.getrandbits(32)
        packet = struct.pack(">QII20s20sQQQIIIiH", cid, 1, txid, info_hash_bytes(5),
                             b"-WR0001-000000000005", 0, 0, 0, 0,
                             int(ipaddress.ip_address("10.0.0.5")), 5, 50, 1030)
        sock.sendto(packet, ("127.0.0.1", tracker.udp_port))
        data = sock.recv(2048)
    if len(data) < 20 or struct.unpack(">II", data[:8]) != (1, txid):
        raise RuntimeError(f"{tracker.name}: bad UDP announce answer {data[:64]!r}")
    return (len(data) - 20) // 6


class Tracker:
    """A tracker process we started; stopped by its PID."""

    def __init__(self, name, argv, port, workdir, cpu, ready=None, udp_port=None):
        self.name, self.port, self.workdir, self.udp_port = name, port, workdir, udp_port
        self.log_path = os.path.join(workdir, f"{slug(name)}.out")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(pinned(cpu, argv), stdout=self.log_file,
                                     stderr=subprocess.STDOUT, cwd=workdir)
        self.pid = self.proc.pid  # taskset execs the tracker: same PID
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited at start (see {self.log_path})")
            if (ready or tcp_ready)(port):
                break
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"{name} did not answer on port {port} within 15 s")
        time.sleep(0.3)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def rss_kib(self, field="VmRSS"):
        return rss_kib(self.pid, field)

    def settled_rss_kib(self, quiet, bound):
        """VmRSS once it has not changed for `quiet` seconds (btrt's write-behind flushes
        every database.flush_interval), at most `bound` seconds."""
        last, since, deadline = self.rss_kib(), time.monotonic(), time.monotonic() + bound
        while time.monotonic() < deadline and time.monotonic() - since < quiet:
            time.sleep(0.5)
            now = self.rss_kib()
            if now != last:
                last, since = now, time.monotonic()
        return last

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log_file.close()


def write_btrt_config(workdir, name, port, threads, cidr_files, udp_port=None):
    lines = [
        "server:",
        f'  listen: ["127.0.0.1:{port}"]',
        f"  threads: {threads}",
        '  hostnames: ["localhost", "127.0.0.1", "retracker.local"]',
        # the UDP load's sources send the pool's 10.a.b.c addresses as wrk's ip= does
        '  trusted_sources: ["127.0.0.1/32", "127.100.0.0/16"]',
    ]
    if udp_port:
        lines.append(f'  udp_listen: ["127.0.0.1:{udp_port}"]')
    lines += [
        "tracker:",
        "  locality_cutoff: 0",
        "  numwant_max: 200",
        "logging:",
        f'  path: "{workdir}/log-{name}"',
        '  level: "warning"',
        "database:",  # persistence is always on in btrt: SQLite in the work directory
        f'  url: "sqlite://{workdir}/{name}.db"',
        f"  flush_interval: {FLUSH_INTERVAL}",
        "forwarding:",
        "  enabled: false",
        "neighbors: []",
    ]
    if cidr_files:
        lines.append("peer_groups:")
        for priority, (group, path) in enumerate(cidr_files):
            lines += [f'  - name: "{group}"', f"    priority: {priority}", f'    cidr_file: "{path}"']
    else:
        lines.append("peer_groups: []")
    path = os.path.join(workdir, f"{name}.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    check = subprocess.run([BTRT, "check-config", "-c", path], capture_output=True, text=True,
                           timeout=60)
    if check.returncode != 0:
        raise RuntimeError(f"btrt check-config {path}: {check.stdout}{check.stderr}")
    return path


def write_peer_group_table(workdir, count):
    """A realistic table: `count` prefixes in two groups (local 80 %, partner 20 %), mostly
    /19–/24 scattered over the public IPv4 space like a routing table, plus /24s and some
    longer prefixes over 10.0.0.0/15 where the announce benchmark's peers live, so that about
    40 % of them rank local, 30 % partner and 30 % other."""
    rng = random.Random(12)
    local, partner, seen = [], [], set()

    def add(net, to):
        if net not in seen:
            seen.add(net)
            to.append(net)

    for i in range(512):  # the /24s of 10.0.0.0/15
        net = ipaddress.ip_network(f"10.{i // 256}.{i % 256}.0/24")
        r = rng.random()
        if r < 0.4:
            add(net, local)
        elif r < 0.7:
            add(net, partner)
        if rng.random() < 0.25:  # a longer prefix of the other kind inside
            sub = ipaddress.ip_network(f"10.{i // 256}.{i % 256}.{rng.randrange(0, 256, 32)}/27")
            add(sub, partner if r < 0.4 else local)
    lengths = [16, 17, 18, 19, 20, 21, 22, 22, 23, 23, 24, 24, 24, 24, 24, 24]
    while len(local) + len(partner) < count:
        length = rng.choice(lengths)
        first = rng.randrange(11, 224)  # public unicast, away from 10/8
        addr = (first << 24) | rng.getrandbits(24)
        net = ipaddress.ip_network((addr >> (32 - length) << (32 - length), length))
        add(net, local if rng.random() < 0.8 else partner)
    files = []
    for group, nets in (("local peers", local), ("partner peers", partner)):
        path = os.path.join(workdir, group.split()[0] + "_cidrs.conf")
        with open(path, "w") as f:
            f.write(f"# generated by bench/bench.py: {len(nets)} prefixes\n")
            f.writelines(f"{n}\n" for n in nets)
        files.append((group, path))
    return files, len(local) + len(partner)


def start_opentracker(workdir, name, port, cpu, udp_port=None):
    # Debian builds opentracker with a whitelist (README.Debian): list every benchmark hash.
    # -d chroots into workdir (as root), -u drops to nobody, so workdir must be world-readable.
    # -i applies to the -p/-P after it: both sockets are on 127.0.0.1.
    udp = ["-P", str(udp_port)] if udp_port else []
    return Tracker(name, [OPENTRACKER, "-i", "127.0.0.1", "-p", str(port)] + udp +
                   ["-d", workdir, "-u", "nobody", "-w", "whitelist.txt"], port, workdir, cpu,
                   udp_port=udp_port)


def start_btrt(workdir, name, threads, cidr_files, cpu, udp_port=None):
    port = free_port()
    conf = write_btrt_config(workdir, slug(name), port, threads, cidr_files, udp_port)
    return Tracker(name, [BTRT, "run", "-c", conf], port, workdir, cpu, udp_port=udp_port)


def start_floor_http(workdir, cpu):
    port = free_port()
    return Tracker("floor", [FLOOR_HTTP, "--port", str(port)], port, workdir, cpu)


def start_floor_udp(workdir, cpu):
    port = free_udp_port()
    return Tracker("floor", [FLOOR_UDP, "--port", str(port)], port, workdir, cpu,
                   ready=udp_ready, udp_port=port)


def sanity_check(tracker):
    """A real answer, not a failure: peer 5 of bench/announce.lua announces again and gets
    the other peers of torrent 5. Returns how many."""
    hash_q = urllib.request.quote(info_hash_bytes(5), safe="")
    url = (f"{tracker.url}/announce?info_hash={hash_q}&peer_id=-WR0001-000000000005"
           "&port=1030&ip=10.0.0.5&uploaded=0&downloaded=0&left=0&compact=1&numwant=50")
    with urllib.request.urlopen(url, timeout=5) as r:
        body = r.read()
    if b"failure reason" in body or b"5:peers" not in body:
        raise RuntimeError(f"{tracker.name}: bad announce answer {body[:200]!r}")
    m = re.search(rb"5:peers(\d+):", body)
    with urllib.request.urlopen(f"{tracker.url}/scrape?info_hash={hash_q}", timeout=5) as r:
        scrape = r.read()
    if b"failure reason" in scrape or b"complete" not in scrape:
        raise RuntimeError(f"{tracker.name}: bad scrape answer {scrape[:200]!r}")
    return int(m.group(1)) // 6


# --------------------------------------------------------------------------------------------
# load


def run_loader(tracker, peers, torrents, conns, close, seconds, src, extra=()):
    argv = [LOADER, "--port", str(tracker.port), "--peers", str(peers), "--torrents",
            str(torrents), "--conns", str(conns), "--seconds", str(seconds), "--src", src]
    argv += list(extra)
    if close:
        argv.append("--close")
    out = subprocess.run(pinned(LOAD_CPU, argv), capture_output=True, text=True,
                         timeout=seconds + 60)
    m = re.search(r"LOADER ok=(\d+) failed=(\d+) errors=(\d+) seconds=([\d.]+) rate=(\d+)",
                  out.stdout)
    if not m:
        raise RuntimeError(f"loader: {out.stdout}{out.stderr}")
    ok, failed, errors = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return {"ok": ok, "failed": failed, "errors": errors, "seconds": float(m.group(4)),
            "rate": int(m.group(5))}


def run_load(tracker, argv, bound):
    """Runs a load generator pinned to the load core; returns its output, its CPU seconds (from
    wait4: taskset execs it, same PID) and the tracker's CPU seconds during it. Bounded."""
    cpu_before = tracker.cpu_seconds()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(pinned(LOAD_CPU, argv), stdout=out, stderr=subprocess.STDOUT,
                                text=True)
        deadline = time.monotonic() + bound
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=10)
                raise RuntimeError(f"{os.path.basename(argv[0])} did not finish in time")
            time.sleep(0.05)
        cpu_after = tracker.cpu_seconds()
        out.seek(0)
        return out.read(), usage.ru_utime + usage.ru_stime, cpu_after - cpu_before


def run_wrk(tracker, script, conns, seconds, args):
    argv = [WRK, "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s",
            os.path.join(BENCH, script), tracker.url, "--"] + args
    text, wrk_cpu, tracker_cpu = run_load(tracker, argv, seconds + 60)
    m = re.search(r"RESULT (.*)", text)
    if not m:
        raise RuntimeError(f"wrk: {text}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    seconds_run = r["duration_us"] / 1e6
    r["rps"] = r["requests"] / seconds_run
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["cpu_us"] = tracker_cpu * 1e6 / max(r["requests"], 1)
    r["tracker_pct"] = tracker_cpu * 100 / seconds_run
    r["wrk_pct"] = wrk_cpu * 100 / seconds_run
    return r


def run_udp_load(tracker, seconds, seq=False):
    argv = [UDP_LOAD, "--port", str(tracker.udp_port), "--seconds", str(seconds), "--sockets",
            str(UDP_SOCKETS), "--window", str(UDP_WINDOW), "--src", UDP_SRC, "--peers",
            str(ANNOUNCE_PEERS), "--torrents", str(ANNOUNCE_TORRENTS), "--numwant", "50"]
    if seq:
        argv.append("--seq")
    text, load_cpu, tracker_cpu = run_load(tracker, argv, seconds + 60)
    m = re.search(r"UDPLOAD (.*)", text)
    if not m:
        raise RuntimeError(f"bench_udp_load: {text}")
    r = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["announce_answers"] / r["seconds"]
    r["cpu_us"] = tracker_cpu * 1e6 / max(r["announce_answers"], 1)
    r["tracker_pct"] = tracker_cpu * 100 / r["seconds"]
    r["load_pct"] = load_cpu * 100 / r["seconds"]
    return r


def callgrind_measure(pid, out, load, count, describe, functions):
    """Zeroes callgrind's counters in process `pid` (run with --callgrind-out-file=`out`),
    runs load(), dumps, and prints describe(result), then the whole process's and each found
    function's inclusive instructions per count(result). Returns load()'s result."""
    control = ["callgrind_control"]
    subprocess.run(control + ["-z", str(pid)], check=True, capture_output=True, timeout=120)
    result = load()
    subprocess.run(control + ["-d", "measured", str(pid)], check=True, capture_output=True,
                   timeout=120)
    dump = next(f for f in sorted(glob.glob(out + "*"), key=os.path.getmtime, reverse=True)
                if "measured" in open(f, errors="replace").read(4096))
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", dump],
                          capture_output=True, text=True, timeout=300).stdout
    total = int(re.search(r"([\d,]+)(?: \(100.0%\))?\s+PROGRAM TOTALS", text)
                .group(1).replace(",", ""))
    n = count(result)
    print(describe(result))
    print(f"  whole process: {total / n:.0f} instructions per announce")
    for f in functions:
        line = next((ln for ln in text.splitlines() if f in ln), None)
        if line:
            print(f"  {f}: {int(line.split()[0].replace(',', '')) / n:.0f}")
    return result


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs)
            for k in ("rps", "p50_us", "p99_us", "cpu_us", "errors", "requests", "tracker_pct",
                      "wrk_pct")}


# --------------------------------------------------------------------------------------------
# report


class Report:
    def __init__(self):
        self.lines = []

    def add(self, line=""):
        self.lines.append(line)
        print(line, flush=True)

    def table(self, header, rows):
        widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
        fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths)))
        self.add(fmt(header))
        self.add("  ".join("-" * w for w in widths))
        for r in rows:
            self.add(fmt(r))


RATIO_FIELDS = ("rps", "p50_us", "p99_us", "cpu_us")


def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def udp_section(report, workdir, cidr_files, trackers):
    """BEP 15 announces from bench_udp_load against opentracker (-P), the UDP floor and btrt
    (server.udp_listen), side by side and interleaved like the HTTP runs."""
    variants = [  # the btrt's own name keeps its database apart from the HTTP runs' one
        ("opentracker", lambda: start_opentracker(workdir, "opentracker", free_port(),
                                                  TRACKER_CPU, free_udp_port())),
        ("floor", lambda: start_floor_udp(workdir, TRACKER_CPU)),
        ("btrt+groups", lambda: start_btrt(workdir, "btrt+groups-udp", 1, cidr_files,
                                           TRACKER_CPU, free_udp_port())),
    ]
    started, skipped = {}, {}  # label -> tracker / why not
    for name, start in variants:
        log(f"udp: starting {name}")
        try:
            tracker = start()
        except RuntimeError as e:
            # A btrt without a UDP server refuses the key at check-config: say so, go on.
            if name.startswith("btrt") and "udp_listen" in str(e):
                skipped[name] = "this btrt refuses server.udp_listen (no UDP server): skipped"
                log(f"udp: {name}: {skipped[name]}\n{e}")
                continue
            raise
        trackers.append(tracker)
        started[name] = tracker
        if name != "floor":
            # Register every peer of the pool once (the same peers, addresses and hashes as the
            # HTTP runs), then random load.
            reg = run_udp_load(tracker, 120, seq=True)
            if reg["announce_answers"] < ANNOUNCE_PEERS:
                raise RuntimeError(f"udp {name}: registration answered {reg}")
        run_udp_load(tracker, WARMUP)
        n = udp_sanity_check(tracker)
        log(f"udp {name}: ready; torrent 5 answers {n} peers")

    runs = {name: [] for name in started}
    for _ in range(RUNS):
        for name, t in started.items():
            runs[name].append(run_udp_load(t, SECONDS))
    fields = ("rps", "cpu_us", "tracker_pct", "load_pct", "lost", "unmatched", "reconnects",
              "error_answers")
    med = {n: {k: statistics.median(r[k] for r in rs) for k in fields} for n, rs in runs.items()}
    log("udp: " + ", ".join(f"{n} {m['rps']:.0f}/s" for n, m in med.items()))
    for t in started.values():
        t.stop()
        trackers.remove(t)

    report.add(f"UDP (BEP 15): announces from {UDP_SOCKETS} sockets (sources 127.100.0.1..), "
               f"{UDP_WINDOW} in flight each, same pool as HTTP; numwant 50")
    names = [v[0] for v in variants]
    header = [""] + names + ["btrt ÷ ot", "btrt ÷ floor"]
    rows = []
    for label, field, fmt in (("answered announces/s", "rps", "{:.0f}"),
                              ("CPU µs/announce", "cpu_us", "{:.2f}"),
                              ("tracker CPU %", "tracker_pct", "{:.0f}"),
                              ("load CPU %", "load_pct", "{:.0f}"),
                              ("lost (timed out)", "lost", "{:.0f}"),
                              ("late answers", "unmatched", "{:.0f}"),
                              ("error answers", "error_answers", "{:.0f}"),
                              ("reconnects", "reconnects", "{:.0f}")):
        row = [label] + [fmt.format(med[n][field]) if n in med else "skipped" for n in names]
        bt = med.get("btrt+groups")
        for ref in ("opentracker", "floor"):
            row.append(ratio(bt[field], med[ref][field])
                       if bt and ref in med and field in ("rps", "cpu_us") else "")
        rows.append(row)
    report.table(header, rows)
    for name, why in skipped.items():
        report.add(f"- {name}: {why}")
    report.add("")


def main():
    for path, what in ((BTRT, "btrt"), (LOADER, "bench_loader"), (OPENTRACKER, "opentracker"),
                       (WRK, "wrk"), (UDP_LOAD, "bench_udp_load"), (FLOOR_HTTP, "bench_floor_http"),
                       (FLOOR_UDP, "bench_floor_udp")):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {what} not found at {path} (run bench/run.sh)")
    started = time.monotonic()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    report = Report()
    workdir = tempfile.mkdtemp(prefix="btrt-bench-")
    os.chmod(workdir, 0o755)  # opentracker reads its whitelist after dropping to nobody
    trackers = []
    try:
        with open(os.path.join(workdir, "whitelist.txt"), "w") as f:
            for t in range(max(ANNOUNCE_TORRENTS, int(env("BENCH_MEMORY_TORRENTS")))):
                f.write(info_hash_bytes(t).hex() + "\n")
        os.chmod(os.path.join(workdir, "whitelist.txt"), 0o644)
        cidr_files, prefixes = write_peer_group_table(workdir, int(env("BENCH_PREFIXES")))

        report.add(f"btrt vs opentracker and the floors, {stamp}")
        report.add(f"machine: {NCPU} cores, {cpu_model()}; load average at start: "
                   f"{load_average()}")
        btrt_version = subprocess.run([BTRT, "version"], capture_output=True, text=True,
                                      timeout=30).stdout.splitlines()
        ot_pkg = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "opentracker"],
                                capture_output=True, text=True, timeout=30).stdout
        report.add(f"btrt: {btrt_version[0] if btrt_version else '?'} ({BTRT}); "
                   f"opentracker: Debian {ot_pkg}; wrk -t1")
        if PIN:
            report.add(f"trackers pinned to core {TRACKER_CPU} (btrt 2 threads: unpinned), "
                       f"wrk and loader to core {LOAD_CPU}")
        report.add(f"{RUNS} runs of {SECONDS} s per configuration, medians; warm-up {WARMUP} s")
        report.add("")

        # The trackers of the announce and scrape benchmarks run side by side (idle ones cost
        # nothing) so that the runs can be interleaved: a change of machine load during the
        # kit then hits every tracker alike. The floor runs beside them in the announce runs.
        variants = [
            ("opentracker", lambda: start_opentracker(workdir, "opentracker", free_port(),
                                                      TRACKER_CPU)),
            ("floor", lambda: start_floor_http(workdir, TRACKER_CPU)),
            ("btrt", lambda: start_btrt(workdir, "btrt", 1, [], TRACKER_CPU)),
            ("btrt+groups", lambda: start_btrt(workdir, "btrt+groups", 1, cidr_files,
                                               TRACKER_CPU)),
        ]
        if env("BENCH_THREADS2") == "1":
            variants.append(("btrt+groups 2thr",
                             lambda: start_btrt(workdir, "btrt+groups 2thr", 2,
                                                cidr_files, None)))
        names = [v[0] for v in variants]
        btrts = [n for n in names if n.startswith("btrt")]

        if "announce" in SECTIONS or "scrape" in SECTIONS:
            for name, start in variants:
                log(f"starting {name}")
                tracker = start()
                trackers.append(tracker)
                if name == "floor":  # stores nothing: only the warm-up of its sockets
                    run_wrk(tracker, "announce.lua", CONNS[0], WARMUP, [])
                    continue
                # Register every one of the 100,000 peers once, then random load.
                is_ot = name == "opentracker"
                loaded = run_loader(tracker, ANNOUNCE_PEERS, ANNOUNCE_TORRENTS, 16, is_ot, 120,
                                    "127.0.0.1", ["--wrk-peers", "--numwant", "50"])
                if loaded["ok"] != ANNOUNCE_PEERS:
                    raise RuntimeError(f"{name}: warm-up registered {loaded}")
                run_wrk(tracker, "announce.lua", CONNS[0], WARMUP, [])
                n = sanity_check(tracker)
                log(f"{name}: {ANNOUNCE_PEERS} peers registered in {loaded['seconds']:.1f} s; "
                    f"torrent 5 answers {n} peers")

        results = {}  # (section, mode, conns) -> name -> median
        run_lists = {}  # (section, mode, conns) -> name -> every run, in the order run

        def measure(section, script, modes, conns_list, measured):
            for mode in modes:
                for conns in conns_list:
                    runs = {t.name: [] for t in measured}
                    for i in range(RUNS):
                        for t in measured:
                            r = run_wrk(t, script, conns, SECONDS,
                                        ["close"] if mode == "close" else [])
                            runs[t.name].append(r)
                    results[(section, mode, conns)] = {n: median_of(rs) for n, rs in
                                                       runs.items()}
                    run_lists[(section, mode, conns)] = runs
                    log(f"{section} {mode} c{conns}: " + ", ".join(
                        f"{n} {m['rps']:.0f}/s" for n, m in
                        results[(section, mode, conns)].items()))

        if "announce" in SECTIONS:
            measure("announce", "announce.lua", ["keep-alive", "close"], CONNS, trackers)
        if "scrape" in SECTIONS:  # the floor answers every request alike: not a scrape floor
            measure("scrape", "scrape.lua", ["keep-alive", "close"], CONNS[:1],
                    [t for t in trackers if t.name != "floor"])
        for t in trackers:
            t.stop()
        trackers.clear()

        def metric_rows(key, section, mode, conns):
            res = results[(section, mode, conns)]
            ot = res["opentracker"]
            rows = []
            for label, field, fmt in (("req/s", "rps", "{:.0f}"), ("p50 µs", "p50_us", "{:.0f}"),
                                      ("p99 µs", "p99_us", "{:.0f}"),
                                      ("CPU µs/req", "cpu_us", "{:.1f}"),
                                      ("tracker CPU %", "tracker_pct", "{:.0f}"),
                                      ("wrk CPU %", "wrk_pct", "{:.0f}"),
                                      ("wrk errors", "errors", "{:.0f}")):
                row = [f"{key} {label}", fmt.format(ot[field])]
                if "floor" in res:
                    row.append(fmt.format(res["floor"][field]))
                for n in btrts:
                    row += [fmt.format(res[n][field]),
                            ratio(res[n][field], ot[field]) if field in RATIO_FIELDS else ""]
                rows.append(row)
            return rows

        for section in ("announce", "scrape"):
            keys = [k for k in results if k[0] == section]
            if not keys:
                continue
            header = ["", "opentracker"] + (["floor"] if "floor" in results[keys[0]] else [])
            for n in btrts:
                header += [n, "÷ ot"]
            if section == "announce":
                report.add("ANNOUNCE: 10,000 torrents, 100,000 peers, compact, numwant 50 "
                           "(÷ ot = btrt / opentracker)")
            else:
                report.add("SCRAPE: one random torrent of the 10,000 per request (no floor)")
            rows = []
            for (_, mode, conns) in keys:
                rows += metric_rows(f"{mode} c{conns}", section, mode, conns)
            report.table(header, rows)
            report.add("")

        announce_keys = [k for k in results if k[0] == "announce"]
        if announce_keys and "floor" in names:
            report.add("FLOOR: HTTP announce, CPU µs per answered request and req/s; btrt / floor "
                       "(target ≤ 1.25) and btrt / opentracker (target ≤ 1.0)")
            rows = []
            for key in announce_keys:
                res = results[key]
                fl, ot = res["floor"], res["opentracker"]
                for n in btrts:
                    # Run i of every tracker ran within the same minute: the ratio of each
                    # such pair shows how far the machine's load moved the ratio of medians.
                    paired = sorted(b["cpu_us"] / f["cpu_us"] for b, f in
                                    zip(run_lists[key][n], run_lists[key]["floor"])
                                    if f["cpu_us"] > 0)
                    spread = f"{paired[0]:.2f}–{paired[-1]:.2f}" if paired else "-"
                    rows.append([f"{key[1]} c{key[2]} {n}", f"{fl['cpu_us']:.1f}",
                                 f"{ot['cpu_us']:.1f}", f"{res[n]['cpu_us']:.1f}",
                                 ratio(res[n]["cpu_us"], fl["cpu_us"]), spread,
                                 ratio(res[n]["cpu_us"], ot["cpu_us"]),
                                 ratio(res[n]["rps"], fl["rps"]),
                                 ratio(res[n]["rps"], ot["rps"])])
            report.table(["", "floor µs", "ot µs", "btrt µs", "CPU ÷ floor",
                          "CPU ÷ floor, run by run", "CPU ÷ ot", "req/s ÷ floor",
                          "req/s ÷ ot"], rows)
            report.add("")

        if announce_keys and "btrt+groups" in names:
            report.add(f"PEER GROUPS: btrt with {prefixes:,} prefixes in 2 groups / btrt "
                       "without groups")
            rows = []
            for key in announce_keys:
                res = results[key]
                rows.append([f"{key[1]} c{key[2]}",
                             ratio(res["btrt+groups"]["rps"], res["btrt"]["rps"]),
                             ratio(res["btrt+groups"]["cpu_us"], res["btrt"]["cpu_us"])])
            report.table(["", "req/s ratio", "CPU/req ratio"], rows)
            report.add("")

        if announce_keys and "btrt+groups 2thr" in names:
            report.add("THREADS: btrt+groups with threads: 2 (unpinned, sharing a core with "
                       "wrk) against threads: 1 (pinned)")
            rows = []
            for key in announce_keys:
                one, two = results[key]["btrt+groups"], results[key]["btrt+groups 2thr"]
                rows.append([f"{key[1]} c{key[2]}", f"{one['rps']:.0f}", f"{two['rps']:.0f}",
                             ratio(two["rps"], one["rps"]), f"{one['tracker_pct']:.0f}",
                             f"{two['tracker_pct']:.0f}", f"{two['wrk_pct']:.0f}"])
            report.table(["", "req/s 1 thr", "req/s 2 thr", "scaling", "CPU % 1 thr",
                          "CPU % 2 thr", "wrk CPU % (2 thr)"], rows)
            report.add("")

        if "udp" in SECTIONS:
            udp_section(report, workdir, cidr_files, trackers)

        if "memory" in SECTIONS:
            peers = int(env("BENCH_MEMORY_PEERS"))
            torrents = int(env("BENCH_MEMORY_TORRENTS"))
            bound = int(env("BENCH_MEMORY_SECONDS"))
            mem = {}
            for name, start, close in (
                    ("opentracker", lambda: start_opentracker(workdir, "opentracker",
                                                              free_port(), TRACKER_CPU), True),
                    ("btrt+groups", lambda: start_btrt(workdir, "btrt+groups", 1, cidr_files,
                                                       TRACKER_CPU), False)):
                log(f"memory: {name}, {peers} peers")
                tracker = start()
                trackers.append(tracker)
                time.sleep(1)
                before = tracker.rss_kib()
                loaded = run_loader(tracker, peers, torrents, 32, close, bound, "127.100.0.1")
                after = tracker.rss_kib()
                # A flush of a burst of changes can take longer than flush_interval: settle
                # only after RSS has stayed put for two intervals (and the flushes ended).
                settled = tracker.settled_rss_kib(2 * FLUSH_INTERVAL + 5, 12 * FLUSH_INTERVAL)
                anon = tracker.rss_kib("RssAnon")
                tracker.stop()
                trackers.remove(tracker)
                mem[name] = {"before": before, "after": after, "settled": settled,
                             "anon": anon, **loaded,
                             "bpp": (settled - before) * 1024 / max(loaded["ok"], 1),
                             "bpp_peak": (after - before) * 1024 / max(loaded["ok"], 1)}
                log(f"memory {name}: {mem[name]}")
            report.add(f"MEMORY: {peers:,} distinct IPv4 peers (address:port) in {torrents:,} "
                       "torrents, registered over HTTP; VmRSS")
            ot, bt = mem["opentracker"], mem["btrt+groups"]
            mib = lambda kib: f"{kib / 1024:.1f}"
            rows = [
                ["VmRSS before, MiB", mib(ot["before"]), mib(bt["before"]), ""],
                ["VmRSS right after the load, MiB", mib(ot["after"]), mib(bt["after"]), ""],
                ["VmRSS settled, MiB", mib(ot["settled"]), mib(bt["settled"]), ""],
                ["  of it RssAnon, MiB", mib(ot["anon"]), mib(bt["anon"]), ""],
                ["peers registered", f"{ot['ok']:,}", f"{bt['ok']:,}", ""],
                ["bytes per peer (settled - before)", f"{ot['bpp']:.1f}", f"{bt['bpp']:.1f}",
                 ratio(bt["bpp"], ot["bpp"])],
                ["bytes per peer (right after - before)", f"{ot['bpp_peak']:.1f}",
                 f"{bt['bpp_peak']:.1f}", ratio(bt["bpp_peak"], ot["bpp_peak"])],
                ["load rate, announces/s", f"{ot['rate']:,}", f"{bt['rate']:,}",
                 ratio(bt["rate"], ot["rate"])],
            ]
            report.table(["", "opentracker (close)", "btrt+groups (keep-alive)", "ratio"], rows)
            report.add("")

        report.add("NOTES")
        report.add("- ratio = btrt / opentracker: above 1 is better for req/s, below 1 is better "
                   "for latency, CPU and memory.")
        report.add("- floor: bench_floor_http / bench_floor_udp, servers that do only a "
                   "tracker's socket work (read a request, one write of a fixed 50-peer answer; "
                   "UDP: recvmmsg a batch, sendmmsg a fixed answer each). btrt / floor is what "
                   "btrt costs above the kernel's share.")
        report.add("- UDP: bench_udp_load (sendmmsg/recvmmsg, connect handshake per socket); "
                   "CPU µs/announce is the tracker's CPU over the announces answered. On "
                   "loopback the kernel's receive work for a datagram runs in the sender's "
                   "context, so part of a tracker's receive cost is charged to the load "
                   "generator (alike for every tracker).")
        report.add("- opentracker answers HTTP/1.1 without keep-alive: it closes after every "
                   "answer, so its keep-alive rows are a new connection per request as well "
                   "(wrk then counts one read error per request and reconnects).")
        report.add("- CPU µs/req: the tracker process's utime+stime (/proc/PID/stat) over a run "
                   "divided by the answered requests; kernel work done in softirq context may "
                   "be charged to other processes.")
        report.add("- tracker CPU % / wrk CPU %: share of one core used by the tracker / by wrk "
                   "during the run. A tracker well below 100 % while wrk is near 100 % means the "
                   "load generator (and the kernel's loopback TCP work on its core) limits req/s, "
                   "not the tracker; CPU µs/req is then the better comparison.")
        report.add("- btrt runs as deployed, with persistence on (SQLite in a temporary "
                   f"directory, flush every {FLUSH_INTERVAL} s); its write-behind thread is pinned "
                   "with the worker, so its work is in btrt's CPU µs/req. opentracker keeps "
                   "nothing on disk.")
        report.add("- memory: 'settled' is VmRSS once unchanged for a flush interval after the "
                   "load (btrt's write-behind flushes in between).")
        report.add("- opentracker ignores ip= (Debian builds it without "
                   "WANT_IP_FROM_QUERY_STRING): its peers differ by port; btrt's by ip= address.")
        report.add(f"- load average at end: {load_average()}; kit time "
                   f"{time.monotonic() - started:.0f} s")
    finally:
        for t in trackers:
            try:
                t.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {t.name}: {e}")
        shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(BUILD, exist_ok=True)
    out = os.path.join(BUILD, f"bench-results-{stamp}.txt")
    with open(out, "w") as f:
        f.write("\n".join(report.lines) + "\n")
    log(f"results saved to {out}")


if __name__ == "__main__":
    main()
