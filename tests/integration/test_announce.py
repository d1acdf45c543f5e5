"""Announce through the real binary: ranking by group, cutoff, exclusions, events."""
from btrt_harness import announce_query, compact_peers, compact_peers6, info_hash, peer_id, free_port, wait_for
from btrt_harness import GROUPS

LOCAL, PARTNER, OTHER = "127.1.0.", "127.2.0.", "127.3.0."


def group(ip):
    return "local" if ip.startswith(LOCAL) else "partner" if ip.startswith(PARTNER) else "other"


def populate(t, ih, local=0, partner=0, other=0, seeder=False):
    n = 0
    for prefix, count in ((LOCAL, local), (PARTNER, partner), (OTHER, other)):
        for i in range(count):
            n += 1
            t.announce(ih, peer_id(n + 1000 * ord(prefix[-2])), 6000 + i, source=f"{prefix}{i + 10}",
                       left=0 if seeder else 100, numwant=0)


def test_ranks_local_then_partner_then_others_and_cuts_at_numwant(tracker):
    ih = info_hash(1)
    populate(tracker, ih, local=3, partner=4, other=20)
    answer = tracker.announce(ih, peer_id(1), 7000, source="127.3.9.9", numwant=12)
    peers = compact_peers(answer)
    assert len(peers) == 12
    groups = [group(ip) for ip, _ in peers]
    assert groups == ["local"] * 3 + ["partner"] * 4 + ["other"] * 5
    assert answer[b"interval"] == 1800 and answer[b"min interval"] == 900
    assert answer[b"incomplete"] == 28 and answer[b"complete"] == 0


def test_locality_cutoff_default_keeps_others_out_when_enough_are_local(tracker):
    ih = info_hash(2)
    populate(tracker, ih, local=12, other=30)
    peers = compact_peers(tracker.announce(ih, peer_id(1), 7000, source="127.3.9.9", numwant=50))
    assert len(peers) == 12
    assert {group(ip) for ip, _ in peers} == {"local"}


def test_locality_cutoff_adds_next_levels_until_reached(tracker):
    ih = info_hash(3)
    populate(tracker, ih, local=3, partner=2, other=60)
    peers = compact_peers(tracker.announce(ih, peer_id(1), 7000, source="127.3.9.9", numwant=50))
    assert len(peers) == 50
    assert [group(ip) for ip, _ in peers[:5]] == ["local"] * 3 + ["partner"] * 2


def test_locality_cutoff_zero_fills_to_numwant(make_tracker):
    t = make_tracker(GROUPS + "tracker:\n  locality_cutoff: 0\n")
    ih = info_hash(4)
    populate(t, ih, local=12, other=30)
    peers = compact_peers(t.announce(ih, peer_id(1), 7000, source="127.3.9.9", numwant=50))
    assert len(peers) == 42
    assert [group(ip) for ip, _ in peers[:12]] == ["local"] * 12


def test_locality_seeders_complete_the_answer_with_enough_near_seeders(make_tracker):
    t = make_tracker(GROUPS + "tracker:\n  locality_seeders: 3\n")
    ih = info_hash(40)
    populate(t, ih, local=3, seeder=True)
    populate(t, ih, partner=2, other=30)
    peers = compact_peers(t.announce(ih, peer_id(1), 7000, source="127.1.9.9", numwant=50))
    assert sorted(group(ip) for ip, _ in peers) == ["local"] * 3
    # only seeders count: local leechers alone do not stop the answer
    ih2 = info_hash(41)
    populate(t, ih2, local=3)
    populate(t, ih2, other=30)
    peers = compact_peers(t.announce(ih2, peer_id(1), 7000, source="127.1.9.9", numwant=50))
    assert len(peers) == 33


