"""Forwarded announces (docs/dpi-integration.md) with the real binary and fake origin trackers on loopback:
the DPI's three request shapes, the origin cache, merging, failures, back-off and the guards."""
import concurrent.futures
import json
import time
import urllib.parse

import pytest

from btrt_harness import (GROUPS, announce_query, bdecode, compact_peers, info_hash, peer_id,
                          raw_request, wait_for)

# An origin's loopback peers are dropped (unusable): the peers origins list here live in
# 10.1/16 (local), 10.2/16 (partner) and 203.0.113/24 (other).
ORIGIN_GROUPS = GROUPS.replace('["127.1.0.0/16"]', '["127.1.0.0/16", "10.1.0.0/16"]') \
    .replace('["127.2.0.0/16"]', '["127.2.0.0/16", "10.2.0.0/16"]')


def config(forwarding="  allowed_destinations: [\"127.0.0.0/8\"]\n", tracker=""):
    return ("server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  threads: 2\n"
            "  trusted_sources: [\"127.0.0.1/32\"]\n"
            "forwarding:\n  timeout: 2\n" + forwarding + tracker + ORIGIN_GROUPS)


def request(t, target, host, subscriber="127.1.0.5", headers=None, source=None, timeout=10):
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    xff = f"X-Forwarded-For: {subscriber}\r\n" if subscriber else ""
    raw = (f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{xff}{extra}"
           f"Connection: close\r\n\r\n").encode("latin-1")
    status, _, body = raw_request("127.0.0.1", t.port, raw, source=source, timeout=timeout)
    assert status == 200, (status, body)
    return bdecode(body)


def explicit(t, origin_url, query, **kw):
    url = urllib.parse.quote(origin_url + "?" + query, safe="")
    return request(t, "/forwarded_announce?url=" + url, "retracker.local", **kw)


def transparent(t, fake, query, path="/announce", **kw):
    return request(t, f"{path}?{query}", f"127.0.0.1:{fake.port}", **kw)


def absolute(t, fake, query, path="/announce", **kw):
    return request(t, f"http://127.0.0.1:{fake.port}{path}?{query}", f"127.0.0.1:{fake.port}", **kw)


SHAPES = {"explicit": lambda t, fake, q, **kw: explicit(t, fake.url(), q, **kw),
          "transparent": transparent, "absolute": absolute}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_origin_gets_the_query_unchanged_and_local_peers_come_first(make_tracker, fakes, shape):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(1)
    # Peers btrt knows itself: two local subscribers.
    for n in (1, 2):
        t.announce(ih, peer_id(100 + n), 6000 + n, headers={"X-Forwarded-For": f"127.1.0.{n}"})
    fake.peers = ([(f"203.0.113.{n}", 7000 + n) for n in range(1, 41)] +
                  [(f"10.2.0.{n}", 8000 + n) for n in range(1, 4)] + [("10.1.0.9", 9009)])
    fake.extra = {"interval": 1234, "complete": 50, "incomplete": 60}
    query = announce_query(ih, peer_id(7), 5555, numwant=20, event="started") + \
        "&passkey=Ab%2Fc%2B%3D&z=%7E"
    answer = SHAPES[shape](t, fake, query)

    assert fake.paths() == ["/announce?" + query]  # byte for byte: passkey and all
    assert "btrt" in fake.headers().get("Via", "")
    peers = compact_peers(answer)
    assert len(peers) == 20
    groups = [p[0].rsplit(".", 2)[0] for p in peers]
    # 3 local (the 2 announced here first, then 1 from the origin), then 3 partner, then the
    # rest.
    assert sorted(peers[:2]) == [("127.1.0.1", 6001), ("127.1.0.2", 6002)]
    assert peers[2] == ("10.1.0.9", 9009)
    assert groups[3:6] == ["10.2"] * 3
    assert set(groups[6:]) == {"203.0"}
    assert answer[b"interval"] == 1234
    assert answer[b"complete"] == 50 and answer[b"incomplete"] == 60


