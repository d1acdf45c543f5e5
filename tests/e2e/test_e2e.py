"""End to end: libtorrent sessions download a generated payload through btrt over HTTP on
loopback, and the file each leecher ends with has the payload's hash. (aria2c and
transmission-cli: test_clients.py; libtorrent over UDP: test_udp_swarms.py.)"""
import socket
import threading
import urllib.parse

import pytest

from btrt_harness import raw_request, wait_for
from trackers import http_counts, http_peers
import lt_swarm
from btrt_harness import GROUPS

DEADLINE = 60  # s for any one swarm to finish


def announce_url(t, path="/announce"):
    return f"http://127.0.0.1:{t.port}{path}"


def wait_registered(t, ih, complete, incomplete=0):
    wait_for(lambda: http_counts(t, ih)[:2] >= (complete, incomplete), timeout=20,
             interval=0.2, what=f"btrt to count {complete} seeders and {incomplete} leechers")


def assert_payload(leechers, digest):
    for c in leechers:
        assert c.is_seeding(), c.ip
        assert lt_swarm.sha256_file(c.file_path()) == digest, f"{c.ip}: payload differs"


def test_local_retracking_full_transfer(make_tracker, payload, clients, tmp_path):
    t = make_tracker()
    src, name, digest = payload
    torrent = tmp_path / "local.torrent"
    ti = lt_swarm.make_torrent(src, name, [announce_url(t)], torrent)
    ih = ti.info_hash().to_bytes()

    seeders = [clients(ip, torrent, src, seed=True) for ip in ("127.1.0.1", "127.1.0.2",
                                                               "127.2.0.1")]
    wait_registered(t, ih, complete=3)
    leechers = [clients(ip, torrent, tmp_path / ip) for ip in ("127.1.0.11", "127.1.0.12",
                                                              "127.2.0.11", "127.3.0.11")]
    lt_swarm.wait_all(leechers, lambda c: c.is_seeding(), DEADLINE, "every leecher to finish")
    assert_payload(leechers, digest)
    # Every leecher got its bytes from peers the tracker named, over loopback.
    for c in leechers:
        assert sum(c.received.values()) > 0
        assert set(c.received) <= {x.ip for x in seeders + leechers}
    # btrt counted the completions (event=completed) and now sees seven seeders.
    wait_for(lambda: http_counts(t, ih) == (7, 0, 4), timeout=20, interval=0.2,
             what="scrape to count 7 seeders and 4 completions")
    # A local leecher is handed the local peers first, then partner, then external.
    peers = http_peers(t, ih, "127.1.9.9", 6999)
    assert [lt_swarm.group_of(ip) for ip, _ in peers] == \
        ["local"] * 4 + ["partner"] * 2 + ["external"]


def test_locality_cutoff_keeps_local_leechers_on_local_seeders(
        make_tracker, payload, clients, tmp_path):
    """With 10 local seeders (tracker.locality_cutoff 10) btrt names no external seeder to a
    local leecher, so libtorrent, which ranks the peers it knows by itself (BEP 40), still
    downloads every byte from local peers although external seeders are in the swarm."""
    t = make_tracker()
    src, name, digest = payload
    torrent = tmp_path / "cutoff.torrent"
    ti = lt_swarm.make_torrent(src, name, [announce_url(t)], torrent)
    ih = ti.info_hash().to_bytes()
    for i in range(1, 11):
        clients(f"127.1.0.{i}", torrent, src, seed=True)
    for i in range(1, 6):
        clients(f"127.3.0.{i}", torrent, src, seed=True)
    wait_registered(t, ih, complete=15)
    leechers = [clients(ip, torrent, tmp_path / ip) for ip in ("127.1.0.21", "127.1.0.22")]
    lt_swarm.wait_all(leechers, lambda c: c.is_seeding(), DEADLINE, "every leecher to finish")
    assert_payload(leechers, digest)
    for c in leechers:
        by_group = c.bytes_by_group()
        assert set(by_group) == {"local"} and by_group["local"] >= ti.total_size(), c.received


