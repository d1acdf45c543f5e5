"""End to end: real BitTorrent clients download a generated payload through btrt on
loopback, and the file each leecher ends with has the payload's hash."""
import shutil

from btrt_harness import announce_query, bdecode, compact_peers, raw_request, wait_for
from conftest import GROUPS
import lt_swarm

DEADLINE = 60  # s for any one swarm to finish


def announce_url(t, path="/announce"):
    return f"http://127.0.0.1:{t.port}{path}"


def scrape_counts(t, ih):
    files = t.scrape(ih)[b"files"]
    entry = files.get(ih, {})
    return entry.get(b"complete", 0), entry.get(b"incomplete", 0), entry.get(b"downloaded", 0)


def wait_registered(t, ih, complete, incomplete=0):
    wait_for(lambda: scrape_counts(t, ih)[:2] >= (complete, incomplete), timeout=20,
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
    wait_for(lambda: scrape_counts(t, ih) == (7, 0, 4), timeout=20, interval=0.2,
             what="scrape to count 7 seeders and 4 completions")