def test_counts_are_the_larger_and_interval_never_below_min_interval(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(2)
    for n in range(1, 5):
        t.announce(ih, peer_id(n), 6000 + n, left=0, headers={"X-Forwarded-For": f"127.1.0.{n}"})
    fake.extra = {"interval": 60, "complete": 1, "incomplete": 9,
                  "warning message": "origin says hi"}
    answer = explicit(t, fake.url(), announce_query(ih, peer_id(9), 5000, event="started"))
    assert answer[b"interval"] == 900  # tracker.min_interval
    assert answer[b"complete"] == 4 and answer[b"incomplete"] == 9
    assert answer[b"warning message"] == b"origin says hi"


def test_subscriber_becomes_a_local_peer_for_plain_announces(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(3)
    explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001, event="started"),
             subscriber="127.1.4.4")
    plain = t.announce(ih, peer_id(2), 5002, headers={"X-Forwarded-For": "127.1.4.5"})
    assert ("127.1.4.4", 5001) in compact_peers(plain)
    assert plain[b"incomplete"] == 2


def test_origin_peers_are_kept_for_later_announces(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(4)
    fake.peers = [("203.0.113.3", 3333)]
    explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001, event="started"))
    plain = t.announce(ih, peer_id(2), 5002, headers={"X-Forwarded-For": "127.1.4.5"})
    assert ("203.0.113.3", 3333) in compact_peers(plain)
    assert plain[b"incomplete"] == 2  # origin peers are not counted as btrt's own


def test_origin_peers6_and_dictionary_lists_are_understood(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(5)
    v6 = b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01" + (4444).to_bytes(2, "big")  # 2001:db8::1
    fake.extra = {"peers": [{"ip": "10.2.9.9", "port": 2999, "peer id": b"x" * 20}],
                  "peers6": v6}
    answer = explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001, event="started"))
    assert compact_peers(answer) == [("10.2.9.9", 2999)]
    assert answer[b"peers6"] == v6


def test_untrusted_sources_never_make_btrt_contact_anything(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(6)
    q = announce_query(ih, peer_id(1), 5001, event="started")
    refused = explicit(t, fake.url(), q, source="127.9.0.1")
    assert b"failure reason" in refused
    # A foreign Host or an absolute target from an untrusted source: an ordinary announce.
    local = transparent(t, fake, q, source="127.9.0.1")
    assert b"failure reason" not in local
    local = absolute(t, fake, announce_query(ih, peer_id(2), 5002), source="127.9.0.2")
    assert ("127.9.0.1", 5001) in compact_peers(local)
    assert fake.count() == 0


@pytest.mark.parametrize("target", ["literal", "name"])
def test_destination_guard_refuses_loopback_unless_allowed(make_tracker, fakes, target):
    fake = fakes()
    t = make_tracker(config(forwarding=""))
    ih = info_hash(7)
    host = "127.0.0.1" if target == "literal" else "localhost"
    answer = explicit(t, f"http://{host}:{fake.port}/announce",
                      announce_query(ih, peer_id(1), 5001, event="started"))
    assert b"failure reason" not in answer and b"interval" in answer
    assert fake.count() == 0
    assert "btrt_upstream" not in t.logs()  # sanity: nothing odd logged about metrics

    allowed = make_tracker(config())
    explicit(allowed, f"http://{host}:{fake.port}/announce",
             announce_query(ih, peer_id(1), 5001, event="started"))
    assert fake.count() == 1


def test_request_carrying_btrt_mark_is_never_forwarded(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(8)
    q = announce_query(ih, peer_id(1), 5001, event="started")
    for shape in SHAPES.values():
        answer = shape(t, fake, q, headers={"Via": "1.1 btrt"})
        assert b"failure reason" not in answer
    assert fake.count() == 0
    # The mark btrt itself sends is the one it recognises.
    explicit(t, fake.url(), q)
    assert fake.count() == 1
    explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001, event="completed"),
             headers={"Via": fake.headers()["Via"]})
    assert fake.count() == 1


def test_when_needed_asks_once_per_origin_interval_but_always_for_events(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(9)
    for n in range(1, 4):
        explicit(t, fake.url(), announce_query(ih, peer_id(n), 5000 + n),
                 subscriber=f"127.1.0.{n}")
    assert fake.count() == 1
    explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001, event="completed"))
    explicit(t, fake.url(), announce_query(ih, peer_id(2), 5002, event="stopped"),
             subscriber="127.1.0.2")
    assert fake.count() == 3
    # Another origin of the same torrent has its own cache entry.
    explicit(t, fake.url("/other"), announce_query(ih, peer_id(3), 5003), subscriber="127.1.0.3")
    assert fake.count() == 4