def test_requester_is_never_in_its_own_answer(tracker):
    ih = info_hash(5)
    tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    tracker.announce(ih, peer_id(2), 7002, source="127.1.0.2")
    peers = compact_peers(tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1"))
    assert peers == [("127.1.0.2", 7002)]
    # Same peer id from another address is the requester too.
    peers = compact_peers(tracker.announce(ih, peer_id(2), 7009, source="127.1.0.9"))
    assert ("127.1.0.2", 7002) not in peers


def test_seeders_get_no_seeders(tracker):
    ih = info_hash(6)
    tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1", left=0)
    tracker.announce(ih, peer_id(2), 7002, source="127.1.0.2", left=5)
    seeder_view = compact_peers(tracker.announce(ih, peer_id(3), 7003, source="127.1.0.3", left=0))
    assert seeder_view == [("127.1.0.2", 7002)]
    leecher_view = compact_peers(tracker.announce(ih, peer_id(4), 7004, source="127.1.0.4"))
    assert len(leecher_view) == 3


def test_stopped_removes_the_peer_and_answers_no_peers(tracker):
    ih = info_hash(7)
    tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    tracker.announce(ih, peer_id(2), 7002, source="127.1.0.2")
    answer = tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1", event="stopped")
    assert compact_peers(answer) == []
    peers = compact_peers(tracker.announce(ih, peer_id(3), 7003, source="127.1.0.3"))
    assert peers == [("127.1.0.2", 7002)]


def test_completed_is_counted_once_per_peer(tracker):
    ih = info_hash(8)
    tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1", event="started")
    for _ in range(3):
        tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1", left=0, event="completed")
    tracker.announce(ih, peer_id(2), 7002, source="127.1.0.2", left=0, event="completed")
    files = tracker.scrape(ih)[b"files"]
    assert files[ih] == {b"complete": 2, b"incomplete": 0, b"downloaded": 2}


def test_non_compact_answers_with_and_without_peer_id(tracker):
    ih = info_hash(9)
    tracker.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    answer = tracker.announce(ih, peer_id(2), 7002, source="127.1.0.2", compact=0)
    assert answer[b"peers"] == [{b"ip": b"127.1.0.1", b"peer id": peer_id(1), b"port": 7001}]
    answer = tracker.announce(ih, peer_id(2), 7002, source="127.1.0.2", compact=0, no_peer_id=1)
    assert answer[b"peers"] == [{b"ip": b"127.1.0.1", b"port": 7001}]


def test_ipv6_peers_come_in_peers6(make_tracker):
    port6 = free_port("::1")
    t = make_tracker(GROUPS, extra_listen=(f"[::1]:{port6}",))
    ih = info_hash(10)
    status, _, _ = t.get("/announce?" + announce_query(ih, peer_id(1), 7001), host="::1",
                         port=port6)
    assert status == 200
    answer = t.announce(ih, peer_id(2), 7002, source="127.1.0.2")
    assert compact_peers6(answer) == [("::1", 7001)]
    assert compact_peers(answer) == []


def test_numwant_zero_and_cap(make_tracker):
    t = make_tracker(GROUPS + "tracker:\n  numwant_default: 5\n  numwant_max: 5\n  locality_cutoff: 0\n")
    ih = info_hash(11)
    populate(t, ih, other=10)
    assert compact_peers(t.announce(ih, peer_id(1), 7000, source="127.3.9.9", numwant=0)) == []
    assert len(compact_peers(t.announce(ih, peer_id(1), 7000, source="127.3.9.9", numwant=100))) == 5


def test_peers_expire_after_peer_expiry(make_tracker):
    t = make_tracker(GROUPS + "tracker:\n  peer_expiry: 2\n")
    ih = info_hash(12)
    t.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    assert t.scrape(ih)[b"files"][ih][b"incomplete"] == 1
    wait_for(lambda: t.scrape(ih)[b"files"][ih][b"incomplete"] == 0, timeout=10,
             what="the silent peer to expire")
    peers = compact_peers(t.announce(ih, peer_id(2), 7002, source="127.1.0.2"))
    assert peers == []


def test_scrape_several_and_unknown_hashes(tracker):
    a, b, unknown = info_hash(20), info_hash(21), info_hash(22)
    tracker.announce(a, peer_id(1), 7001, source="127.1.0.1", left=0)
    tracker.announce(a, peer_id(2), 7002, source="127.1.0.2")
    tracker.announce(b, peer_id(3), 7003, source="127.1.0.3")
    files = tracker.scrape(a, b, unknown)[b"files"]
    assert files[a] == {b"complete": 1, b"incomplete": 1, b"downloaded": 0}
    assert files[b] == {b"complete": 0, b"incomplete": 1, b"downloaded": 0}
    assert files[unknown] == {b"complete": 0, b"incomplete": 0, b"downloaded": 0}


def test_forwarded_for_is_honoured_only_from_trusted_sources(tracker):
    ih = info_hash(30)
    tracker.announce(ih, peer_id(1), 7001, source="127.0.0.1",
                     headers={"X-Forwarded-For": "127.1.5.5, 127.0.0.1"})
    tracker.announce(ih, peer_id(2), 7002, source="127.3.0.1",
                     headers={"X-Forwarded-For": "127.1.6.6"})  # untrusted: ignored
    tracker.announce(ih, peer_id(3), 7003, source="127.3.0.2", ip="127.1.7.7")  # ignored too
    peers = set(compact_peers(tracker.announce(ih, peer_id(9), 7009, source="127.3.9.9")))
    assert peers == {("127.1.5.5", 7001), ("127.3.0.1", 7002), ("127.3.0.2", 7003)}


def test_ip_parameter_is_honoured_from_trusted_sources(tracker):
    ih = info_hash(31)
    tracker.announce(ih, peer_id(1), 7001, source="127.0.0.1", ip="127.2.0.50")
    peers = compact_peers(tracker.announce(ih, peer_id(9), 7009, source="127.3.9.9"))
    assert peers == [("127.2.0.50", 7001)]


def test_x_real_ip_from_trusted_sources(tracker):
    ih = info_hash(32)
    tracker.announce(ih, peer_id(1), 7001, source="127.0.0.1", headers={"X-Real-IP": "127.1.8.8"})
    tracker.announce(ih, peer_id(2), 7002, source="127.0.0.1",
                     headers={"X-Real-IP": "127.1.9.9", "X-Forwarded-For": "127.2.9.9"})
    peers = set(compact_peers(tracker.announce(ih, peer_id(9), 7009, source="127.3.9.9")))
    assert peers == {("127.1.8.8", 7001), ("127.2.9.9", 7002)}  # X-Forwarded-For first
