"""Neighbours (adjacent retrackers) with the real binary and fake neighbours on loopback."""
import signal
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from btrt_harness import GROUPS as BTRT_GROUPS
from btrt_harness import compact_peers, info_hash, peer_id, quote, wait_for
from fake_tracker import bencode, compact

GROUPS = BTRT_GROUPS + """tracker:
  locality_cutoff: 0
"""


def neighbor(name, fake, refresh=1800, expiry=7200, timeout=2, max_concurrent=4,
             template="/announce?info_hash={info_hash}&peer_id=-BT0001-000000000000&port=6882"
                      "&uploaded=0&downloaded=0&left=4194304&event=started&compact=1&numwant=1000"):
    return (f'  - name: "{name}"\n    refresh_interval: {refresh}\n'
            f'    peers_expiry_interval: {expiry}\n    announce_request: "{fake.url(template)}"\n'
            f'    timeout: {timeout}\n    max_concurrent: {max_concurrent}\n')


def test_first_local_announce_asks_the_neighbour_with_the_template(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("partner", fake))
    ih = bytes(range(20))
    started = time.monotonic()
    t.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    wait_for(lambda: fake.count() >= 1, timeout=5, what="the neighbour to be asked")
    asked_at, path, _ = fake.requests[0]
    assert asked_at - started < 3
    expected = ("/announce?info_hash=" + quote(ih) + "&peer_id=-BT0001-000000000000&port=6882"
                "&uploaded=0&downloaded=0&left=4194304&event=started&compact=1&numwant=1000")
    assert urllib.parse.unquote(path) == urllib.parse.unquote(expected)
    assert fake.hashes_asked() == [ih]


def test_neighbour_peers_are_handed_out_ranked_and_expire(make_tracker, fakes):
    fake = fakes()
    fake.peers = [("127.1.5.5", 6881), ("127.2.5.5", 6882), ("127.3.5.5", 6883)]
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("partner", fake, refresh=1, expiry=3))
    ih = info_hash(2)
    t.announce(ih, peer_id(1), 7001, source="127.3.0.1")
    wait_for(lambda: len(compact_peers(t.announce(ih, peer_id(1), 7001, source="127.3.0.1"))) == 3,
             timeout=10, what="the neighbour's peers in the answer")
    peers = compact_peers(t.announce(ih, peer_id(1), 7001, source="127.3.0.1"))
    assert peers == [("127.1.5.5", 6881), ("127.2.5.5", 6882), ("127.3.5.5", 6883)]
    # Learned peers are not btrt's own: scrape counts only the one that announced.
    assert t.scrape(ih)[b"files"][ih][b"incomplete"] == 1
    fake.peers = [("127.2.5.5", 6882)]  # the neighbour stops listing two of them
    wait_for(lambda: compact_peers(t.announce(ih, peer_id(1), 7001, source="127.3.0.1")) ==
             [("127.2.5.5", 6882)], timeout=15, what="the unlisted peers to expire")


def test_refreshes_recur_every_refresh_interval(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("partner", fake, refresh=2))
    t.announce(info_hash(3), peer_id(1), 7001, source="127.1.0.1")
    wait_for(lambda: fake.count() >= 4, timeout=15, what="four requests")
    times = [at for at, _, _ in fake.requests]
    gaps = [b - a for a, b in zip(times[1:], times[2:])]  # the first is the immediate one
    assert all(1.0 <= g <= 3.5 for g in gaps), gaps


def test_many_torrents_are_spread_over_the_interval_within_max_concurrent(make_tracker, fakes):
    fake = fakes()
    fake.delay = 0.3
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("partner", fake, refresh=4, max_concurrent=3))
    torrents = 40
    for n in range(torrents):
        t.announce(info_hash(100 + n), peer_id(1), 7001, source="127.1.0.1", numwant=0)
    wait_for(lambda: fake.count() >= torrents, timeout=20, what="the first round")
    first_round_end = time.monotonic()
    wait_for(lambda: fake.count() >= 2 * torrents, timeout=20, what="a paced round")
    paced = [at for at, _, _ in fake.requests[torrents:2 * torrents]]
    span = paced[-1] - paced[0]
    # 40 torrents over a 4 s interval: about 10 a second, not a burst.
    assert span >= 2.5, f"the round took {span:.2f} s: a burst"
    per_second = {}
    for at in paced:
        per_second[int(at - paced[0])] = per_second.get(int(at - paced[0]), 0) + 1
    assert max(per_second.values()) <= 20, per_second
    assert fake.max_in_flight <= 3
    assert first_round_end  # (the immediate round is bounded by max_concurrent too)


