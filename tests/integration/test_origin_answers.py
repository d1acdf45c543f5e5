"""An origin's answer is untrusted (docs/dpi-integration.md, "What btrt takes from an origin"):
a subscriber's own fake tracker must not take a swarm over, huge intervals and unusable
addresses are bounded or dropped, and what an origin says to one subscriber (a failure
reason, a warning) reaches no other."""
import concurrent.futures
import re
import socket
import urllib.parse

from btrt_harness import announce_query, bdecode, compact_peers, compact_peers6, info_hash, \
    peer_id, raw_request, wait_for

# 10/8 is the operator's own network here: an origin can list 100,000 addresses in it.
GROUPS = """
peer_groups:
  - name: "local peers"
    priority: 0
    cidr_list: ["127.1.0.0/16", "10.0.0.0/8"]
  - name: "partner peers"
    priority: 1
    cidr_list: ["127.2.0.0/16"]
"""


def config(tracker=""):
    # Only the fake origin's own address is allowed: other loopback addresses an origin lists
    # are unusable peers.
    return ("server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  threads: 2\n"
            "  trusted_sources: [\"127.0.0.1/32\"]\n"
            "forwarding:\n  timeout: 5\n  allowed_destinations: [\"127.0.0.1/32\"]\n"
            + tracker + GROUPS)


def forwarded(t, fake, query, subscriber, timeout=10):
    url = urllib.parse.quote(fake.url() + "?" + query, safe="")
    raw = (f"GET /forwarded_announce?url={url} HTTP/1.1\r\nHost: retracker.local\r\n"
           f"X-Forwarded-For: {subscriber}\r\nConnection: close\r\n\r\n").encode("latin-1")
    status, _, body = raw_request("127.0.0.1", t.port, raw, timeout=timeout)
    assert status == 200, (status, body)
    return bdecode(body)


def peers_by_source(t):
    status, _, body = t.get("/metrics")
    assert status == 200
    out = {}
    for m in re.finditer(r'^btrt_peers\{group="[^"]*",source="([^"]*)"\} (\d+)$',
                         body.decode(), re.M):
        out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def fake_local_peers(first, count):
    """`count` addresses in 10/8 from `first` on, port 6881."""
    return [(socket.inet_ntoa((0x0A000000 + first + i).to_bytes(4, "big")), 6881)
            for i in range(count)]