# --- forwarded announces ------------------------------------------------------------------
class DpiRelay:
    """A DPI stand-in: clients use it as their HTTP proxy; it passes each request on to btrt
    transparently (origin-form target, the origin's Host unchanged) from 127.0.0.1 and adds
    X-Forwarded-For with the subscriber's address."""

    def __init__(self, btrt_port):
        self.btrt_port = btrt_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _serve(self, conn, addr):
        with conn:
            conn.settimeout(10)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target, version = head[0].split(" ")
            url = urllib.parse.urlsplit(target)
            origin_form = url.path + ("?" + url.query if url.query else "")
            headers = [h for h in head[1:] if not h.lower().startswith(
                ("connection:", "proxy-connection:", "host:"))]
            self.seen.append((addr[0], target))
            out = (f"{method} {origin_form} {version}\r\nHost: {url.netloc}\r\n"
                   + "".join(h + "\r\n" for h in headers)
                   + f"X-Forwarded-For: {addr[0]}\r\nConnection: close\r\n\r\n")
            status, _, body = raw_request("127.0.0.1", self.btrt_port,
                                             out.encode("latin-1"), timeout=10)
            conn.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: text/plain\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                         .encode() + body)

    def close(self):
        self.closed = True
        self.sock.close()


def forwarding_config(trusted):
    return (f"server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  threads: 2\n"
            f"  trusted_sources: [\"{trusted}\"]\n"
            "forwarding:\n  timeout: 3\n  pass_client_ip: true\n"
            "  allowed_destinations: [\"127.0.0.0/8\"]\n" + GROUPS)


@pytest.mark.parametrize("path", ["proxy", "dpi"])
def test_forwarded_announces_reach_the_origin_and_local_peers_come_first(
        make_tracker, payload, clients, tmp_path, path):
    # The origin: a second btrt in plain mode (no peer groups), trusting btrt's ip=.
    origin = make_tracker("server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  threads: 1\n"
                          "  trusted_sources: [\"127.0.0.1/32\"]\n")
    # btrt: as the clients' HTTP proxy it gets absolute-form targets from the clients'
    # own addresses (so it trusts 127/8); behind the DPI stand-in only 127.0.0.1 talks to it.
    t = make_tracker(forwarding_config("127.0.0.0/8" if path == "proxy" else "127.0.0.1/32"))
    relay = None
    if path == "proxy":
        proxy = ("127.0.0.1", t.port)
    else:
        relay = DpiRelay(t.port)
        proxy = ("127.0.0.1", relay.port)
    try:
        src, name, digest = payload
        torrent = tmp_path / "forwarded.torrent"
        ti = lt_swarm.make_torrent(src, name, [announce_url(origin)], torrent)
        ih = ti.info_hash().to_bytes()

        # An external seeder announces to the origin directly; a local one through btrt.
        clients("127.3.0.1", torrent, src, seed=True)
        wait_registered(origin, ih, complete=1)
        clients("127.1.0.1", torrent, src, seed=True, proxy=proxy)
        wait_registered(t, ih, complete=1)        # btrt registered the subscriber...
        wait_registered(origin, ih, complete=2)   # ...and passed the announce on, with ip=
        leechers = [clients(ip, torrent, tmp_path / ip, proxy=proxy)
                    for ip in ("127.1.0.11", "127.1.0.12", "127.2.0.11")]
        lt_swarm.wait_all(leechers, lambda c: c.is_seeding(), DEADLINE,
                          "every leecher to finish")
        assert_payload(leechers, digest)

        # btrt holds the subscribers as its own peers, the origin got their completions.
        wait_for(lambda: http_counts(t, ih) == (4, 0, 3), timeout=20, interval=0.2,
                 what="btrt to count 4 seeders and 3 completions")
        wait_for(lambda: http_counts(origin, ih)[2] == 3, timeout=20, interval=0.2,
                 what="the origin to count 3 completions")
        # btrt hands out its subscribers first, then partner, then the origin's external peer.
        peers = http_peers(t, ih, "127.1.9.9", 6999)
        groups = [lt_swarm.group_of(ip) for ip, _ in peers]
        assert groups == sorted(groups, key=["local", "partner", "external", "other"].index)
        assert {ip for ip, _ in peers} >= {"127.1.0.1", "127.1.0.11", "127.1.0.12",
                                           "127.2.0.11", "127.3.0.1"}
        if relay:
            assert {src_ip for src_ip, _ in relay.seen} >= {"127.1.0.1", "127.1.0.11"}
            assert all(target.startswith(announce_url(origin)) for _, target in relay.seen)
        else:  # libtorrent sent btrt, its HTTP proxy, absolute-form targets
            wait_for(lambda: f"GET {announce_url(origin)}?" in t.logs(), timeout=10,
                     interval=0.2, what="btrt's request log to show an absolute-form target")
    finally:
        if relay:
            relay.close()


