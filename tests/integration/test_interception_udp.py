"""Transparent interception of UDP (BEP 15) announces (docs/interception.md), black-box, in the
network namespaces of test_interception: subscriber -- router (btrt + the shipped ruleset) --
internet, where a fake BEP 15 origin listens on 203.0.113.10:6969. The subscriber's packets
go to the origin's address; the router diverts them to btrt, which answers from that address.
"""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from btrt_harness import info_hash, peer_id
from test_interception import (INTERCEPT_PORT, LOCAL_PEER, LOCAL_PORT, MARK, ORIGIN, ORIGIN_PORT,
                               ROUTER_SUB, ROUTER_UP, SUBSCRIBER, TIMEOUT, Net, announce_url,
                               check_config, needs_root, start_router, wait_until)

EXTERNAL_PEER = ("198.51.100.7", 51414)
ORIGIN_INTERVAL = 1500
ORIGIN_SEEDERS = 9

# The fake origin: BEP 15 with its own connection IDs; the mode file says how it behaves
# (peers, silent, error, garbage). Logs every datagram it reads as one JSON line.
UDP_ORIGIN_SCRIPT = r'''
import json, os, socket, struct, sys
host, port, log, mode_file, peer_ip, peer_port, interval, seeders = sys.argv[1:9]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((host, int(port)))
issued = set()
def note(entry):
    with open(log, "a") as f:
        f.write(json.dumps(entry) + "\n")
note({"ready": True})
while True:
    data, client = s.recvfrom(2048)
    try:
        mode = open(mode_file).read().strip()
    except FileNotFoundError:
        mode = "peers"
    if len(data) < 16:
        continue
    cid, action, tid = struct.unpack(">QII", data[:16])
    entry = {"client": client[0], "action": action, "mode": mode}
    if action == 1 and len(data) >= 98:
        entry.update(info_hash=data[16:36].hex(), peer_id=data[36:56].hex(),
                     port=struct.unpack(">H", data[96:98])[0], known_id=cid in issued,
                     key=struct.unpack(">I", data[88:92])[0])
    note(entry)
    if mode == "silent":
        continue
    if action == 0:
        new = int.from_bytes(os.urandom(8), "big")
        issued.add(new)
        s.sendto(struct.pack(">IIQ", 0, tid, new), client)
    elif action == 2:
        hashes = (len(data) - 16) // 20
        s.sendto(struct.pack(">II", 2, tid) + struct.pack(">III", int(seeders), 33, 2) * hashes,
                 client)
    elif action == 1:
        if mode == "error":
            s.sendto(struct.pack(">II", 3, tid) + b"torrent not registered here", client)
        elif mode == "garbage":
            s.sendto(struct.pack(">II", 7, tid) + b"????", client)
        else:
            family = socket.AF_INET6 if ":" in peer_ip else socket.AF_INET
            peer = socket.inet_pton(family, peer_ip) + int(peer_port).to_bytes(2, "big")
            s.sendto(struct.pack(">IIIII", 1, tid, int(interval), 2, int(seeders)) + peer, client)
'''

# The subscriber's BEP 15 client: connect and announce to the origin's address; prints what it
# got and from where as JSON. Bounded: every receive has a timeout.
SUBSCRIBER_SCRIPT = r'''
import json, socket, struct, sys
source, host, port, ih, pid, peer_port, event, timeout = sys.argv[1:9]
v6 = ":" in host
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((source, 0))
s.settimeout(float(timeout))
out = {}
def ask(packet):
    s.sendto(packet, (host, int(port)))
    try:
        data, sender = s.recvfrom(4096)
        return data, ("[%s]:%d" if v6 else "%s:%d") % sender[:2]
    except socket.timeout:
        return None, None
data, sender = ask(struct.pack(">QII", 0x41727101980, 0, 1))
out["connect_from"] = sender
if data is None or len(data) != 16:
    print(json.dumps(out)); sys.exit(0)
action, tid, cid = struct.unpack(">IIQ", data)
out["connect"] = [action, tid]
if event == "scrape":
    packet = struct.pack(">QII20s", cid, 2, 2, bytes.fromhex(ih))
else:
    packet = struct.pack(">QII20s20sQQQIIIiH", cid, 1, 2, bytes.fromhex(ih), bytes.fromhex(pid),
                         0, 100, 0, int(event), 0, 0x5678, -1, int(peer_port))
data, sender = ask(packet)
out["announce_from"] = sender
if data is not None:
    action, tid = struct.unpack(">II", data[:8])
    out["action"], out["tid"] = action, tid
    if action == 3:
        out["error"] = data[8:].decode("latin-1")
    elif action == 2:
        out["scrape"] = list(struct.unpack(">III", data[8:20]))
    elif action == 1:
        interval, leechers, seeders = struct.unpack(">III", data[8:20])
        out.update(interval=interval, leechers=leechers, seeders=seeders)
        peers = []
        size = 18 if v6 else 6
        family = socket.AF_INET6 if v6 else socket.AF_INET
        for i in range(20, len(data) - size + 1, size):
            peers.append([socket.inet_ntop(family, data[i:i + size - 2]),
                          int.from_bytes(data[i + size - 2:i + size], "big")])
        out["peers"] = peers
print(json.dumps(out))
'''

