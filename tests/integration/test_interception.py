"""Transparent interception (docs/interception.md), black-box, in network namespaces.

subscriber (198.18.0.0/24) -- router (btrt + the shipped nftables ruleset) -- internet
(the origin tracker at 203.0.113.10:6969). The namespaces are created here and removed at
the end, also on failure; none has a route to the host's namespace. The configuration
errors and the missing-capability refusal are checked on loopback.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from btrt_harness import BTRT, REPO, bdecode, compact_peers, free_port, info_hash, peer_id, quote

RULESET = REPO / "packaging" / "nftables" / "btrt-intercept.nft"

ROUTER_SUB = "198.18.0.1"
SUBSCRIBER = "198.18.0.2"
LOCAL_PEER = "198.18.0.3"
ROUTER_UP = "192.0.2.1"
INET_UP = "192.0.2.2"
ORIGIN = "203.0.113.10"
ORIGIN_PORT = 6969
EXTERNAL_PEER = ("198.51.100.5", 51413)
INTERCEPT_PORT = 8080
LOCAL_PORT = 8081
MARK = 439
TIMEOUT = 2  # forwarding.timeout

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def run(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- configuration ------------------------------------------------------------------------

def check_config(tmp_path, body):
    conf = tmp_path / "btrt.conf"
    conf.write_text(body)
    return subprocess.run([str(BTRT), "check-config", "-c", str(conf)], capture_output=True,
                          text=True, timeout=30)


def test_interception_keys_are_checked(tmp_path):
    r = check_config(tmp_path, 'interception:\n  tcp_listen: ["nowhere"]\n  mark: -1\n')
    assert r.returncode == 2
    assert "btrt.conf:2:" in r.stderr and "btrt.conf:3:" in r.stderr
    ok = check_config(tmp_path, 'interception:\n  tcp_listen: ["127.0.0.1:8080", "[::1]:8080"]\n'
                                '  mark: 439\n')
    assert ok.returncode == 0, ok.stderr


@needs_root
def test_start_is_refused_without_cap_net_admin(tmp_path):
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    conf = tmp_path / "btrt.conf"
    conf.write_text(
        f'server:\n  listen: ["127.0.0.1:{free_port()}"]\n  threads: 1\n'
        f'interception:\n  tcp_listen: ["127.0.0.1:{free_port()}"]\n'
        f'logging:\n  path: "{tmp_path / "log"}"\n'
        f'database:\n  url: "sqlite://{tmp_path / "btrt.db"}"\n')
    proc = subprocess.run([setpriv, "--inh-caps=-net_admin", "--bounding-set=-net_admin",
                           str(BTRT), "run", "-c", str(conf)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert "CAP_NET_ADMIN" in proc.stderr + proc.stdout, proc.stderr


# --- the three namespaces -----------------------------------------------------------------

ORIGIN_SCRIPT = r'''
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
host, port, log, mode_file, peer_ip, peer_port = sys.argv[1:7]
def bencode(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    return b"d" + b"".join(bencode(k) + bencode(x) for k, x in sorted(v.items())) + b"e"
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        with open(log, "a") as f:
            f.write(json.dumps({"client": self.client_address[0], "path": self.path}) + "\n")
        try:
            mode = open(mode_file).read().strip()
        except FileNotFoundError:
            mode = "peers"
        if mode == "silent":
            time.sleep(20)
            return
        peers = bytes(int(x) for x in peer_ip.split(".")) + int(peer_port).to_bytes(2, "big")
        body = bencode({"interval": 1800, "complete": 7, "incomplete": 1, "peers": peers})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = ThreadingHTTPServer((host, int(port)), H)
s.daemon_threads = True
with open(log, "a") as f:
    f.write(json.dumps({"ready": True}) + "\n")
s.serve_forever()
'''


class Net:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        tag = f"bti{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
        self.ns = {n: f"{tag}-{n}" for n in ("sub", "rtr", "inet")}
        self.created = []
        self.procs = []
        self.origin_log = workdir / "origin.jsonl"
        self.origin_mode = workdir / "origin.mode"

    def x(self, node, *cmd, check=True):
        return run("ip", "netns", "exec", self.ns[node], *cmd, check=check)

    def up(self):
        for ns in self.ns.values():
            run("ip", "netns", "add", ns)
            self.created.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        self.veth("sub", "r0", "rtr", "sub0")
        self.veth("rtr", "up0", "inet", "r0")
        self.addr("rtr", f"{ROUTER_SUB}/24", "sub0")
        self.addr("sub", f"{SUBSCRIBER}/24", "r0")
        self.addr("sub", f"{LOCAL_PEER}/24", "r0")
        run("ip", "-n", self.ns["sub"], "route", "add", "default", "via", ROUTER_SUB)
        self.addr("rtr", f"{ROUTER_UP}/30", "up0")
        self.addr("inet", f"{INET_UP}/30", "r0")
        self.addr("inet", f"{ORIGIN}/32", "r0")
        run("ip", "-n", self.ns["rtr"], "route", "add", "203.0.113.0/24", "via", INET_UP)
        run("ip", "-n", self.ns["inet"], "route", "add", "198.18.0.0/24", "via", ROUTER_UP)
        self.x("rtr", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # tproxy's routing side, as docs/interception.md gives it
        run("ip", "-n", self.ns["rtr"], "rule", "add", "fwmark", "1", "lookup", "100")
        run("ip", "-n", self.ns["rtr"], "route", "add", "local", "0.0.0.0/0", "dev", "lo",
            "table", "100")

    def veth(self, a, a_if, b, b_if):
        run("ip", "link", "add", a_if, "netns", self.ns[a], "type", "veth", "peer", "name", b_if,
            "netns", self.ns[b])
        for node, ifname in ((a, a_if), (b, b_if)):
            run("ip", "-n", self.ns[node], "link", "set", ifname, "up")

    def addr(self, node, cidr, dev):
        run("ip", "-n", self.ns[node], "addr", "add", cidr, "dev", dev)

    def load_ruleset(self):
        text = RULESET.read_text()
        text = re.sub(r'define LAN_IF = "[^"]*"', 'define LAN_IF = "sub0"', text)
        text = re.sub(r"define BTRT_PORT = \d+", f"define BTRT_PORT = {INTERCEPT_PORT}", text)
        text = re.sub(r"define BTRT_MARK = \w+", f"define BTRT_MARK = {MARK}", text)
        text = re.sub(r"elements = \{[^}]*\}", f"elements = {{ {ORIGIN_PORT} }}", text)
        rules = self.workdir / "intercept.nft"
        rules.write_text(text)
        self.x("rtr", "nft", "-f", str(rules))

    def count_marked(self):
        """Counts the router's own packets to the origin's port that carry btrt's mark."""
        rules = self.workdir / "count.nft"
        rules.write_text("table inet btrt_test {\n  chain out {\n"
                         "    type filter hook output priority 0; policy accept;\n"
                         f"    tcp dport {ORIGIN_PORT} meta mark {MARK} counter\n  }}\n}}\n")
        self.x("rtr", "nft", "-f", str(rules))

    def popen(self, node, name, cmd):
        out = open(self.workdir / f"{name}.out", "wb")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[node], *cmd], stdout=out,
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def start_origin(self):
        script = self.workdir / "origin.py"
        script.write_text(ORIGIN_SCRIPT)
        self.popen("inet", "origin", ["/usr/bin/python3", str(script), ORIGIN, str(ORIGIN_PORT),
                                      str(self.origin_log), str(self.origin_mode),
                                      EXTERNAL_PEER[0], str(EXTERNAL_PEER[1])])
        wait_until(lambda: self.origin_log.exists() and "ready" in self.origin_log.read_text(),
                   10, "the origin to listen")

    def origin_requests(self):
        lines = self.origin_log.read_text().splitlines() if self.origin_log.exists() else []
        return [r for r in map(json.loads, lines) if "path" in r]

    def stop(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        return p.returncode

    def down(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        for ns in self.created:
            run("ip", "netns", "del", ns, check=False)

    def curl(self, url, source=SUBSCRIBER, timeout=10, headers=()):
        """(HTTP status, body, seconds) of a GET from the subscriber's namespace."""
        body = self.workdir / "body"
        if body.exists():
            body.unlink()
        started = time.monotonic()
        extra = [arg for h in headers for arg in ("-H", h)]
        r = self.x("sub", "curl", "-s", "-o", str(body), "-w", "%{http_code}", "--interface",
                   source, "-m", str(timeout), *extra, url, check=False)
        elapsed = time.monotonic() - started
        data = body.read_bytes() if body.exists() else b""
        return int(r.stdout or 0), data, elapsed


def announce_url(host_port, ih, pid, port, **params):
    query = {"info_hash": ih, "peer_id": pid, "port": port, "uploaded": 0, "downloaded": 0,
             "left": 100, "compact": 1, **params}
    return (f"http://{host_port}/announce?"
            + "&".join(f"{k}={quote(v) if isinstance(v, bytes) else v}" for k, v in query.items()))


BTRT_CONFIG = f"""server:
  listen: ["{ROUTER_SUB}:{LOCAL_PORT}"]
  threads: 2
  trusted_sources: ["127.0.0.1/32"]
tracker:
  min_interval: 60
  announce_interval: 120
peer_groups:
  - name: "local peers"
    priority: 0
    cidr_list: ["198.18.0.0/24"]
forwarding:
  timeout: {TIMEOUT}
  allowed_destinations: ["203.0.113.0/24"]
interception:
  tcp_listen: ["0.0.0.0:{INTERCEPT_PORT}", "[::]:{INTERCEPT_PORT}"]
  mark: {MARK}
"""


def start_router(net, tmp_path, extra=""):
    """The namespaces, the origin, btrt on the router and the shipped ruleset; btrt's process."""
    for tool in ("nft", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    net.up()
    net.start_origin()
    conf = tmp_path / "btrt.conf"
    conf.write_text(BTRT_CONFIG + extra + f'logging:\n  path: "{tmp_path / "log"}"\n'
                    f'  level: "debug"\ndatabase:\n  url: "sqlite://{tmp_path / "btrt.db"}"\n')
    btrt = net.popen("rtr", "btrt", [str(BTRT), "run", "-c", str(conf)])
    health = f"http://{ROUTER_SUB}:{LOCAL_PORT}/health"

    def healthy():
        assert btrt.poll() is None, (tmp_path / "btrt.out").read_text(errors="replace")
        return net.x("rtr", "curl", "-s", "-m", "1", health, check=False).stdout == "ok\n"

    wait_until(healthy, 15, "btrt to answer /health")
    net.load_ruleset()
    net.count_marked()
    return btrt


@needs_root
def test_router_diverts_http_announces_to_btrt(tmp_path):
    net = Net(tmp_path)
    try:
        btrt = start_router(net, tmp_path)
        ih = info_hash(1801)
        # A local peer, announced straight to btrt: the subscriber's answer ranks it first.
        status, _, _ = net.curl(announce_url(f"{ROUTER_SUB}:{LOCAL_PORT}", ih, peer_id(2), 6002,
                                             event="started"), source=LOCAL_PEER)
        assert status == 200
        assert net.origin_requests() == []

        # The subscriber announces to the origin; the router diverts it to btrt.
        url = announce_url(f"{ORIGIN}:{ORIGIN_PORT}", ih, peer_id(1), 6001, event="started")
        status, body, _ = net.curl(url)
        assert status == 200, body
        answer = bdecode(body)
        peers = compact_peers(answer)
        assert peers[0] == (LOCAL_PEER, 6002), peers
        assert EXTERNAL_PEER in peers, peers  # the origin's peer, learned through btrt
        assert answer[b"complete"] == 7  # the origin's larger count
        # The origin saw the subscriber's query once, from btrt on the router (no loop).
        requests = net.origin_requests()
        assert len(requests) == 1, requests
        assert requests[0]["client"] == ROUTER_UP
        sent = urllib.parse.urlsplit(url)
        got = urllib.parse.urlsplit(requests[0]["path"])
        assert got.path == "/announce"
        assert (urllib.parse.parse_qs(sent.query, encoding="latin-1")["info_hash"]
                == urllib.parse.parse_qs(got.query, encoding="latin-1")["info_hash"])
        assert "peer_id=" + quote(peer_id(1)) in got.query

        # Not a tracker request: 502.
        status, _, _ = net.curl(f"http://{ORIGIN}:{ORIGIN_PORT}/index.html")
        assert status == 502
        assert len(net.origin_requests()) == 1

        # A silent origin: the subscriber is answered within forwarding.timeout + margin.
        net.origin_mode.write_text("silent")
        ih2 = info_hash(1802)
        # (It claims another address in a header: the subscriber is the TCP source.)
        status, body, elapsed = net.curl(
            announce_url(f"{ORIGIN}:{ORIGIN_PORT}", ih2, peer_id(1), 6001, event="started"),
            headers=["X-Forwarded-For: 198.18.0.77"])
        assert status == 200, body
        assert elapsed < TIMEOUT + 3, elapsed
        assert b"peers" in bdecode(body)
        assert len(net.origin_requests()) == 2  # asked once, did not answer
        status, body, _ = net.curl(announce_url(f"{ROUTER_SUB}:{LOCAL_PORT}", ih2, peer_id(2),
                                                6002), source=LOCAL_PEER)
        assert status == 200
        assert compact_peers(bdecode(body)) == [(SUBSCRIBER, 6001)]

        # The counters show the intercepted requests by result (admin_allow: loopback).
        metrics = net.x("rtr", "curl", "-s", "-m", "3", "--interface", "127.0.0.1",
                        f"http://{ROUTER_SUB}:{LOCAL_PORT}/metrics").stdout
        samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                   for line in metrics.splitlines() if line and not line.startswith("#")}
        assert samples['btrt_requests_total{kind="intercepted",protocol="http",result="ok"}'] == 2
        assert samples['btrt_requests_total{kind="intercepted",protocol="http",'
                       'result="failure"}'] == 1
        assert samples['btrt_tracker_failures_total{kind="intercepted",protocol="http",'
                       'reason="not_tracker_traffic"}'] == 1
        # btrt's own requests to the origin left with interception.mark set.
        marked = net.x("rtr", "nft", "list", "chain", "inet", "btrt_test", "out").stdout
        assert int(re.search(r"counter packets (\d+)", marked).group(1)) > 0, marked

        # btrt stopped: the ruleset's fallback lets the announce reach the origin itself.
        net.origin_mode.write_text("peers")
        assert net.stop(btrt) == 0
        before = len(net.origin_requests())
        status, body, _ = net.curl(
            announce_url(f"{ORIGIN}:{ORIGIN_PORT}", ih, peer_id(1), 6001))
        assert status == 200, body
        assert compact_peers(bdecode(body)) == [EXTERNAL_PEER]
        requests = net.origin_requests()
        assert len(requests) == before + 1
        assert requests[-1]["client"] == SUBSCRIBER  # straight from the subscriber
    finally:
        net.down()


@needs_root
def test_spoofed_source_reaches_the_origin_from_the_subscriber(tmp_path):
    net = Net(tmp_path)
    try:
        start_router(net, tmp_path, "  spoof_source: true\n")
        url = announce_url(f"{ORIGIN}:{ORIGIN_PORT}", info_hash(1803), peer_id(1), 6001,
                           event="started")
        status, body, _ = net.curl(url)
        assert status == 200, body
        # The origin's answer came back to btrt (the ruleset's `socket transparent` rule):
        # its peer is in the subscriber's answer.
        assert EXTERNAL_PEER in compact_peers(bdecode(body))
        requests = net.origin_requests()
        assert len(requests) == 1, requests
        assert requests[0]["client"] == SUBSCRIBER  # not the router's address
    finally:
        net.down()


@needs_root
def test_neighbour_polls_carry_the_mark(tmp_path, monkeypatch):
    """btrt's polls of a neighbour leave with interception.mark like its forwarded requests: a
    router diverting the tracker port must not send them back to btrt."""
    neighbour = (f'neighbors:\n  - name: "partner"\n    refresh_interval: 1800\n'
                 f'    peers_expiry_interval: 7200\n'
                 f'    announce_request: "http://{ORIGIN}:{ORIGIN_PORT}/announce?info_hash='
                 '{info_hash}&peer_id=-NB0001-000000000000&port=6882&uploaded=0&downloaded=0'
                 '&left=0&compact=1"\n    timeout: 2\n')
    monkeypatch.setattr(sys.modules[__name__], "BTRT_CONFIG", BTRT_CONFIG + neighbour)
    net = Net(tmp_path)
    try:
        start_router(net, tmp_path)

        def polls():
            return [r for r in net.origin_requests() if "-NB0001-" in r["path"]]

        # A local peer announced to btrt itself (nothing forwarded): the neighbour is asked
        # about its torrent at once, from the router, and every packet to it was marked.
        status, _, _ = net.curl(announce_url(f"{ROUTER_SUB}:{LOCAL_PORT}", info_hash(1811),
                                             peer_id(2), 6002, event="started"),
                                source=LOCAL_PEER)
        assert status == 200
        wait_until(lambda: polls(), 10, "btrt to poll its neighbour")
        assert polls()[0]["client"] == ROUTER_UP
        assert len(net.origin_requests()) == len(polls())
        marked = net.x("rtr", "nft", "list", "chain", "inet", "btrt_test", "out").stdout
        assert int(re.search(r"counter packets (\d+)", marked).group(1)) > 0, marked
    finally:
        net.down()