# --- neighbours ---------------------------------------------------------------------------
def test_leechers_complete_from_seeders_known_only_to_a_neighbour(
        make_tracker, payload, clients, tmp_path):
    partner = make_tracker()  # the partner's retracker: only the seeders announce here
    template = (f"http://127.0.0.1:{partner.port}/announce?info_hash={{info_hash}}"
                "&peer_id=-BT0001-000000000000&port=6882&uploaded=0&downloaded=0"
                "&left=4194304&event=started&compact=1&numwant=1000")
    t = make_tracker(GROUPS + "neighbors:\n"
                     f"  - name: \"partner\"\n    refresh_interval: 60\n"
                     f"    peers_expiry_interval: 600\n    announce_request: \"{template}\"\n"
                     f"    timeout: 3\n    max_concurrent: 4\n")
    src, name, digest = payload
    # One info dict, two .torrent files that differ only in the tracker they name.
    seeder_torrent, leecher_torrent = tmp_path / "seed.torrent", tmp_path / "leech.torrent"
    ti_s = lt_swarm.make_torrent(src, name, [announce_url(partner)], seeder_torrent)
    ti_l = lt_swarm.make_torrent(src, name, [announce_url(t)], leecher_torrent)
    ih = ti_l.info_hash().to_bytes()
    assert ti_s.info_hash() == ti_l.info_hash()

    [clients(ip, seeder_torrent, src, seed=True) for ip in ("127.2.0.1", "127.2.0.2")]
    wait_registered(partner, ih, complete=2)
    leechers = [clients(ip, leecher_torrent, tmp_path / ip)
                for ip in ("127.1.0.11", "127.1.0.12", "127.1.0.13")]
    wait_registered(t, ih, complete=0, incomplete=3)
    # btrt asks the neighbour at once for a new torrent; once it hands out the partner's
    # seeders, the leechers' next announce gets them.
    wait_for(lambda: {"127.2.0.1", "127.2.0.2"} <= {ip for ip, _ in
                                                  http_peers(t, ih, "127.1.9.9", 6999)},
             timeout=15, interval=0.3, what="btrt to hand out the neighbour's seeders")
    for c in leechers:
        c.reannounce()
    lt_swarm.wait_all(leechers, lambda c: c.is_seeding(), DEADLINE, "every leecher to finish")
    assert_payload(leechers, digest)
    # The payload entered through the partner's seeders (some leechers may have had all of
    # theirs from each other).
    assert sum(c.bytes_by_group().get("partner", 0) for c in leechers) >= ti_l.total_size()
    # The partner's retracker never saw the leechers themselves, only btrt's neighbour query.
    assert http_counts(partner, ih)[2] == 0
    assert {ip for ip, _ in http_peers(partner, ih, "127.2.9.9", 6999)} \
        .isdisjoint({c.ip for c in leechers})