UDP_EXTRA = f'  udp_listen: ["0.0.0.0:{INTERCEPT_PORT}", "[::]:{INTERCEPT_PORT}"]\n'


def start_udp_origin(net, origin=ORIGIN, peer=EXTERNAL_PEER):
    script = net.workdir / "udp_origin.py"
    script.write_text(UDP_ORIGIN_SCRIPT)
    log = net.workdir / "udp_origin.jsonl"
    net.udp_origin_log = log
    net.popen("inet", "udp_origin", ["/usr/bin/python3", str(script), origin, str(ORIGIN_PORT),
                                     str(log), str(net.origin_mode), peer[0], str(peer[1]),
                                     str(ORIGIN_INTERVAL), str(ORIGIN_SEEDERS)])
    wait_until(lambda: log.exists() and "ready" in log.read_text(), 10, "the UDP origin")


def udp_requests(net):
    lines = net.udp_origin_log.read_text().splitlines()
    return [r for r in map(json.loads, lines) if "action" in r]


def subscriber_announce(net, ih, pid, port, event=2, timeout=TIMEOUT + 3, source=SUBSCRIBER,
                        origin=ORIGIN):
    script = net.workdir / "subscriber.py"
    script.write_text(SUBSCRIBER_SCRIPT)
    started = time.monotonic()
    r = net.x("sub", "/usr/bin/python3", str(script), source, origin, str(ORIGIN_PORT),
              ih.hex(), pid.hex(), str(port), str(event), str(timeout))
    return json.loads(r.stdout), time.monotonic() - started


def count_marked_udp(net):
    rules = net.workdir / "count_udp.nft"
    rules.write_text("table inet btrt_test_udp {\n  chain out {\n"
                     "    type filter hook output priority 0; policy accept;\n"
                     f"    udp dport {ORIGIN_PORT} meta mark {MARK} counter\n  }}\n}}\n")
    net.x("rtr", "nft", "-f", str(rules))


def metrics(net):
    text = net.x("rtr", "curl", "-s", "-m", "3", "--interface", "127.0.0.1",
                 f"http://{ROUTER_SUB}:{LOCAL_PORT}/metrics").stdout
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_udp_interception_keys_are_accepted(tmp_path):
    ok = check_config(tmp_path, 'interception:\n  udp_listen: ["127.0.0.1:6969", "[::1]:6969"]\n')
    assert ok.returncode == 0, ok.stderr
    bad = check_config(tmp_path, 'interception:\n  udp_listen: ["nowhere"]\n')
    assert bad.returncode == 2 and "btrt.conf:2:" in bad.stderr


