"""The provider lab: a simulated provider network in network namespaces, with real
BitTorrent clients, measuring what btrt keeps off the provider's uplink (docs/locality.md).

Topology (all addresses from the reserved test ranges; no link to the machine's own
namespace — every veth pair is created between two lab namespaces):

  <p>sub   subscribers, each client its own address 198.18.0.10+ (link 198.18.0.0/24)
     |  sub0 198.18.0.1 (btrt listens here; retracker.local resolves to it inside <p>sub)
  <p>rtr   the provider's router: forwarding, btrt, the DPI stand-in, nftables
     |  up0 192.0.2.1/25  -- the uplink: tbf-shaped both ways, counted (up0's byte counters)
  <p>inet  the internet: opentracker 203.0.113.10:6969, external peers 198.51.100.10+
     |  192.0.2.129/25 -- the partner's own uplink (its traffic never crosses ours)
  <p>pgw   the partner's gateway: peering link 198.19.1.0/30 to our router (not our uplink),
           its own uplink 192.0.2.128/25 to the internet, its hosts' network 198.19.0.0/24
  <p>part  the partner's hosts: its btrt 198.19.0.2:80, its clients 198.19.0.10+

The namespace prefix is "btrtlab-<pid>-"; a lab whose process is gone is removed at the next
start. Everything the lab starts runs inside its namespaces and is stopped by PID at the end.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import lt_swarm  # noqa: E402
import libtorrent as lt  # noqa: E402

PY = "/usr/bin/python3"
BTRT = os.environ.get("BTRT_BIN", str(ROOT / "build" / "src" / "btrt"))
OPENTRACKER = shutil.which("opentracker") or "/usr/bin/opentracker"
NS_BASE = "btrtlab-"

ROUTER_SUB, ROUTER_UP, INET_UP = "198.18.0.1", "192.0.2.1", "192.0.2.2"
ROUTER_PART, PARTNER_BTRT, PART_UP, INET_PART = "198.19.0.1", "198.19.0.2", "192.0.2.129", \
    "192.0.2.130"
PEER_RTR, PEER_PGW = "198.19.1.1", "198.19.1.2"  # the peering link router <-> partner
ORIGIN = "203.0.113.10"
ORIGIN_PORT = 6969
DPI_PORT = 8081
INTERCEPT_PORT = 8082  # btrt's interception.tcp_listen and udp_listen (the ruleset's BTRT_PORT)
BTRT_MARK = 439
RULESET = ROOT / "packaging" / "nftables" / "btrt-intercept.nft"
ORIGIN_URL = f"http://{ORIGIN}:{ORIGIN_PORT}/announce"
ORIGIN_UDP_URL = f"udp://{ORIGIN}:{ORIGIN_PORT}/announce"
RETRACKER_URL = "http://retracker.local/announce"
PARTNER_URL = f"http://{PARTNER_BTRT}/announce"


def group_of(ip):
    if ip.startswith("198.18."):
        return "local"
    if ip.startswith("198.19."):
        return "partner"
    if ip.startswith("198.51.100."):
        return "external"
    return "other"


def log(msg):
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*cmd, check=True, capture=False):
    r = subprocess.run(cmd, check=False, text=True, errors="backslashreplace",
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout if capture else r.returncode


def pid_alive(pid):
    """True while the process runs (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def lab_namespaces():
    out = sh("ip", "netns", "list", capture=True)
    return [line.split()[0] for line in out.splitlines() if line.startswith(NS_BASE)]


def remove_namespace(ns):
    """Stops what still runs in a lab namespace (processes a lab started there), deletes it
    and its /etc/netns directory."""
    for _ in range(2):
        pids = [int(p) for p in sh("ip", "netns", "pids", ns, check=False, capture=True).split()
                if p.isdigit()] if os.path.exists(f"/run/netns/{ns}") else []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pids:
            break
        time.sleep(0.2)
    sh("ip", "netns", "del", ns, check=False)
    shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)


