#!/usr/bin/python3
"""Load benchmark of btrt against Debian's opentracker (targets: docs/performance.md). Run by bench/run.sh,
which installs the packages and builds btrt first; see docs/performance.md.

Everything stays on 127.0.0.0/8. Every process started here is ended here, by its PID; every
wait is bounded. Settings come from the environment (see DEFAULTS).
"""

import datetime
import ipaddress
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

DEFAULTS = {
    "BENCH_SECONDS": "5",  # length of one measured wrk run
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
    "BENCH_SECTIONS": "announce scrape memory",
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
BTRT = os.path.join(BUILD, "src", "btrt")
LOADER = os.path.join(BUILD, "bench", "bench_loader")
OPENTRACKER = shutil.which("opentracker") or "/usr/bin/opentracker"
WRK = shutil.which("wrk") or "/usr/bin/wrk"

SECONDS = int(env("BENCH_SECONDS"))
RUNS = int(env("BENCH_RUNS"))
WARMUP = int(env("BENCH_WARMUP"))
CONNS = [int(c) for c in env("BENCH_CONNS").split()]
TRACKER_CPU = env("BENCH_TRACKER_CPU")
LOAD_CPU = env("BENCH_LOAD_CPU")
SECTIONS = env("BENCH_SECTIONS").split()
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


class Tracker:
    """A tracker process we started; stopped by its PID."""

    def __init__(self, name, argv, port, workdir, cpu):
        self.name, self.port, self.workdir = name, port, workdir
        self.log_path = os.path.join(workdir, f"{slug(name)}.out")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(pinned(cpu, argv), stdout=self.log_file,
                                     stderr=subprocess.STDOUT, cwd=workdir)
        self.pid = self.proc.pid  # taskset execs the tracker: same PID
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited at start (see {self.log_path})")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"{name} did not listen on port {port} within 15 s")
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


def write_btrt_config(workdir, name, port, threads, cidr_files):
    lines = [
        "server:",
        f'  listen: ["127.0.0.1:{port}"]',
        f"  threads: {threads}",
        '  hostnames: ["localhost", "127.0.0.1", "retracker.local"]',
        '  trusted_sources: ["127.0.0.1/32"]',
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


def start_opentracker(workdir, name, port, cpu):
    # Debian builds opentracker with a whitelist (README.Debian): list every benchmark hash.
    # -d chroots into workdir (as root), -u drops to nobody, so workdir must be world-readable.
    return Tracker(name, [OPENTRACKER, "-i", "127.0.0.1", "-p", str(port), "-d",
                          workdir, "-u", "nobody", "-w", "whitelist.txt"], port, workdir, cpu)


def start_btrt(workdir, name, threads, cidr_files, cpu):
    port = free_port()
    conf = write_btrt_config(workdir, slug(name), port, threads, cidr_files)
    return Tracker(name, [BTRT, "run", "-c", conf], port, workdir, cpu)


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


def run_wrk(tracker, script, conns, seconds, args):
    argv = [WRK, "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s",
            os.path.join(BENCH, script), tracker.url, "--"] + args
    cpu_before = tracker.cpu_seconds()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(pinned(LOAD_CPU, argv), stdout=out, stderr=subprocess.STDOUT,
                                text=True)
        # wait4 for wrk's own CPU time (taskset execs wrk: same PID); bounded.
        deadline = time.monotonic() + seconds + 60
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=10)
                raise RuntimeError("wrk did not finish in time")
            time.sleep(0.05)
        cpu_after = tracker.cpu_seconds()
        out.seek(0)
        text = out.read()
    m = re.search(r"RESULT (.*)", text)
    if not m:
        raise RuntimeError(f"wrk: {text}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    seconds_run = r["duration_us"] / 1e6
    r["rps"] = r["requests"] / seconds_run
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["cpu_us"] = (cpu_after - cpu_before) * 1e6 / max(r["requests"], 1)
    r["tracker_pct"] = (cpu_after - cpu_before) * 100 / seconds_run
    r["wrk_pct"] = (usage.ru_utime + usage.ru_stime) * 100 / seconds_run
    return r


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


def main():
    for path, what in ((BTRT, "btrt"), (LOADER, "bench_loader"), (OPENTRACKER, "opentracker"),
                       (WRK, "wrk")):
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

        report.add(f"btrt vs opentracker, {stamp}")
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
        # kit then hits every tracker alike.
        variants = [
            ("opentracker", lambda: start_opentracker(workdir, "opentracker", free_port(),
                                                      TRACKER_CPU)),
            ("btrt", lambda: start_btrt(workdir, "btrt", 1, [], TRACKER_CPU)),
            ("btrt+groups", lambda: start_btrt(workdir, "btrt+groups", 1, cidr_files,
                                               TRACKER_CPU)),
        ]
        if env("BENCH_THREADS2") == "1":
            variants.append(("btrt+groups 2thr",
                             lambda: start_btrt(workdir, "btrt+groups 2thr", 2,
                                                cidr_files, None)))
        names = [v[0] for v in variants]

        if "announce" in SECTIONS or "scrape" in SECTIONS:
            for name, start in variants:
                log(f"starting {name}")
                tracker = start()
                trackers.append(tracker)
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

        def measure(section, script, modes, conns_list):
            for mode in modes:
                for conns in conns_list:
                    runs = {name: [] for name in names}
                    for i in range(RUNS):
                        for t in trackers:
                            r = run_wrk(t, script, conns, SECONDS,
                                        ["close"] if mode == "close" else [])
                            runs[t.name].append(r)
                    results[(section, mode, conns)] = {n: median_of(rs) for n, rs in
                                                       runs.items()}
                    log(f"{section} {mode} c{conns}: " + ", ".join(
                        f"{n} {results[(section, mode, conns)][n]['rps']:.0f}/s" for n in names))

        if "announce" in SECTIONS:
            measure("announce", "announce.lua", ["keep-alive", "close"], CONNS)
        if "scrape" in SECTIONS:
            measure("scrape", "scrape.lua", ["keep-alive", "close"], CONNS[:1])
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
                for n in names[1:]:
                    row += [fmt.format(res[n][field]),
                            ratio(res[n][field], ot[field]) if field in RATIO_FIELDS else ""]
                rows.append(row)
            return rows

        header = ["", "opentracker"]
        for n in names[1:]:
            header += [n, "ratio"]
        for section in ("announce", "scrape"):
            keys = [k for k in results if k[0] == section]
            if not keys:
                continue
            if section == "announce":
                report.add("ANNOUNCE: 10,000 torrents, 100,000 peers, compact, numwant 50 "
                           "(ratio = btrt / opentracker)")
            else:
                report.add("SCRAPE: one random torrent of the 10,000 per request")
            rows = []
            for (_, mode, conns) in keys:
                rows += metric_rows(f"{mode} c{conns}", section, mode, conns)
            report.table(header, rows)
            report.add("")

        if "announce" in SECTIONS and "btrt+groups" in names:
            report.add(f"PEER GROUPS: btrt with {prefixes:,} prefixes in 2 groups / btrt "
                       "without groups")
            rows = []
            for (section, mode, conns), res in results.items():
                if section != "announce":
                    continue
                rows.append([f"{mode} c{conns}",
                             ratio(res["btrt+groups"]["rps"], res["btrt"]["rps"]),
                             ratio(res["btrt+groups"]["cpu_us"], res["btrt"]["cpu_us"])])
            report.table(["", "req/s ratio", "CPU/req ratio"], rows)
            report.add("")

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