def test_torrents_without_live_local_peers_are_not_polled(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("partner", fake, refresh=1))
    live, gone = info_hash(4), info_hash(5)
    t.announce(live, peer_id(1), 7001, source="127.1.0.1")
    t.announce(gone, peer_id(2), 7002, source="127.1.0.2")
    t.announce(gone, peer_id(2), 7002, source="127.1.0.2", event="stopped")
    wait_for(lambda: fake.hashes_asked().count(live) >= 3, timeout=10, what="three rounds")
    asked = fake.hashes_asked()
    assert asked.count(gone) <= 1  # at most the immediate request, before it stopped


@pytest.mark.parametrize("mode", ["hang", "garbage", "failure", "refused"])
def test_failing_neighbour_never_slows_announces(make_tracker, fakes, mode):
    fake = fakes()
    if mode == "refused":
        fake.close()  # nothing listens on its port any more
    else:
        fake.mode = mode
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("broken", fake, refresh=1, timeout=1))
    slowest = 0.0
    deadline = time.monotonic() + 6
    n = 0
    while time.monotonic() < deadline:
        n += 1
        started = time.monotonic()
        t.announce(info_hash(200 + n % 5), peer_id(n), 7000 + n, source="127.1.0.1", numwant=5)
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.02)
    assert slowest < 0.5, f"an announce took {slowest:.2f} s"
    wait_for(lambda: "neighbour 'broken'" in t.logs(), timeout=10, what="the failure to be logged")
    if mode == "hang":
        # Back-off: far fewer requests than 5 torrents x 6 rounds would make.
        assert fake.count() < 20, fake.count()


@pytest.mark.parametrize("mode", ["failure", "garbage"])
def test_refusals_and_malformed_answers_do_not_back_the_neighbour_off(make_tracker, fakes, mode):
    # The neighbour is reachable; it only says nothing useful about these torrents (it may not
    # know them). Every torrent is still asked for once per refresh interval, and the log
    # gets one line, not one per answer.
    fake = fakes()
    fake.mode = mode
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("picky", fake, refresh=1, timeout=1))
    torrents = [info_hash(400 + n) for n in range(5)]
    for n, ih in enumerate(torrents):
        t.announce(ih, peer_id(n), 7000 + n, source="127.1.0.1", numwant=0)
    wait_for(lambda: all(fake.hashes_asked().count(ih) >= 4 for ih in torrents), timeout=12,
             what="every torrent asked for in four rounds")
    assert t.logs().count("[warning] neighbour 'picky'") == 1, t.logs()
    status, _, body = t.get("/metrics")
    assert status == 200
    assert 'btrt_neighbor_backed_off{neighbor="picky"} 0' in body.decode(), body.decode()