def clean_stale():
    """Removes the namespaces of labs whose process is gone (a killed run)."""
    for ns in lab_namespaces():
        try:
            pid = int(ns[len(NS_BASE):].split("-")[0])
        except ValueError:
            continue
        if not pid_alive(pid) or pid == os.getpid():
            log(f"removing stale lab namespace {ns}")
            remove_namespace(ns)
    for d in Path("/etc/netns").glob(NS_BASE + "*") if Path("/etc/netns").exists() else []:
        pid = d.name[len(NS_BASE):].split("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


class Lab:
    """The namespaces, links, shaping and the processes started in them."""

    def __init__(self, workdir: Path, uplink_mbit=50, tag=""):
        self.workdir = workdir
        self.uplink_mbit = uplink_mbit
        self.prefix = f"{NS_BASE}{os.getpid()}{tag}-"
        self.ns = {n: self.prefix + n for n in ("sub", "rtr", "inet", "part", "pgw")}
        self.procs = []  # (name, Popen)
        self.created = []

    # namespaces ---------------------------------------------------------------------
    def x(self, node, *cmd, check=True, capture=False):
        return sh("ip", "netns", "exec", self.ns[node], *cmd, check=check, capture=capture)

    def veth(self, a, a_if, b, b_if):
        sh("ip", "link", "add", a_if, "netns", self.ns[a], "type", "veth", "peer", "name", b_if,
           "netns", self.ns[b])
        for node, ifname in ((a, a_if), (b, b_if)):
            sh("ip", "-n", self.ns[node], "link", "set", ifname, "up")

    def addr(self, node, cidr, dev):
        sh("ip", "-n", self.ns[node], "addr", "add", cidr, "dev", dev)

    def route(self, node, *spec):
        sh("ip", "-n", self.ns[node], "route", "add", *spec)

    def up(self, sub_ips, part_ips, inet_ips):
        clean_stale()
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        hosts = Path("/etc/netns") / self.ns["sub"]
        hosts.mkdir(parents=True, exist_ok=True)
        (hosts / "hosts").write_text(f"127.0.0.1 localhost\n{ROUTER_SUB} retracker.local\n")
        # subscribers <-> router
        self.veth("sub", "r0", "rtr", "sub0")
        self.addr("rtr", f"{ROUTER_SUB}/24", "sub0")
        for ip in sub_ips:
            self.addr("sub", f"{ip}/24", "r0")
        self.route("sub", "default", "via", ROUTER_SUB)
        # the partner: its hosts behind its own gateway, which peers with our router and has
        # its own uplink (libtorrent announces only over an interface with a route to the
        # tracker, so the hosts get one interface with the default route)
        self.veth("part", "r0", "pgw", "lan0")
        self.addr("pgw", f"{ROUTER_PART}/24", "lan0")
        for ip in [PARTNER_BTRT] + part_ips:
            self.addr("part", f"{ip}/24", "r0")
        self.route("part", "default", "via", ROUTER_PART)
        self.veth("pgw", "peer0", "rtr", "part0")
        self.addr("pgw", f"{PEER_PGW}/30", "peer0")
        self.addr("rtr", f"{PEER_RTR}/30", "part0")
        self.route("rtr", "198.19.0.0/24", "via", PEER_PGW)
        self.route("pgw", "198.18.0.0/24", "via", PEER_RTR)
        self.veth("pgw", "up0", "inet", "part0")
        self.addr("pgw", f"{PART_UP}/25", "up0")
        self.addr("inet", f"{INET_PART}/25", "part0")
        self.route("pgw", "default", "via", INET_PART)
        self.x("pgw", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # router <-> internet: the uplink
        self.veth("rtr", "up0", "inet", "r0")
        self.addr("rtr", f"{ROUTER_UP}/25", "up0")
        self.addr("inet", f"{INET_UP}/25", "r0")
        # the internet's hosts live on the uplink's far end, not on `lo`: libtorrent treats
        # sockets on a loopback device as loopback-only and never connects them with others
        for ip in [ORIGIN] + inet_ips:
            self.addr("inet", f"{ip}/32", "r0")
        self.route("rtr", "198.51.100.0/24", "via", INET_UP)
        self.route("rtr", "203.0.113.0/24", "via", INET_UP)
        self.route("inet", "198.18.0.0/24", "via", ROUTER_UP)
        self.route("inet", "198.19.0.0/24", "via", PART_UP)
        self.x("rtr", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # the uplink's shaping: tbf on each side's egress (router: outbound, internet: inbound)
        for node, dev in (("rtr", "up0"), ("inet", "r0")):
            self.x(node, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate",
                   f"{self.uplink_mbit}mbit", "burst", "64kb", "latency", "100ms")

    def down(self):
        for name, p in reversed(self.procs):
            stop(p)
        self.procs.clear()
        for ns in self.created:
            remove_namespace(ns)
        self.created.clear()

    def uplink_bytes(self):
        """(inbound, outbound) bytes of the router's uplink interface."""
        j = json.loads(sh("ip", "-n", self.ns["rtr"], "-j", "-s", "link", "show", "dev", "up0",
                          capture=True))
        st = j[0]["stats64"]
        return st["rx"]["bytes"], st["tx"]["bytes"]

    def popen(self, node, name, cmd, **kw):
        logf = open(self.workdir / f"{name}.out", "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[node], *cmd], stdout=logf,
                             stderr=subprocess.STDOUT, **kw)
        self.procs.append((name, p))
        return p

    def http_get(self, node, url, timeout=3):
        return self.x(node, "curl", "-s", "-m", str(timeout), url, check=False, capture=True)

    def forget(self, p):
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    # the dpi stand-in's diversion ---------------------------------------------------
    def divert_http(self, on):
        if on:
            rules = self.workdir / "divert-http.nft"
            rules.write_text(
                "table ip btrtlab {\n"
                "  chain pre {\n"
                "    type nat hook prerouting priority dstnat; policy accept;\n"
                f"    iifname \"sub0\" ip saddr 198.18.0.0/24 ip daddr {ORIGIN} "
                f"tcp dport {ORIGIN_PORT} redirect to :{DPI_PORT}\n"
                "  }\n"
                "}\n")
            self.x("rtr", "nft", "-f", str(rules))
        else:
            self.x("rtr", "nft", "delete", "table", "ip", "btrtlab", check=False)

    # btrt's own interception: the shipped ruleset on the router (tproxy of the tracker port,
    # TCP and UDP, to btrt's interception.tcp_listen and udp_listen), with tproxy's routing
    # side.
    def divert_tproxy(self, on):
        if on:
            text = RULESET.read_text()
            text = re.sub(r'define LAN_IF = "[^"]*"', 'define LAN_IF = "sub0"', text)
            text = re.sub(r"define BTRT_PORT = \d+", f"define BTRT_PORT = {INTERCEPT_PORT}", text)
            text = re.sub(r"define BTRT_MARK = \w+", f"define BTRT_MARK = {BTRT_MARK}", text)
            text = re.sub(r"elements = \{[^}]*\}", f"elements = {{ {ORIGIN_PORT} }}", text)
            rules = self.workdir / "intercept.nft"
            rules.write_text(text)
            self.x("rtr", "ip", "rule", "add", "fwmark", "1", "lookup", "100")
            self.x("rtr", "ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
            self.x("rtr", "nft", "-f", str(rules))
        else:
            self.x("rtr", "nft", "delete", "table", "inet", "btrt_intercept", check=False)
            self.x("rtr", "ip", "rule", "del", "fwmark", "1", "lookup", "100", check=False)
            self.x("rtr", "ip", "route", "del", "local", "0.0.0.0/0", "dev", "lo", "table", "100",
                   check=False)


def stop(p, timeout=10):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def wait_until(cond, timeout, what, every=0.2, detail=None):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                               + (f": {detail()}" if detail else ""))
        time.sleep(every)


class Worker:
    """A worker.py process holding the clients of one namespace."""

    def __init__(self, lab, node):
        self.node, self.lab = node, lab
        logf = open(lab.workdir / f"worker-{node}.out", "ab")
        self.p = subprocess.Popen(["ip", "netns", "exec", lab.ns[node], PY,
                                   str(HERE / "worker.py")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=logf, text=True)
        self.out = self.p.stdout
        lab.procs.append((f"worker-{node}", self.p))

    def call(self, **cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        line = self.out.readline()
        if not line:
            raise RuntimeError(f"worker {self.node} exited ({self.lab.workdir}/worker-"
                               f"{self.node}.out)")
        return json.loads(line)

    def close(self):
        try:
            self.call(op="close")
        except (OSError, RuntimeError, ValueError):
            pass
        stop(self.p, 15)
        self.lab.forget(self.p)


# torrents ---------------------------------------------------------------------------
def write_torrents(payload_dir: Path, name, out_dir: Path, piece):
    """One info dictionary, several tracker lists (the info-hash is the same in all)."""
    fs = lt.file_storage()
    lt.add_files(fs, str(payload_dir / name))
    ct = lt.create_torrent(fs, piece, lt.create_torrent.v1_only)
    ct.set_creator("btrt lab")
    lt.set_piece_hashes(ct, str(payload_dir))
    base = ct.generate()
    paths = {}
    for variant, urls in (("origin", [ORIGIN_URL]), ("retracker", [ORIGIN_URL, RETRACKER_URL]),
                          ("partner", [ORIGIN_URL, PARTNER_URL]),
                          ("udp-origin", [ORIGIN_UDP_URL])):
        d = dict(base)
        d[b"announce"] = urls[0].encode()
        d[b"announce-list"] = [[u.encode()] for u in urls]
        p = out_dir / f"{variant}.torrent"
        p.write_bytes(lt.bencode(d))
        paths[variant] = p
    info_hash = str(lt.torrent_info(str(paths["origin"])).info_hash())
    return paths, info_hash


# trackers -----------------------------------------------------------------------------
def btrt_config(workdir: Path, listen, trusted, groups, locality=None, neighbor=None,
                intercept=False):
    lines = [
        "server:", f"  listen: [\"{listen}\"]", "  threads: 1",
        f"  trusted_sources: [{', '.join(repr(t).replace(chr(39), chr(34)) for t in trusted)}]",
        f"  admin_allow: [\"{listen.split(':')[0]}/32\"]",
        "tracker:", "  announce_interval: 1800", "  min_interval: 900",
    ]
    for k, v in (locality or {}).items():
        lines.append(f"  {k}: {v}")
    lines += ["logging:", f"  path: \"{workdir / 'log'}\"", "  level: \"info\"",
              "database:", f"  url: \"sqlite://{workdir / 'btrt.db'}\"",
              "hashlist:", f"  path: \"{workdir / 'hashlist.bin'}\"",
              "forwarding:", "  allowed_destinations: [\"203.0.113.0/24\"]",
              "  pass_client_ip: true", "peer_groups:"]
    for name, prio, cidr in groups:
        lines += [f"  - name: \"{name}\"", f"    priority: {prio}", f"    cidr_list: [\"{cidr}\"]"]
    if intercept:
        lines += ["interception:", f"  tcp_listen: [\"0.0.0.0:{INTERCEPT_PORT}\"]",
                  f"  udp_listen: [\"0.0.0.0:{INTERCEPT_PORT}\"]",
                  f"  mark: {BTRT_MARK}"]
    if neighbor:
        lines += ["neighbors:", "  - name: \"partner\"", "    refresh_interval: 1800",
                  "    peers_expiry_interval: 7200",
                  f"    announce_request: \"{neighbor}?info_hash={{info_hash}}&peer_id="
                  "-BT0001-000000000000&port=6882&uploaded=0&downloaded=0&left=4194304"
                  "&event=started&compact=1&numwant=1000\"", "    timeout: 5"]
    workdir.mkdir(parents=True, exist_ok=True)
    p = workdir / "btrt.conf"
    p.write_text("\n".join(lines) + "\n")
    return p


def start_btrt(lab, node, name, conf, host):
    p = lab.popen(node, name, [BTRT, "run", "-c", str(conf)])
    wait_until(lambda: p.poll() is not None or lab.http_get(node, f"http://{host}/health",
                                                               1).strip() == "ok",
               15, f"{name} to answer /health")
    if p.poll() is not None:
        raise RuntimeError(f"{name} exited: {(lab.workdir / (name + '.out')).read_text()}")
    return p


def start_opentracker(lab, info_hash):
    d = lab.workdir / "opentracker"
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(lab.workdir, 0o755)
    os.chmod(d, 0o755)  # read after chroot, as nobody
    (d / "whitelist.txt").write_text(info_hash + "\n")
    os.chmod(d / "whitelist.txt", 0o644)
    # Debian builds opentracker with a whitelist (README.Debian): the torrent's hash is on it.
    p = lab.popen("inet", "opentracker", [OPENTRACKER, "-i", ORIGIN, "-p", str(ORIGIN_PORT),
                                          "-P", str(ORIGIN_PORT), "-d", str(d), "-u", "nobody",
                                          "-w", "whitelist.txt"])
    wait_until(lambda: p.poll() is not None or "files" in lab.http_get(
        "inet", f"http://{ORIGIN}:{ORIGIN_PORT}/scrape", 1), 15, "opentracker")
    if p.poll() is not None:
        raise RuntimeError("opentracker exited")
    return p


# scenarios --------------------------------------------------------------------------
class Swarm:
    def __init__(self, name, local_seeders, partner_seeders, external_seeders, local_leechers,
                 external_leechers):
        self.name = name
        self.local_seeders, self.partner_seeders = local_seeders, partner_seeders
        self.external_seeders, self.local_leechers = external_seeders, local_leechers
        self.external_leechers = external_leechers

    def sub_ips(self):
        return [f"198.18.0.{10 + i}" for i in range(self.local_seeders + self.local_leechers)]

    def part_ips(self):
        return [f"198.19.0.{10 + i}" for i in range(self.partner_seeders)]

    def inet_ips(self):
        return [f"198.51.100.{10 + i}"
                for i in range(self.external_seeders + self.external_leechers)]


SWARMS = {
    "few": Swarm("few", 3, 2, 12, 4, 2),
    "many": Swarm("many", 10, 2, 12, 4, 2),
    "smoke": Swarm("smoke", 3, 0, 12, 2, 0),
}


class Scenario:
    """mode: baseline (only the origin), retracker (retracker.local listed beside it),
    intercept (HTTP announces to the origin diverted through the DPI stand-in to btrt),
    intercept-http (the same diverted by the router's shipped ruleset to btrt's
    interception.tcp_listen),
    intercept-udp (the subscribers' torrent lists only the origin's udp:// URL; the router's
    shipped ruleset diverts their BEP 15 packets to btrt's interception.udp_listen).
    partner: btrt asks the partner's btrt as a neighbour. locality: tracker.* keys."""

    def __init__(self, label, mode, partner=False, locality=None):
        self.label, self.mode, self.partner = label, mode, partner
        self.locality = locality or {}


def run_scenario(lab, swarm, sc, torrents, info_hash, digest, opts, attempt=1):
    work = lab.workdir / f"{swarm.name}-{sc.label}" / str(attempt)
    work.mkdir(parents=True)
    os.chmod(work, 0o777)
    started = []
    workers = {}
    try:
        started.append(start_opentracker(lab, info_hash))
        started.append(start_btrt(lab, "part", "btrt-partner",
                                  btrt_config(work / "btrt-partner", f"{PARTNER_BTRT}:80",
                                              [f"{PARTNER_BTRT}/32"],
                                              [("local peers", 0, "198.19.0.0/24")]),
                                  PARTNER_BTRT))
        if sc.mode != "baseline":
            conf = btrt_config(work / "btrt", f"{ROUTER_SUB}:80", [f"{ROUTER_SUB}/32"],
                               [("local peers", 0, "198.18.0.0/24"),
                                ("neighboring peers", 1, "198.19.0.0/24")], sc.locality,
                               PARTNER_URL if sc.partner else None,
                               intercept=sc.mode in ("intercept-http", "intercept-udp"))
            started.append(start_btrt(lab, "rtr", "btrt", conf, ROUTER_SUB))
        if sc.mode == "intercept":
            started.append(lab.popen("rtr", "dpi-standin", [PY, str(HERE / "dpi_standin.py"),
                                                             "0.0.0.0", str(DPI_PORT), ROUTER_SUB,
                                                             "80"]))
            lab.divert_http(True)
        if sc.mode in ("intercept-http", "intercept-udp"):
            lab.divert_tproxy(True)
        sub_torrent = torrents[{"retracker": "retracker", "intercept-udp": "udp-origin"}.get(
            sc.mode, "origin")]
        for node in ("sub", "part", "inet"):
            workers[node] = Worker(lab, node)
        seeders = []

        def add(node, name, ip, torrent, seed):
            save = work / name
            if seed:
                save.mkdir(parents=True)
                os.link(opts.payload_dir / opts.payload_name, save / opts.payload_name)
            workers[node].call(op="add", name=name, ip=ip, torrent=str(torrent), save=str(save),
                               seed=seed, upload_limit=opts.access_kib * 1024)
            return (node, name, torrent)

        sub_ips, part_ips, inet_ips = swarm.sub_ips(), swarm.part_ips(), swarm.inet_ips()

        def announced(node_names):
            status = {n: workers[n].call(op="status") for n in workers}
            for node, name, torrent in node_names:
                want = 2 if torrent in (torrents["retracker"], torrents["partner"]) else 1
                if len(status[node][name]["trackers"]) < want:
                    return False
            return True

        def not_announced():
            status = {n: workers[n].call(op="status") for n in workers}
            return {name: status[node][name]["trackers"] for node, name, _ in seeders}

        for i in range(swarm.external_seeders):
            seeders.append(add("inet", f"ext-seed{i}", inet_ips[i], torrents["origin"], True))
        for i in range(swarm.partner_seeders):
            seeders.append(add("part", f"part-seed{i}", part_ips[i], torrents["partner"], True))
        # the partner's and the internet's seeders are known to their trackers before the
        # subscribers' first announce makes btrt ask its neighbour
        wait_until(lambda: announced(seeders), 60, "the remote seeders' trackers to answer",
                   0.5, lambda: not_announced())
        for i in range(swarm.local_seeders):
            seeders.append(add("sub", f"loc-seed{i}", sub_ips[i], sub_torrent, True))

        wait_until(lambda: announced(seeders), 60, "every seeder's trackers to answer", 0.5,
                   not_announced)
        if sc.partner:
            def neighbour_peers():
                m = lab.http_get("rtr", f"http://{ROUTER_SUB}/metrics")
                # an answer, not learned peers: the partner's seeders may already be known
                # from the origin's answer
                return any(line.startswith("btrt_neighbor_requests_total{") and 'result="ok"'
                           in line and not line.endswith(" 0") for line in m.splitlines())
            wait_until(neighbour_peers, 30, "btrt to learn the partner's peers", 0.5,
                       lambda: [line for line in lab.http_get(
                           "rtr", f"http://{ROUTER_SUB}/metrics").splitlines()
                           if "neighbor" in line and not line.startswith("#")])
        rx0, tx0 = lab.uplink_bytes()
        t0 = time.monotonic()
        leechers = []
        for i in range(swarm.local_leechers):
            leechers.append(add("sub", f"loc-leech{i}", sub_ips[swarm.local_seeders + i],
                                sub_torrent, False))
        for i in range(swarm.external_leechers):
            leechers.append(add("inet", f"ext-leech{i}", inet_ips[swarm.external_seeders + i],
                                torrents["origin"], False))

        def finished():
            status = {n: workers[n].call(op="status") for n in workers}
            return all(status[node][name]["seeding"] for node, name, _ in leechers)

        wait_until(finished, opts.timeout, f"{swarm.name}/{sc.label}: every leecher to finish",
                   0.5)
        time.sleep(0.5)  # the last per-connection samples
        elapsed = time.monotonic() - t0
        rx1, tx1 = lab.uplink_bytes()
        results = {}
        for node, w in workers.items():
            results.update(w.call(op="results"))
        return summarize(swarm, sc, results, leechers, digest, rx1 - rx0, tx1 - tx0, elapsed)
    finally:
        for w in workers.values():
            w.close()
        lab.divert_http(False)
        lab.divert_tproxy(False)
        for p in reversed(started):
            stop(p)
            lab.forget(p)


def summarize(swarm, sc, results, leechers, digest, up_in, up_out, elapsed):
    row = {"swarm": swarm.name, "scenario": sc.label, "up_in": up_in, "up_out": up_out,
           "elapsed": elapsed}
    for group in ("loc", "ext"):
        names = [name for _, name, _ in leechers if name.startswith(group + "-")]
        if not names:
            continue
        total = {"local": 0, "partner": 0, "external": 0, "other": 0}
        incoming_ext = 0
        times = []
        for n in names:
            r = results[n]
            if r["sha256"] != digest:
                raise AssertionError(f"{n}: the downloaded file does not match the payload")
            times.append(r["seconds"])
            for ip, b in r["received"].items():
                total[group_of(ip)] += b
            incoming_ext += sum(b for ip, b in r["incoming"].items()
                                if group_of(ip) == "external")
        s = sum(total.values()) or 1
        row[group] = {"share": {k: v / s for k, v in total.items()}, "bytes": total,
                      "mean": statistics.mean(times), "max": max(times),
                      "ext_dialled_by_peer": incoming_ext / (total["external"] or 1)}
    return row


# report -----------------------------------------------------------------------------
def fmt_mb(b):
    return f"{b / 1048576:.1f}"


def table(rows):
    base = {r["swarm"]: r for r in rows if r["scenario"] == "baseline"}
    out = ["| swarm | scenario | uplink in MiB (× base) | uplink out MiB (× base) "
           "| local leechers: local / partner / external | external leechers: local / ext "
           "| time local leechers mean / max s (× base) |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        b = base.get(r["swarm"])
        ratio = (lambda k: f" ({r[k] / b[k]:.2f})" if b and b[k] else "")
        loc = r["loc"]
        sh_ = loc["share"]
        ext = r.get("ext")
        ext_s = (f"{ext['share']['local']:.0%} / {ext['share']['external']:.0%}" if ext else "–")
        tratio = f" ({loc['mean'] / b['loc']['mean']:.2f} / {loc['max'] / b['loc']['max']:.2f})" \
            if b else ""
        out.append(f"| {r['swarm']} | {r['scenario']} | {fmt_mb(r['up_in'])}{ratio('up_in')} | "
                   f"{fmt_mb(r['up_out'])}{ratio('up_out')} | {sh_['local']:.0%} / "
                   f"{sh_['partner']:.0%} / {sh_['external']:.0%} | {ext_s} | "
                   f"{loc['mean']:.1f} / {loc['max']:.1f}{tratio} |")
    return "\n".join(out)


def choose_default(rows, cutoff=10):
    """The locality_seeders value whose sweep rows keep inbound uplink bytes lowest (summed
    over the swarms, as ratios to each swarm's baseline) with every swarm's mean download
    time of the local leechers at most 1.1x its baseline."""
    base = {r["swarm"]: r for r in rows if r["scenario"] == "baseline"}
    cands = {}
    for r in rows:
        if not r["scenario"].startswith("sweep "):
            continue
        params = dict(kv.split("=") for kv in r["scenario"][6:].split(","))
        if int(params["cutoff"]) != cutoff:
            continue
        n = int(params["seeders"])
        b = base[r["swarm"]]
        ok = r["loc"]["mean"] <= 1.1 * b["loc"]["mean"]
        c = cands.setdefault(n, {"ok": True, "in": 0.0})
        c["ok"] &= ok
        c["in"] += r["up_in"] / b["up_in"]
    good = [(c["in"], n) for n, c in cands.items() if c["ok"]]
    return (min(good)[1] if good else None), cands


def scenarios_for(args):
    out = [Scenario("baseline", "baseline")]
    if args.smoke:
        locality = dict(kv.split("=") for kv in args.smoke_locality)
        out.append(Scenario("intercept-http", "intercept-http", locality=locality))
        if args.udp:
            out.append(Scenario("intercept-udp", "intercept-udp", locality=locality))
        return out
    out += [Scenario("retracker.local", "retracker"),
            Scenario("intercept", "intercept"),
            Scenario("intercept-http", "intercept-http"),
            Scenario("intercept-udp", "intercept-udp"),
            Scenario("intercept+partner", "intercept", partner=True)]
    for cutoff in args.cutoffs:
        for n in args.seeders:
            out.append(Scenario(f"sweep seeders={n},cutoff={cutoff}", "intercept", partner=True,
                                locality={"locality_seeders": n, "locality_cutoff": cutoff}))
    return out


def run(args):
    if os.geteuid() != 0:
        sys.exit("the lab needs root (network namespaces)")
    for path, what in ((BTRT, "btrt"), (OPENTRACKER, "opentracker"), ("/usr/sbin/nft", "nft")):
        if not os.access(path, os.X_OK):
            sys.exit(f"lab: {what} not found at {path}")
    workdir = Path(tempfile.mkdtemp(prefix="btrt-lab-"))
    os.chmod(workdir, 0o755)
    swarms = [SWARMS[s] for s in args.swarms]
    sub_ips = max((s.sub_ips() for s in swarms), key=len)
    part_ips = max((s.part_ips() for s in swarms), key=len)
    inet_ips = max((s.inet_ips() for s in swarms), key=len)
    lab = Lab(workdir, args.uplink_mbit)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    rows = []
    ok = False
    try:
        payload_dir = workdir / "payload"
        digest = lt_swarm.make_payload(payload_dir, "payload.bin", int(args.size_mib * 1048576))
        args.payload_dir, args.payload_name = payload_dir, "payload.bin"
        torrents, info_hash = write_torrents(payload_dir, "payload.bin", workdir, args.piece_kib
                                             * 1024)
        lab.up(sub_ips, part_ips, inet_ips)
        log(f"lab up: namespaces {', '.join(lab.ns.values())}; uplink {args.uplink_mbit} Mbit/s "
            f"each way; clients upload at most {args.access_kib} KiB/s")
        for swarm in swarms:
            payload = swarm.local_leechers * int(args.size_mib * 1048576)
            for sc in scenarios_for(args):
                for attempt in range(1, args.baseline_tries + 1):
                    t = time.monotonic()
                    load = os.getloadavg()[0]
                    row = run_scenario(lab, swarm, sc, torrents, info_hash, digest, args,
                                       attempt)
                    row["load"] = load
                    log(f"{swarm.name} / {sc.label}: uplink in {fmt_mb(row['up_in'])} MiB, out "
                        f"{fmt_mb(row['up_out'])} MiB, local leechers "
                        f"{row['loc']['share']['local']:.0%} local, mean "
                        f"{row['loc']['mean']:.1f} s ({time.monotonic() - t:.0f} s, "
                        f"load {load:.1f})")
                    if sc.mode != "baseline" or row["up_in"] >= args.baseline_min_in * payload:
                        break
                    if attempt < args.baseline_tries:
                        log(f"{swarm.name} / {sc.label}: less than {args.baseline_min_in:.0%} of "
                            f"the local leechers' payload crossed the uplink: run again")
                rows.append(row)
        ok = True
        return rows
    finally:
        lab.down()
        for s, h in old.items():
            signal.signal(s, h)
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"work directory kept: {workdir}")


def report(rows, args):
    lines = [f"btrt provider lab, {datetime.datetime.now():%Y-%m-%d %H:%M}; payload "
             f"{args.size_mib} MiB, uplink {args.uplink_mbit} Mbit/s each way, access links "
             f"{args.access_kib} KiB/s upload; load average at the scenarios' start "
             f"{min(r['load'] for r in rows):.1f}–{max(r['load'] for r in rows):.1f}", "",
             table(rows), ""]
    for r in rows:
        lines.append(f"{r['swarm']} / {r['scenario']}: local leechers' external bytes over "
                     f"connections the external peer opened: "
                     f"{r['loc']['ext_dialled_by_peer']:.0%}; bytes local/partner/external/"
                     f"other: {r['loc']['bytes']}")
    if not args.smoke:
        for cutoff in args.cutoffs:
            n, cands = choose_default(rows, cutoff)
            lines.append(f"cutoff {cutoff}: locality_seeders within 1.1x of the baseline's mean "
                         f"time with the lowest inbound bytes: {n} "
                         f"({ {k: (round(v['in'], 3), v['ok']) for k, v in sorted(cands.items())} })")
    return "\n".join(lines)


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--swarms", nargs="+", default=["few", "many"], choices=sorted(SWARMS))
    ap.add_argument("--seeders", nargs="+", type=int, default=[0, 1, 2, 3, 4, 6])
    ap.add_argument("--cutoffs", nargs="+", type=int, default=[10, 4])
    ap.add_argument("--uplink-mbit", type=int, default=50)
    ap.add_argument("--access-kib", type=int, default=128, help="each client's upload limit")
    ap.add_argument("--size-mib", type=float, default=4)
    ap.add_argument("--piece-kib", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=240, help="per scenario's download, s")
    ap.add_argument("--smoke", action="store_true",
                    help="the baseline and btrt's HTTP interception (intercept-http)")
    ap.add_argument("--baseline-min-in", type=float, default=0.0,
                    help="a baseline is run again (up to --baseline-tries times) while less than "
                         "this share of the local leechers' payload crossed the uplink")
    ap.add_argument("--baseline-tries", type=int, default=1)
    ap.add_argument("--udp", action="store_true",
                    help="with --smoke: also the UDP interception scenario")
    ap.add_argument("--smoke-locality", nargs="*", default=[],
                    help="tracker keys of the smoke's btrt (KEY=VALUE), default: btrt's defaults")
    ap.add_argument("--out", help="where to save the table (default build-lab/lab-<time>.txt)")
    ap.add_argument("--json", help="also save the rows as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    return ap.parse_args(argv)


def main():
    args = parse()
    started = time.monotonic()
    rows = run(args)
    text = report(rows, args) + f"\n\nduration {time.monotonic() - started:.0f} s\n"
    print(text)
    out = Path(args.out) if args.out else ROOT / "build-lab" / \
        f"lab-{datetime.datetime.now():%Y%m%d-%H%M%S}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    log(f"saved {out}")


if __name__ == "__main__":
    main()
