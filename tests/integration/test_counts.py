"""Counts that last and do not lie (docs/operations.md, "Counts"): `downloaded` outlives the
swarm and a restart, `complete`/`incomplete` never count expired peers, and a client that
comes back on a new port is one peer, not two."""
import re
import signal

from btrt_harness import GROUPS, compact_peers, info_hash, peer_id, wait_for


def torrents_in_memory(t):
    status, _, body = t.get("/metrics")
    assert status == 200
    return int(re.search(r"^btrt_torrents (\d+)$", body.decode(), re.M).group(1))


def downloaded(t, ih):
    return t.scrape(ih)[b"files"][ih][b"downloaded"]


def test_downloaded_outlives_the_swarm_and_a_restart(make_tracker):
    # A short peer_expiry makes the sweeper pass every second: an empty torrent goes at once.
    t = make_tracker(GROUPS + "tracker:\n  peer_expiry: 8\n")  # SQLite in its directory
    ih = info_hash(401)
    t.announce(ih, peer_id(1), 6001, source="127.1.0.1", left=0, event="completed")
    t.announce(ih, peer_id(1), 6001, source="127.1.0.1", left=0, event="stopped")
    wait_for(lambda: torrents_in_memory(t) == 0, timeout=10, what="the empty torrent to go")
    assert downloaded(t, ih) == 1

    # It comes back: the count goes on from where it was.
    t.announce(ih, peer_id(2), 6002, source="127.1.0.2", event="started")
    assert downloaded(t, ih) == 1
    t.announce(ih, peer_id(2), 6002, source="127.1.0.2", left=0, event="completed")
    assert downloaded(t, ih) == 2
    t.announce(ih, peer_id(2), 6002, source="127.1.0.2", left=0, event="stopped")
    assert downloaded(t, ih) == 2

    # A restart with no peer to restore: the database knows the torrent.
    assert t.stop() == 0
    t.start()
    assert torrents_in_memory(t) == 0
    assert downloaded(t, ih) == 2
    t.announce(ih, peer_id(3), 6003, source="127.1.0.3", left=0, event="completed")
    assert downloaded(t, ih) == 3


def test_expired_peers_are_never_counted(make_tracker):
    # The sweeper's pass follows peer_expiry at start (here 30 s); a reload then gives new
    # announces a 1 s life, so that peers expire long before the sweeper comes by.
    t = make_tracker(GROUPS)
    t.write_config(GROUPS + "tracker:\n  peer_expiry: 1\n")
    t.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in t.logs(), timeout=10, what="the reload")
    # Torrents spread over the store's shards (the second byte of the info-hash picks one).
    hashes = [bytes([0x40, 12 * i]) + b"\x11" * 18 for i in range(20)]
    for n, ih in enumerate(hashes):
        a = t.announce(ih, peer_id(n), 6000 + n, source="127.1.0.1", left=0, numwant=0)
        assert a[b"complete"] == 1
    wait_for(lambda: all(t.scrape(ih)[b"files"][ih][b"complete"] == 0 for ih in hashes),
             timeout=4, interval=0.1, what="expired seeders to be counted no more")
    answer = t.announce(hashes[0], peer_id(99), 7000, source="127.1.0.2")
    assert answer[b"complete"] == 0 and answer[b"incomplete"] == 1
    assert compact_peers(answer) == []


def test_same_peer_id_on_a_new_port_replaces_the_old_entry(make_tracker):
    t = make_tracker(GROUPS)
    ih = info_hash(402)
    t.announce(ih, peer_id(1), 6001, source="127.1.0.1", event="started")
    t.announce(ih, peer_id(1), 6002, source="127.1.0.1")  # restarted on another port
    answer = t.announce(ih, peer_id(2), 7000, source="127.1.0.2")
    assert compact_peers(answer) == [("127.1.0.1", 6002)]
    assert answer[b"incomplete"] == 2
    # Another client behind the same address (another peer id) is another peer.
    t.announce(ih, peer_id(3), 6003, source="127.1.0.1")
    assert t.scrape(ih)[b"files"][ih][b"incomplete"] == 3

    # The old entry is gone from the database as well.
    assert t.stop() == 0
    t.start()
    answer = t.announce(ih, peer_id(4), 7001, source="127.1.0.4")
    assert sorted(compact_peers(answer)) == [("127.1.0.1", 6002), ("127.1.0.1", 6003),
                                             ("127.1.0.2", 7000)]