def test_one_torrent_refused_does_not_keep_the_peers_of_another_away(make_tracker):
    # A neighbour that refuses one torrent and lists peers for another: the second is served
    # in the same rounds, and the first is asked for again at the next refresh.
    refused, known = info_hash(500), info_hash(501)
    asked = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query,
                                                encoding="latin-1"))
            ih = query["info_hash"].encode("latin-1")
            asked.append(ih)
            if ih == refused:
                body = bencode({"failure reason": "unregistered torrent"})
            else:
                body = bencode({"interval": 1800, "peers": compact([("127.2.4.4", 6444)])})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        template = (f"http://127.0.0.1:{server.server_address[1]}/announce?info_hash={{info_hash}}"
                    "&peer_id=-BT0001-000000000000&port=6882&uploaded=0&downloaded=0&left=1"
                    "&compact=1")
        t = make_tracker(GROUPS + f"""neighbors:
  - name: "partner"
    refresh_interval: 1
    announce_request: "{template}"
    timeout: 1
    max_concurrent: 1
""")
        # The refused torrent first: with one request at a time, every later one follows it.
        t.announce(refused, peer_id(1), 7001, source="127.1.0.1", numwant=0)
        t.announce(known, peer_id(2), 7002, source="127.1.0.1", numwant=0)
        wait_for(lambda: asked.count(refused) >= 3 and asked.count(known) >= 3, timeout=10,
                 what="both torrents asked for in three rounds")
        assert ("127.2.4.4", 6444) in compact_peers(
            t.announce(known, peer_id(2), 7002, source="127.1.0.1"))
        assert "unregistered torrent" in t.logs()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_simultaneous_timeouts_are_one_failure_not_the_maximum_back_off(make_tracker, fakes):
    # 32 requests in flight time out together: one round failed, so the neighbour is backed
    # off for a second or two, not for the maximum (minutes) as 32 failures in a row would.
    fake = fakes()
    fake.mode = "hang"
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("slow", fake, refresh=2, timeout=1,
                                                         max_concurrent=32))
    torrents = [info_hash(600 + n) for n in range(32)]
    for n, ih in enumerate(torrents):
        t.announce(ih, peer_id(n), 7000 + n, source="127.1.0.1", numwant=0)
    wait_for(lambda: fake.count() >= 32, timeout=10, what="32 requests in flight")
    wait_for(lambda: "neighbour 'slow'" in t.logs(), timeout=10, what="the timeouts")
    fake.peers = [("127.2.6.6", 6666)]
    fake.mode = "peers"
    wait_for(lambda: ("127.2.6.6", 6666) in compact_peers(
        t.announce(torrents[0], peer_id(0), 7000, source="127.1.0.1")), timeout=15,
        what="the neighbour asked again after a short back-off")


def test_sighup_adds_and_removes_neighbours(make_tracker, fakes):
    old, new = fakes(), fakes()
    old.peers = [("127.2.9.9", 6999)]
    new.peers = [("127.2.8.8", 6888)]
    t = make_tracker(GROUPS + "neighbors:\n" + neighbor("old", old, refresh=1))
    ih = info_hash(6)
    t.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    wait_for(lambda: ("127.2.9.9", 6999) in compact_peers(
        t.announce(ih, peer_id(1), 7001, source="127.1.0.1")), timeout=10, what="old's peers")
    t.config_path.write_text(t.config_path.read_text().replace(
        neighbor("old", old, refresh=1), neighbor("new", new, refresh=1)))
    t.signal(signal.SIGHUP)
    wait_for(lambda: "neighbour 'old' removed" in t.logs(), timeout=10, what="the reload")
    assert ("127.2.9.9", 6999) not in compact_peers(
        t.announce(ih, peer_id(1), 7001, source="127.1.0.1"))
    wait_for(lambda: ("127.2.8.8", 6888) in compact_peers(
        t.announce(ih, peer_id(1), 7001, source="127.1.0.1")), timeout=10, what="new's peers")
    asked_old = old.count()
    time.sleep(1.5)  # a removed neighbour is asked no more (at least one refresh interval)
    assert old.count() == asked_old


def test_a_neighbour_added_by_sighup_to_none_is_polled(make_tracker, fakes):
    # Without neighbours the poller sleeps; a reload that adds one must wake it.
    partner = fakes()
    partner.peers = [("127.2.7.7", 6777)]
    t = make_tracker(GROUPS + "neighbors: []\n")
    ih = info_hash(7)
    t.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    t.config_path.write_text(t.config_path.read_text().replace(
        "neighbors: []\n", "neighbors:\n" + neighbor("partner", partner, refresh=1)))
    t.signal(signal.SIGHUP)
    wait_for(lambda: ("127.2.7.7", 6777) in compact_peers(
        t.announce(ih, peer_id(1), 7001, source="127.1.0.1")), timeout=10, what="its peers")
