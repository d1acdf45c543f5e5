"""The UDP tracker (BEP 15, docs/udp.md) through the real binary, from many loopback sources."""
import re
import signal
import socket
import struct
import time

import pytest

from btrt_harness import GROUPS, compact_peers, info_hash, peer_id, sanitized_build, wait_for
from udp_client import COMPLETED, PROTOCOL_ID, STARTED, STOPPED, Client, free_udp_port

LOCAL, PARTNER, OTHER = "127.1.0.", "127.2.0.", "127.3.0."
# "At once": well under a client's first retransmission (15 s); sanitizers slow btrt down.
PROMPT = 2.0 if sanitized_build() else 0.5


def config(extra="", trusted="127.0.0.1/32"):
    return f"""
server:
  listen: ["127.0.0.1:%PORT%"]
  udp_listen: ["127.0.0.1:%UDP%", "[::1]:%UDP%"]
  threads: 2
  trusted_sources: ["{trusted}"]
  admin_allow: ["127.0.0.1/32"]
""" + GROUPS + extra


@pytest.fixture
def udp_tracker(make_tracker):
    def make(extra=""):
        port = free_udp_port()
        t = make_tracker(config(extra).replace("%UDP%", str(port)), start=False)
        t.udp_port = port
        return t.start()
    return make


def udp_announce(t, source, ih, pid, port, **kwargs):
    c = Client(t, source)
    try:
        return c.announce(ih, pid, port, **kwargs)
    finally:
        c.close()


def metrics(t):
    status, _, body = t.get("/metrics")
    assert status == 200
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def group(ip):
    return "local" if ip.startswith(LOCAL) else "partner" if ip.startswith(PARTNER) else "other"


def test_connect_then_announce(udp_tracker):
    t = udp_tracker()
    ih = info_hash(1)
    interval, leechers, seeders, peers = udp_announce(t, "127.1.0.1", ih, peer_id(1), 6001,
                                                      event=STARTED)
    assert (interval, leechers, seeders, peers) == (1800, 1, 0, [])
    _, leechers, seeders, peers = udp_announce(t, "127.1.0.2", ih, peer_id(2), 6002, left=0)
    assert (leechers, seeders, peers) == (1, 1, [("127.1.0.1", 6001)])
    m = metrics(t)
    assert m['btrt_requests_total{kind="announce",protocol="udp",result="ok"}'] == 2
    assert m['btrt_requests_total{kind="connect",protocol="udp",result="ok"}'] == 2
    assert m['btrt_requests_total{kind="announce",protocol="http",result="ok"}'] == 0


def test_ranking_local_first_and_cutoff(udp_tracker):
    t = udp_tracker()
    ih = info_hash(2)
    n = 0
    for prefix, count in ((OTHER, 6), (PARTNER, 2), (LOCAL, 3)):
        for i in range(count):
            n += 1
            udp_announce(t, f"{prefix}{i + 10}", ih, peer_id(n), 6000 + n, numwant=0)
    _, _, _, peers = udp_announce(t, "127.3.9.9", ih, peer_id(99), 7000, numwant=8)
    assert [group(ip) for ip, _ in peers] == ["local"] * 3 + ["partner"] * 2 + ["other"] * 3

    # The locality cutoff: enough local peers keep the others out.
    ih = info_hash(3)
    for i in range(12):
        udp_announce(t, f"{LOCAL}{i + 10}", ih, peer_id(100 + i), 6000 + i, numwant=0)
    for i in range(5):
        udp_announce(t, f"{OTHER}{i + 10}", ih, peer_id(200 + i), 6000 + i, numwant=0)
    _, _, _, peers = udp_announce(t, "127.3.9.9", ih, peer_id(99), 7000, numwant=50)
    assert len(peers) == 12 and {group(ip) for ip, _ in peers} == {"local"}


def test_ipv6_announce_gets_18_byte_peers(udp_tracker):
    t = udp_tracker()
    ih = info_hash(4)
    udp_announce(t, "127.1.0.1", ih, peer_id(1), 6001)  # IPv4: not in an IPv6 answer
    first, second = Client(t, "::1"), Client(t, "::1")
    try:
        assert first.announce(ih, peer_id(2), 6002)[3] == []
        _, leechers, _, peers = second.announce(ih, peer_id(3), 6003)
        assert leechers == 3 and peers == [("::1", 6002)]
    finally:
        first.close()
        second.close()
    _, _, _, peers = udp_announce(t, "127.1.0.9", ih, peer_id(4), 6004)
    assert peers == [("127.1.0.1", 6001)]