def test_a_fake_origin_cannot_push_the_local_seeder_out(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(301)
    seeder = ("127.1.0.1", 6001)
    t.announce(ih, peer_id(1), seeder[1], left=0, headers={"X-Forwarded-For": seeder[0]})

    # The subscriber's own tracker lists 100,000 "local" peers, another 100,000 each time.
    announced = {seeder}
    for n in range(8):
        fake.peers = fake_local_peers(1 + n * 100_000, 100_000)
        subscriber = (f"127.1.1.{n + 1}", 7000 + n)
        answer = forwarded(t, fake, announce_query(ih, peer_id(100 + n), subscriber[1],
                                                   event="started", numwant=50),
                           subscriber=subscriber[0])
        peers = compact_peers(answer)
        assert len(peers) == 50
        # Every peer that announced (the seeder, the subscribers before) before any learned.
        assert set(peers[:len(announced)]) == announced, (n, peers[:len(announced) + 1])
        announced.add(subscriber)
    assert fake.count() == 8

    # Local announces too: whatever the origin listed, the seeder is always handed out.
    for n in range(5):
        plain = t.announce(ih, peer_id(200 + n), 8000 + n, numwant=len(announced),
                           headers={"X-Forwarded-For": f"127.1.2.{n + 1}"})
        assert set(compact_peers(plain)) == announced
        announced.add((f"127.1.2.{n + 1}", 8000 + n))

    # Memory stays bounded: at most numwant_max (200) peers from one answer, at most
    # 5 x numwant_max learned peers per torrent.
    sources = peers_by_source(t)
    assert sources.get("local", 0) == 1 + 8 + 5
    assert sources.get("external", 0) == 1000, sources


def test_learned_peers_per_torrent_follow_numwant_max(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config(tracker="tracker:\n  numwant_default: 10\n  numwant_max: 20\n"))
    ih = info_hash(302)
    for n in range(10):
        fake.peers = fake_local_peers(1 + n * 1000, 1000)
        forwarded(t, fake, announce_query(ih, peer_id(n), 7000 + n, event="started"),
                  subscriber=f"127.1.1.{n + 1}")
    assert peers_by_source(t).get("external", 0) == 100  # 5 x numwant_max


def test_huge_intervals_and_unusable_addresses(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    usable = [("203.0.113.5", 6881), ("198.51.100.7", 6882), ("198.18.0.1", 6883),
              ("192.0.2.9", 6884), ("10.1.0.9", 6885), ("192.168.7.7", 6886)]
    unusable = [("0.0.0.0", 6881), ("127.0.0.2", 6881), ("224.0.0.1", 6881),
                ("239.255.255.250", 1900), ("255.255.255.255", 6881),
                ("10.7.7.7", 51413)]  # the last: the subscriber's own address
    fake.peers = unusable[:3] + usable[:3] + unusable[3:] + usable[3:]
    v6 = [("::", 1), ("::1", 2), ("ff02::1", 3), ("2001:db8::1", 4)]
    fake.extra = {"peers6": b"".join(socket.inet_pton(socket.AF_INET6, a) + p.to_bytes(2, "big")
                                     for a, p in v6)}
    for n, interval in enumerate([2 ** 31, 10 ** 9, 2 ** 32 + 5]):
        ih = info_hash(310 + n)
        fake.extra["interval"] = interval
        answer = forwarded(t, fake, announce_query(ih, peer_id(1), 5001, event="started"),
                           subscriber="10.7.7.7")
        assert 900 <= answer[b"interval"] <= 86400, answer[b"interval"]
        assert sorted(compact_peers(answer)) == sorted(usable)
        assert compact_peers6(answer) == [("2001:db8::1", 4)]
        # The origin's peers are kept (an interval of 2^31 once made their lifetime 0) and
        # handed to the next subscriber; the unusable ones never.
        later = t.announce(ih, peer_id(2), 5002, headers={"X-Forwarded-For": "127.1.3.3"})
        assert sorted(compact_peers(later)) == sorted(usable + [("10.7.7.7", 5001)])
        assert compact_peers6(later) == [("2001:db8::1", 4)]
        # And the cached answer of the origin stays within the bound as well.
        cached = forwarded(t, fake, announce_query(ih, peer_id(3), 5003),
                           subscriber="127.1.3.4")
        assert 900 <= cached[b"interval"] <= 86400
    assert fake.count() == 3  # the cached answers were fresh: no request for them


def test_failure_reason_reaches_only_the_refused_subscriber(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(320)
    t.announce(ih, peer_id(1), 6001, left=0, headers={"X-Forwarded-For": "127.1.0.1"})
    fake.delay = 1.5  # long enough for the second request to join the first
    fake.answer_for = lambda path: ({"failure reason": "unregistered passkey"}
                                    if "passkey=bad" in path else None)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        refused = pool.submit(forwarded, t, fake,
                              announce_query(ih, peer_id(2), 5002) + "&passkey=bad",
                              "127.1.0.2")
        wait_for(lambda: fake.count() == 1, timeout=5, what="the refused upstream request")
        other = pool.submit(forwarded, t, fake,
                            announce_query(ih, peer_id(3), 5003) + "&passkey=good", "127.1.0.3")
        refused, other = refused.result(timeout=10), other.result(timeout=10)
    assert fake.count() == 1  # merged: one upstream request for both
    assert refused == {b"failure reason": b"unregistered passkey"}
    assert b"failure reason" not in other
    assert ("127.1.0.1", 6001) in compact_peers(other)
    # The same query merged with it is the same subscriber asking again: it gets the text.
    fake.delay = 1.5
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        query = announce_query(ih, peer_id(2), 5002) + "&passkey=bad"
        first = pool.submit(forwarded, t, fake, query, "127.1.0.2")
        wait_for(lambda: fake.count() == 2, timeout=5, what="the second upstream request")
        again = pool.submit(forwarded, t, fake, query, "127.1.0.2")
        assert first.result(timeout=10) == again.result(timeout=10) == \
            {b"failure reason": b"unregistered passkey"}
    assert fake.count() == 2


def test_warning_message_is_for_its_subscriber_only(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(330)
    fake.answer_for = lambda path: ({"warning message": "your ratio is low"}
                                    if "passkey=low" in path else None)
    fake.delay = 1.5
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        warned = pool.submit(forwarded, t, fake,
                             announce_query(ih, peer_id(1), 5001) + "&passkey=low", "127.1.0.1")
        wait_for(lambda: fake.count() == 1, timeout=5, what="the upstream request")
        merged = pool.submit(forwarded, t, fake,
                             announce_query(ih, peer_id(2), 5002) + "&passkey=ok", "127.1.0.2")
        warned, merged = warned.result(timeout=10), merged.result(timeout=10)
    assert warned[b"warning message"] == b"your ratio is low"
    assert b"warning message" not in merged
    # Answered from the cached origin answer: no warning for anybody else either.
    cached = forwarded(t, fake, announce_query(ih, peer_id(3), 5003) + "&passkey=ok",
                       "127.1.0.3")
    assert fake.count() == 1
    assert b"warning message" not in cached
    assert cached[b"interval"] == 1800