def test_origin_interval_decides_freshness(make_tracker, fakes):
    fake = fakes()
    # An origin's interval is never taken below tracker.min_interval.
    t = make_tracker(config(tracker="tracker:\n  min_interval: 1\n"))
    ih = info_hash(10)
    fake.extra = {"interval": 1}
    explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001))
    wait_for(lambda: (explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001)) and
                      fake.count() >= 2), timeout=5, interval=0.2,
             what="a second upstream request once the origin's 1 s interval passed")


def test_always_mode_forwards_every_announce(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config(forwarding="  mode: \"always\"\n  allowed_destinations: [\"127.0.0.0/8\"]\n"))
    ih = info_hash(11)
    for n in range(1, 4):
        explicit(t, fake.url(), announce_query(ih, peer_id(n), 5000 + n),
                 subscriber=f"127.1.0.{n}")
    assert fake.count() == 3


def test_ten_concurrent_announces_make_one_upstream_request(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    fake.delay = 0.5
    fake.peers = [("203.0.113.1", 3001)]
    ih = info_hash(12)
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(
            lambda n: explicit(t, fake.url(), announce_query(ih, peer_id(n), 5000 + n),
                               subscriber=f"127.1.1.{n}"), range(1, 11)))
    assert fake.count() == 1
    for a in answers:
        assert ("203.0.113.1", 3001) in compact_peers(a)