def test_one_swarm_for_udp_and_http(udp_tracker):
    t = udp_tracker()
    ih = info_hash(5)
    udp_announce(t, "127.1.0.1", ih, peer_id(1), 6001)
    answer = t.announce(ih, peer_id(2), 6002, source="127.1.0.2")
    assert compact_peers(answer) == [("127.1.0.1", 6001)]
    _, leechers, _, peers = udp_announce(t, "127.1.0.3", ih, peer_id(3), 6003)
    assert leechers == 3
    assert sorted(peers) == [("127.1.0.1", 6001), ("127.1.0.2", 6002)]


def test_scrape_counts_completed_and_stopped(udp_tracker):
    t = udp_tracker()
    ih, empty = info_hash(6), info_hash(7)
    udp_announce(t, "127.1.0.1", ih, peer_id(1), 6001, event=STARTED)
    udp_announce(t, "127.1.0.2", ih, peer_id(2), 6002, event=STARTED)
    udp_announce(t, "127.1.0.3", ih, peer_id(3), 6003, event=STARTED, left=0)
    c = Client(t, "127.1.0.50")
    try:
        assert c.scrape(ih, empty) == [(1, 0, 2), (0, 0, 0)]  # seeders, completed, leechers
        udp_announce(t, "127.1.0.1", ih, peer_id(1), 6001, event=COMPLETED, left=0)
        assert c.scrape(ih) == [(2, 1, 1)]
        udp_announce(t, "127.1.0.2", ih, peer_id(2), 6002, event=STOPPED)
        assert c.scrape(ih) == [(2, 1, 0)]
        hashes = [info_hash(1000 + i) for i in range(74)]
        assert c.scrape(*hashes) == [(0, 0, 0)] * 74
    finally:
        c.close()
    assert t.scrape(ih)[b"files"][ih] == {b"complete": 2, b"downloaded": 1, b"incomplete": 0}


def test_connection_id_of_another_source_gets_no_answer(udp_tracker):
    t = udp_tracker()
    mine, other = Client(t, "127.1.0.1"), Client(t, "127.1.0.2")
    try:
        other_id = other.connect()
        mine.connect()
        mine.send(mine.announce_packet(info_hash(8), peer_id(1), 6001, cid=other_id))
        # Answers come back in order: the next answer is the probe's, so the announce got none.
        mine.send(struct.pack(">QII", PROTOCOL_ID, 0, 4242))
        assert struct.unpack(">IIQ", mine.receive())[:2] == (0, 4242)
        assert metrics(t)['btrt_udp_dropped_total{reason="connection_id"}'] == 1
        files = t.scrape(info_hash(8))[b"files"]
        assert files.get(info_hash(8), {}).get(b"incomplete", 0) == 0  # not registered
    finally:
        mine.close()
        other.close()


def test_every_malformed_kind_is_dropped_and_counted(udp_tracker):
    t = udp_tracker()
    c = Client(t, "127.1.0.1")
    try:
        c.connect()
        good = c.announce_packet(info_hash(9), peer_id(1), 6001)
        kinds = {
            "too_short": [b"\x00" * 8, b""],
            "oversized": [good + b"\x01" * 1500],
            "wrong_length": [struct.pack(">QIIB", PROTOCOL_ID, 0, 1, 0), good[:97],
                             struct.pack(">QII", c.cid, 2, 1) + b"x" * 19,
                             struct.pack(">QII", c.cid, 2, 1)],
            "protocol_id": [struct.pack(">QII", PROTOCOL_ID + 1, 0, 1)],
            "unknown_action": [struct.pack(">QII", c.cid, 7, 1), struct.pack(">QII", c.cid, 3, 1)],
            "bad_options": [good + bytes([2, 50]) + b"/x", good + bytes([1, 2])],
            "connection_id": [c.announce_packet(info_hash(9), peer_id(1), 6001, cid=c.cid ^ 1)],
        }
        before = metrics(t)
        for packets in kinds.values():
            for p in packets:
                c.send(p)
        started = time.monotonic()
        _, leechers, _, _ = c.announce(info_hash(9), peer_id(1), 6001)  # the next answer is this
        assert time.monotonic() - started < PROMPT
        assert leechers == 1
        after = metrics(t)
        for reason, packets in kinds.items():
            key = f'btrt_udp_dropped_total{{reason="{reason}"}}'
            assert after[key] - before[key] == len(packets), reason
    finally:
        c.close()


def dropped_total(t):
    return sum(v for k, v in metrics(t).items() if k.startswith("btrt_udp_dropped_total"))


