"""End to end over UDP (BEP 15): libtorrent sessions download a generated payload through a
udp:// btrt, the only tracker their torrent names, and through one btrt swarm that seeders
join over HTTP and leechers over UDP. (aria2c and transmission-cli over UDP:
test_clients.py.)"""
import pytest

import lt_swarm
from btrt_harness import wait_for
from trackers import assert_announced_over, http_counts

DEADLINE = 60  # s for the swarm to finish


def test_libtorrent_swarm_over_udp(trackers, payload, clients, tmp_path):
    src, name, digest = payload
    tr = trackers("udp")
    torrent = tmp_path / "udp.torrent"
    ti = lt_swarm.make_torrent(src, name, [tr.url], torrent)
    ih = ti.info_hash().to_bytes()
    tr.start(ih)

    seeders = [clients(ip, torrent, src, seed=True) for ip in ("127.1.0.1", "127.3.0.1")]
    wait_for(lambda: tr.counts(ih)[:2] == (2, 0), timeout=20, interval=0.2,
             what="the seeders to register over UDP")
    leechers = [clients(ip, torrent, tmp_path / ip)
                for ip in ("127.1.0.11", "127.1.0.12", "127.2.0.11")]
    lt_swarm.wait_all(leechers, lambda c: c.is_seeding(), DEADLINE, "every leecher to finish")
    for c in leechers:
        assert lt_swarm.sha256_file(c.file_path()) == digest, f"{c.ip}: payload differs"
        # every byte came from peers the tracker named (DHT, PEX and LSD are off)
        assert sum(c.received.values()) > 0
        assert set(c.received) <= {x.ip for x in seeders + leechers}, c.received
    # The leechers announced "completed" over UDP: five seeders, three completions.
    wait_for(lambda: tr.counts(ih) == (5, 0, 3), timeout=20, interval=0.2,
             what=f"five seeders and three completions (last: {tr.counts(ih)})")
    # The tracker hands out every client at the address it announced from and its port.
    probe = ("127.1.9.9", 6999)
    peers = [p for p in tr.peers(ih, *probe) if p != probe]  # opentracker names the asker too
    assert set(peers) == {(c.ip, c.port) for c in seeders + leechers}
    if tr.ranks:  # a local leecher gets the local peers first, then partner, then external
        assert [lt_swarm.group_of(ip) for ip, _ in peers] == \
            ["local"] * 3 + ["partner", "external"]
    # the seeders' started, the leechers' started and completed
    assert_announced_over(tr, "udp", 2 + 2 * 3)


def test_one_swarm_over_both_protocols(trackers, payload, clients, tmp_path):
    """Seeders announce to btrt over HTTP, leechers over UDP: one swarm, the leechers get
    the seeders, and both protocols count the same peers."""
    tr = trackers("udp")
    if not hasattr(tr, "btrt"):
        pytest.skip("needs btrt's HTTP and UDP listeners")
    src, name, digest = payload
    http_torrent, udp_torrent = tmp_path / "http.torrent", tmp_path / "udp.torrent"
    ti = lt_swarm.make_torrent(src, name, [f"http://127.0.0.1:{tr.btrt.port}/announce"],
                               http_torrent)
    assert lt_swarm.make_torrent(src, name, [tr.url], udp_torrent).info_hash() == ti.info_hash()
    ih = ti.info_hash().to_bytes()
    tr.start(ih)

    seeders = [clients(ip, http_torrent, src, seed=True) for ip in ("127.1.0.1", "127.3.0.1")]
    wait_for(lambda: tr.counts(ih)[:2] == (2, 0), timeout=20, interval=0.2,
             what="the HTTP seeders to be counted over UDP")
    leechers = [clients(ip, udp_torrent, tmp_path / ip) for ip in ("127.1.0.11", "127.2.0.11")]
    lt_swarm.wait_all(leechers, lambda c: c.is_seeding(), DEADLINE, "every leecher to finish")
    for c in leechers:
        assert lt_swarm.sha256_file(c.file_path()) == digest, f"{c.ip}: payload differs"
        assert set(c.received) <= {x.ip for x in seeders + leechers}, c.received
    wait_for(lambda: tr.counts(ih) == (4, 0, 2), timeout=20, interval=0.2,
             what="four seeders and two completions, read over UDP")
    assert http_counts(tr.btrt, ih) == (4, 0, 2)
    by_proto = tr.announces()
    if by_proto is not None:
        assert by_proto["http"] >= 2 and by_proto["udp"] >= 2 * 2, by_proto