def test_origin_failure_reason_is_relayed_verbatim(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    fake.mode = "failure"
    answer = explicit(t, fake.url(), announce_query(info_hash(13), peer_id(1), 5001,
                                                    event="started"))
    assert answer == {b"failure reason": b"go away"}


def test_slow_origin_is_answered_within_the_timeout(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(14)
    t.announce(ih, peer_id(1), 6001, headers={"X-Forwarded-For": "127.1.0.1"})
    fake.mode = "hang"
    started = time.monotonic()
    answer = explicit(t, fake.url(), announce_query(ih, peer_id(2), 5002, event="started"))
    elapsed = time.monotonic() - started
    assert elapsed < 2 + 1, elapsed  # forwarding.timeout + 1 s
    assert compact_peers(answer) == [("127.1.0.1", 6001)]
    wait_for(lambda: "origin 127.0.0.1:%d" % fake.port in t.logs(), timeout=5,
             what="a warning about the origin")


@pytest.mark.parametrize("mode", ["garbage", "oversize", "reset"])
def test_broken_origin_answers_do_not_fail_the_subscriber(make_tracker, fakes, mode):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(15)
    t.announce(ih, peer_id(1), 6001, headers={"X-Forwarded-For": "127.1.0.1"})
    fake.mode = mode
    answer = explicit(t, fake.url(), announce_query(ih, peer_id(2), 5002, event="started"))
    assert b"failure reason" not in answer
    assert compact_peers(answer) == [("127.1.0.1", 6001)]
    wait_for(lambda: "origin 127.0.0.1:%d" % fake.port in t.logs(), timeout=5,
             what="a warning about the origin")


def test_failing_origin_is_backed_off(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    fake.mode = "garbage"
    timings = []
    for n in range(1, 9):
        started = time.monotonic()
        explicit(t, fake.url(), announce_query(info_hash(16), peer_id(n), 5000 + n,
                                               event="started"), subscriber=f"127.1.0.{n}")
        timings.append(time.monotonic() - started)
    assert fake.count() == 3  # then backed off: 5 s at first
    fake.mode = "peers"
    wait_for(lambda: explicit(t, fake.url(), announce_query(info_hash(16), peer_id(1), 5001,
                                                            event="started")) and fake.count() == 4,
             timeout=10, interval=0.5, what="the origin to be asked again after the back-off")
    logs = t.logs()
    assert logs.count("origin 127.0.0.1:%d" % fake.port) == 1  # one warning, not eight


def test_pass_client_ip_and_user_agent(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config(forwarding="  pass_client_ip: true\n"
                                       "  allowed_destinations: [\"127.0.0.0/8\"]\n"))
    ih = info_hash(17)
    q = announce_query(ih, peer_id(1), 5001, event="started") + "&ip=10.9.9.9"
    explicit(t, fake.url(), q, subscriber="127.1.2.3", headers={"User-Agent": "qBittorrent/4.5.2"})
    path = fake.paths()[0]
    assert path == "/announce?" + q.replace("&ip=10.9.9.9", "") + "&ip=127.1.2.3"
    assert fake.headers()["User-Agent"] == "qBittorrent/4.5.2"


def test_bad_forwarded_requests_get_failure_reasons(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    assert b"failure reason" in request(t, "/forwarded_announce", "retracker.local")
    assert b"failure reason" in request(t, "/forwarded_announce?url=%zz", "retracker.local")
    assert b"failure reason" in explicit(t, "https://127.0.0.1/announce",
                                         announce_query(info_hash(18), peer_id(1), 5001))
    missing_port = explicit(t, fake.url(), "info_hash=" + "%00" * 20 + "&peer_id=" + "a" * 20)
    assert b"port" in missing_port[b"failure reason"]
    assert fake.count() == 0


def test_stop_answers_subscribers_waiting_for_an_origin(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config(forwarding="  timeout: 30\n  allowed_destinations: [\"127.0.0.0/8\"]\n"
                            ).replace("  timeout: 2\n", ""))
    fake.mode = "hang"
    ih = info_hash(19)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(explicit, t, fake.url(), announce_query(ih, peer_id(1), 5001))
        wait_for(lambda: fake.count() == 1, timeout=5, what="the upstream request")
        started = time.monotonic()
        assert t.stop() == 0
        answer = waiting.result(timeout=10)
    assert time.monotonic() - started < 10
    assert b"interval" in answer


def test_foreign_host_without_a_torrent_is_served_as_ours(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    raw = f"GET /nothing-here HTTP/1.1\r\nHost: 127.0.0.1:{fake.port}\r\n\r\n".encode()
    assert raw_request("127.0.0.1", t.port, raw)[0] == 404
    raw = b"GET /health HTTP/1.1\r\nHost: tracker.example.org\r\n\r\n"
    assert raw_request("127.0.0.1", t.port, raw)[0] == 200
    assert fake.count() == 0


@pytest.mark.parametrize("shape", ["transparent", "absolute"])
def test_scrape_through_the_dpi_is_answered_with_btrts_counts(make_tracker, fakes, shape):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(20)
    t.announce(ih, peer_id(1), 6001, left=0, headers={"X-Forwarded-For": "127.1.0.1"})
    q = "info_hash=" + urllib.parse.quote_from_bytes(ih, safe="")
    answer = SHAPES[shape](t, fake, q, path="/scrape")
    assert answer[b"files"][ih][b"complete"] == 1
    assert fake.count() == 0


def test_metrics_and_stats_show_upstream_requests_and_origins(make_tracker, fakes):
    fake = fakes()
    t = make_tracker(config())
    ih = info_hash(21)
    explicit(t, fake.url(), announce_query(ih, peer_id(1), 5001, event="started"))
    explicit(t, fake.url(), announce_query(ih, peer_id(2), 5002), subscriber="127.1.0.6")
    explicit(t, fake.url(), "info_hash=bad")
    status, _, body = t.get("/metrics")
    assert status == 200
    text = body.decode()
    assert 'btrt_upstream_requests_total{result="ok"} 1\n' in text
    assert 'btrt_upstream_requests_total{result="cached"} 1\n' in text
    assert 'btrt_requests_total{kind="forwarded",protocol="http",result="ok"} 2\n' in text
    assert 'btrt_requests_total{kind="forwarded",protocol="http",result="failure"} 1\n' in text
    assert 'btrt_upstream_request_duration_seconds_count 1\n' in text
    status, _, body = t.get("/stats?format=json")
    origins = json.loads(body)["origins"]
    assert origins == [{"origin": f"127.0.0.1:{fake.port}", "state": "ok", "errors": 0}]