def test_garbage_flood_does_not_hold_up_others(udp_tracker):
    t = udp_tracker()
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.5.0.1", 0))
    flood.setblocking(False)
    c = Client(t, "127.1.0.1", timeout=0.2)
    try:
        c.connect()
        sent = 0
        for i in range(10000):
            try:
                # Announce-sized, with a connection ID nobody was given.
                flood.sendto(c.announce_packet(info_hash(i), peer_id(i), 1, cid=i), c.server)
                sent += 1
            except BlockingIOError:
                pass
        # Right after the flood: answered at once. A datagram the kernel dropped while the
        # flood filled the socket's buffer is sent again, as a client would (sooner here).
        worst = 0.0
        for _ in range(20):
            started = time.monotonic()
            for _attempt in range(5):
                c.send(c.announce_packet(info_hash(10**6), peer_id(1), 6001))
                answer = c.receive()
                if answer is not None:
                    break
            assert answer is not None and struct.unpack(">II", answer[:8]) == (1, c.tid)
            worst = max(worst, time.monotonic() - started)
        assert worst < PROMPT, worst
        assert sent > 1000
        wait_for(lambda: dropped_total(t) >= min(sent, 1000), timeout=10,
                 what="the flood to be counted")
        # Every drop was the flood's kind; one snapshot (the flood may still be being read).
        snapshot = metrics(t)
        drops = {k: v for k, v in snapshot.items() if k.startswith("btrt_udp_dropped_total")}
        assert drops['btrt_udp_dropped_total{reason="connection_id"}'] == sum(drops.values())
        with pytest.raises(BlockingIOError):
            flood.recv(64)  # the flood got nothing back
    finally:
        flood.close()
        c.close()


def test_ip_field_only_from_trusted_sources(udp_tracker):
    t = udp_tracker()
    ih = info_hash(11)
    claimed = struct.unpack(">I", socket.inet_aton("127.1.0.77"))[0]
    udp_announce(t, "127.0.0.1", ih, peer_id(1), 6001, ip=claimed)
    udp_announce(t, "127.1.0.5", ih, peer_id(2), 6002,
                 ip=struct.unpack(">I", socket.inet_aton("127.1.0.88"))[0])
    answer = t.announce(ih, peer_id(3), 6003, source="127.1.0.9")
    assert sorted(compact_peers(answer)) == [("127.1.0.5", 6002), ("127.1.0.77", 6001)]


def test_numwant_default_cap_and_reload(udp_tracker):
    t = udp_tracker("tracker:\n  numwant_default: 3\n  numwant_max: 5\n  locality_cutoff: 0\n")
    ih = info_hash(12)
    for i in range(8):
        udp_announce(t, f"{LOCAL}{i + 10}", ih, peer_id(i + 1), 6000 + i, numwant=0)
    assert len(udp_announce(t, "127.1.0.99", ih, peer_id(99), 7000, numwant=-1)[3]) == 3
    assert len(udp_announce(t, "127.1.0.99", ih, peer_id(99), 7000, numwant=100)[3]) == 5
    assert len(udp_announce(t, "127.1.0.99", ih, peer_id(99), 7000, numwant=2)[3]) == 2

    # SIGHUP: the tracker section applies to UDP as to HTTP.
    text = t.config_path.read_text().replace("numwant_default: 3", "numwant_default: 4")
    t.config_path.write_text(text)
    t.signal(signal.SIGHUP)
    wait_for(lambda: len(udp_announce(t, "127.1.0.99", ih, peer_id(99), 7000)[3]) == 4,
             timeout=10, what="the reload")


def test_second_instance_on_the_same_udp_port_fails(udp_tracker, make_tracker):
    first = udp_tracker()
    second = make_tracker(config().replace("%UDP%", str(first.udp_port)), start=False)
    second.start(expect_ready=False)
    assert second.proc.wait(timeout=15) == 1
    out = second.logs() + second.output()
    assert re.search(rf"cannot listen on udp 127\.0\.0\.1:{first.udp_port}: Address already in use",
                     out), out
    assert udp_announce(first, "127.1.0.1", info_hash(13), peer_id(1), 6001)[1] == 1


def test_sigterm_stops_cleanly_while_udp_is_served(udp_tracker):
    t = udp_tracker()
    c = Client(t, "127.1.0.1")
    try:
        c.announce(info_hash(14), peer_id(1), 6001)
        for i in range(200):  # queued, some perhaps unread when the signal arrives
            c.send(c.announce_packet(info_hash(14), peer_id(1), 6001))
        assert t.stop(timeout=10) == 0
        assert "stopped" in t.logs()
    finally:
        c.close()