@needs_root
def test_udp_start_is_refused_without_cap_net_admin(tmp_path):
    from btrt_harness import BTRT, free_port
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    conf = tmp_path / "btrt.conf"
    conf.write_text(
        f'server:\n  listen: ["127.0.0.1:{free_port()}"]\n  threads: 1\n'
        f'interception:\n  udp_listen: ["127.0.0.1:{free_port()}"]\n'
        f'logging:\n  path: "{tmp_path / "log"}"\n'
        f'database:\n  url: "sqlite://{tmp_path / "btrt.db"}"\n')
    proc = subprocess.run([setpriv, "--inh-caps=-net_admin", "--bounding-set=-net_admin",
                           str(BTRT), "run", "-c", str(conf)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert "interception.udp_listen" in proc.stderr + proc.stdout
    assert "CAP_NET_ADMIN" in proc.stderr + proc.stdout, proc.stderr


@needs_root
def test_router_diverts_udp_announces_to_btrt(tmp_path):
    net = Net(tmp_path)
    try:
        net.start_origin = lambda: start_udp_origin(net)
        start_router(net, tmp_path, UDP_EXTRA)
        count_marked_udp(net)
        ih = info_hash(1901)
        # A local peer, announced straight to btrt over HTTP: ranked first for the subscriber.
        status, _, _ = net.curl(announce_url(f"{ROUTER_SUB}:{LOCAL_PORT}", ih, peer_id(2), 6002,
                                             event="started"), source=LOCAL_PEER)
        assert status == 200

        answer, _ = subscriber_announce(net, ih, peer_id(1), 6001)
        origin = f"{ORIGIN}:{ORIGIN_PORT}"
        # btrt answered the connect itself, from the origin's address.
        assert answer["connect_from"] == origin, answer
        assert answer["announce_from"] == origin, answer
        assert answer["action"] == 1 and answer["tid"] == 2, answer
        assert answer["peers"][0] == [LOCAL_PEER, 6002], answer
        assert list(EXTERNAL_PEER) in answer["peers"], answer  # learned from the origin
        assert answer["interval"] == ORIGIN_INTERVAL
        assert answer["seeders"] == ORIGIN_SEEDERS  # the origin's larger count
        # The origin got btrt's own connect, then the subscriber's announce, from the router.
        requests = udp_requests(net)
        assert [r["action"] for r in requests] == [0, 1], requests
        announce = requests[1]
        assert announce["client"] == ROUTER_UP
        assert announce["known_id"] is True  # the origin's connection ID, not btrt's
        assert announce["info_hash"] == ih.hex() and announce["peer_id"] == peer_id(1).hex()
        assert announce["port"] == 6001 and announce["key"] == 0x5678
        # No loop: btrt's packets to the origin left marked and reached it, none came back.
        marked = net.x("rtr", "nft", "list", "chain", "inet", "btrt_test_udp", "out").stdout
        assert int(re.search(r"counter packets (\d+)", marked).group(1)) >= 2, marked

        # A second announce (an event) within the minute reuses the origin's connection ID.
        answer, _ = subscriber_announce(net, ih, peer_id(1), 6001, event=1)
        assert answer["action"] == 1, answer
        assert [r["action"] for r in udp_requests(net)] == [0, 1, 1]

        # A scrape: the origin's counts, from the origin's address.
        answer, _ = subscriber_announce(net, ih, peer_id(1), 0, event="scrape")
        assert answer["action"] == 2 and answer["announce_from"] == origin, answer
        assert answer["scrape"] == [ORIGIN_SEEDERS, 33, 2]
        assert udp_requests(net)[-1]["action"] == 2

        # The origin refuses: its message is relayed as a BEP 15 error.
        net.origin_mode.write_text("error")
        answer, _ = subscriber_announce(net, info_hash(1902), peer_id(1), 6001)
        assert answer["action"] == 3, answer
        assert answer["error"] == "torrent not registered here"
        assert answer["announce_from"] == origin

        # A silent origin never costs the subscriber an error: btrt answers from its store.
        net.origin_mode.write_text("silent")
        ih3 = info_hash(1903)
        status, _, _ = net.curl(announce_url(f"{ROUTER_SUB}:{LOCAL_PORT}", ih3, peer_id(2), 6002,
                                             event="started"), source=LOCAL_PEER)
        assert status == 200
        answer, elapsed = subscriber_announce(net, ih3, peer_id(1), 6001)
        assert answer["action"] == 1, answer
        assert answer["peers"] == [[LOCAL_PEER, 6002]], answer
        assert elapsed < TIMEOUT + 3, elapsed
        silent = [r for r in udp_requests(net) if r["mode"] == "silent"]
        assert len(silent) >= 2, silent  # asked, and asked again (BEP 15 retransmission)

        # A silent origin's scrape: btrt's own counts (the local peer and the subscriber).
        answer, elapsed = subscriber_announce(net, ih3, peer_id(1), 0, event="scrape")
        assert answer["action"] == 2, answer
        assert answer["scrape"] == [0, 0, 2], answer  # two leechers
        assert elapsed < TIMEOUT + 3, elapsed

        # Garbage from the origin: answered from the store, no error either.
        net.origin_mode.write_text("garbage")
        answer, _ = subscriber_announce(net, ih3, peer_id(1), 6001, event=1)
        assert answer["action"] == 1, answer

        # /stats names the BEP 15 origin by its scheme: apart from an HTTP tracker on its port.
        stats = json.loads(net.x("rtr", "curl", "-s", "-m", "3", "--interface", "127.0.0.1",
                                 f"http://{ROUTER_SUB}:{LOCAL_PORT}/stats?format=json").stdout)
        assert f"udp://{origin}" in [o["origin"] for o in stats["origins"]], stats["origins"]

        samples = metrics(net)
        assert samples['btrt_requests_total{kind="intercepted",protocol="udp",result="ok"}'] >= 8
        assert samples['btrt_tracker_failures_total{kind="intercepted",protocol="udp",'
                       'reason="origin_failure"}'] == 1

        # btrt stopped: the ruleset's fallback lets the subscriber reach the origin itself.
        net.origin_mode.write_text("peers")
        btrt = net.procs[1]
        assert net.stop(btrt) == 0
        answer, _ = subscriber_announce(net, ih, peer_id(1), 6001, event=0)
        assert answer["action"] == 1, answer
        assert answer["peers"] == [list(EXTERNAL_PEER)], answer
        assert udp_requests(net)[-1]["client"] == SUBSCRIBER
    finally:
        net.down()


@needs_root
def test_udp_spoofed_source_reaches_the_origin_from_the_subscriber(tmp_path):
    net = Net(tmp_path)
    try:
        net.start_origin = lambda: start_udp_origin(net)
        start_router(net, tmp_path, UDP_EXTRA + "  spoof_source: true\n")
        answer, _ = subscriber_announce(net, info_hash(1904), peer_id(1), 6001)
        assert answer["action"] == 1, answer
        # The origin's answer came back to btrt (the ruleset's `socket transparent` rule).
        assert list(EXTERNAL_PEER) in answer["peers"], answer
        requests = udp_requests(net)
        assert [r["client"] for r in requests] == [SUBSCRIBER, SUBSCRIBER], requests
    finally:
        net.down()


# IPv6: the same path over the ruleset's ip6 rules, 18-byte peers.
SUBSCRIBER6 = "2001:db8:18::2"
LOCAL_PEER6 = "2001:db8:18::3"
ROUTER_SUB6 = "2001:db8:18::1"
ROUTER_UP6 = "2001:db8:2::1"
INET_UP6 = "2001:db8:2::2"
ORIGIN6 = "2001:db8:113::10"
EXTERNAL_PEER6 = ("2001:db8:51::7", 51415)


def add_ipv6(net):
    for node, cidr, dev in (("rtr", f"{ROUTER_SUB6}/64", "sub0"),
                            ("sub", f"{SUBSCRIBER6}/64", "r0"), ("sub", f"{LOCAL_PEER6}/64", "r0"),
                            ("rtr", f"{ROUTER_UP6}/64", "up0"), ("inet", f"{INET_UP6}/64", "r0"),
                            ("inet", f"{ORIGIN6}/128", "r0")):
        net.x(node, "ip", "-6", "addr", "add", cidr, "dev", dev, "nodad")
    net.x("sub", "ip", "-6", "route", "add", "default", "via", ROUTER_SUB6)
    net.x("rtr", "ip", "-6", "route", "add", "2001:db8:113::/64", "via", INET_UP6)
    net.x("inet", "ip", "-6", "route", "add", "2001:db8:18::/64", "via", ROUTER_UP6)
    net.x("rtr", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    net.x("rtr", "ip", "-6", "rule", "add", "fwmark", "1", "lookup", "100")
    net.x("rtr", "ip", "-6", "route", "add", "local", "::/0", "dev", "lo", "table", "100")


@needs_root
def test_router_diverts_ipv6_udp_announces_to_btrt(tmp_path, monkeypatch):
    import test_interception
    config = test_interception.BTRT_CONFIG
    config = config.replace('cidr_list: ["198.18.0.0/24"]',
                            'cidr_list: ["198.18.0.0/24", "2001:db8:18::/64"]')
    config = config.replace('allowed_destinations: ["203.0.113.0/24"]',
                            'allowed_destinations: ["203.0.113.0/24", "2001:db8:113::/64"]')
    monkeypatch.setattr(test_interception, "BTRT_CONFIG", config)
    net = Net(tmp_path)
    try:
        def origins():
            add_ipv6(net)
            start_udp_origin(net, ORIGIN6, EXTERNAL_PEER6)

        net.start_origin = origins
        start_router(net, tmp_path, UDP_EXTRA)
        ih = info_hash(1911)
        # A local IPv6 peer, announced through the interception too (its origin is asked).
        answer, _ = subscriber_announce(net, ih, peer_id(2), 6002, source=LOCAL_PEER6,
                                        origin=ORIGIN6)
        assert answer["action"] == 1, answer
        answer, _ = subscriber_announce(net, ih, peer_id(1), 6001, source=SUBSCRIBER6,
                                        origin=ORIGIN6)
        origin = f"[{ORIGIN6}]:{ORIGIN_PORT}"
        assert answer["connect_from"] == origin and answer["announce_from"] == origin, answer
        assert answer["action"] == 1, answer
        assert answer["peers"][0] == [LOCAL_PEER6, 6002], answer
        assert list(EXTERNAL_PEER6) in answer["peers"], answer
        requests = udp_requests(net)
        assert [r["action"] for r in requests] == [0, 1, 1], requests  # one connect, reused
        assert {r["client"] for r in requests} == {ROUTER_UP6}
    finally:
        net.down()
