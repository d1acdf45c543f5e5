"""Every bad input over HTTP gets its answer, and the server keeps serving."""
import random
import socket
import time

import pytest

from btrt_harness import quote, announce_query, bdecode, info_hash, peer_id, raw_request, read_response

GOOD = announce_query(info_hash(1), peer_id(1), 6881)


def still_serving(t):
    status, _, body = t.get("/health")
    assert (status, body) == (200, b"ok\n")


def failure_of(t, target):
    status, headers, body = t.get(target)
    assert status == 200
    assert headers["content-type"] == "text/plain"
    return bdecode(body)[b"failure reason"].decode()


@pytest.mark.parametrize("query, reason", [
    ("", "info_hash"),
    (GOOD.replace("info_hash=", "x="), "missing info_hash"),
    (GOOD.replace("info_hash=", "info_hash=abc&y="), "info_hash"),
    (GOOD.replace("peer_id=", "x="), "missing peer_id"),
    (GOOD.replace("peer_id=", "peer_id=short&y="), "peer_id"),
    (GOOD.replace("port=6881", "port=0"), "port"),
    (GOOD.replace("port=6881", "port=65536"), "port"),
    (GOOD.replace("port=6881", "port=http"), "port"),
    (GOOD.replace("port=6881", "y=1"), "port"),
    (GOOD.replace("left=100", "left=-1"), "left"),
    (GOOD.replace("uploaded=0", "uploaded=1x"), "uploaded"),
    (GOOD.replace("downloaded=0", "downloaded=99999999999999999999999"), "downloaded"),
    (GOOD + "&event=exploded", "event"),
    (GOOD + "&numwant=lots", "numwant"),
    (GOOD.replace("info_hash=", "info_hash=%zz"), "info_hash"),
    (GOOD + "&peer_id=%", "peer_id"),
])
def test_bad_announce_parameters_get_a_failure_reason(tracker, query, reason):
    assert reason in failure_of(tracker, "/announce?" + query)
    still_serving(tracker)


def test_scrape_without_hash_is_refused_unless_full_scrape(tracker):
    assert "info_hash" in failure_of(tracker, "/scrape")
    too_many = "&".join("info_hash=" + quote(info_hash(n)) for n in range(300))
    assert "too many" in failure_of(tracker, "/scrape?" + too_many)


def test_full_scrape_lists_every_torrent(make_tracker):
    t = make_tracker("tracker:\n  full_scrape: true\n")
    t.announce(info_hash(5), peer_id(1), 7001)
    t.announce(info_hash(6), peer_id(1), 7001)
    status, _, body = t.get("/scrape")
    assert set(bdecode(body)[b"files"]) == {info_hash(5), info_hash(6)}


def test_an_answer_larger_than_the_socket_takes_reaches_a_slow_reader_whole(make_tracker):
    # A full scrape of 80,000 torrents (about 5 MB, more than a socket's send buffer grows to,
    # 4 MiB) to a client with a small receive buffer: the first send takes part of it, the
    # rest is written as the client makes room.
    t = make_tracker("tracker:\n  full_scrape: true\n")
    torrents = 80_000
    status_line = b"HTTP/1.1 200 "
    batch = 1000  # pipelined, then their answers read: neither side waits on a full socket
    with socket.create_connection(("127.0.0.1", t.port), timeout=60) as s:
        for first in range(0, torrents, batch):
            s.sendall(b"".join(
                f"GET /announce?{announce_query(info_hash(n), peer_id(1), 7001)} HTTP/1.1\r\n"
                f"Host: retracker.local\r\n\r\n".encode() for n in range(first, first + batch)))
            answers = b""
            while answers.count(status_line) < batch:
                chunk = s.recv(65536)
                assert chunk, "the tracker closed before answering every announce"
                answers += chunk
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(60)
        s.connect(("127.0.0.1", t.port))
        s.sendall(b"GET /scrape HTTP/1.1\r\nHost: retracker.local\r\nConnection: close\r\n\r\n")
        status, headers, body = read_response(s)
    assert status == 200
    assert len(body) == int(headers["content-length"]) > 4_500_000
    assert set(bdecode(body)[b"files"]) == {info_hash(n) for n in range(torrents)}


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /announce HTTP/9.9\r\n\r\n", 400),
    (b"GET /announce HTTP/1.1\r\nBad Header Without Colon\r\n\r\n", 400),
    (b"POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
    (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"GET /announce?" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /announce HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n", 431),
    (b"GET /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400),
], ids=["garbage", "bad-version", "bad-header", "post", "delete", "unknown-path", "long-line",
        "big-headers", "get-with-body"])
def test_malformed_http_gets_its_status(tracker, request_bytes, status):
    got, _, _ = raw_request("127.0.0.1", tracker.port, request_bytes)
    assert got == status
    still_serving(tracker)


def test_keep_alive_serves_several_requests_on_one_connection(tracker):
    with socket.create_connection(("127.0.0.1", tracker.port), timeout=5) as s:
        for i in range(3):
            s.sendall(f"GET /announce?{GOOD} HTTP/1.1\r\nHost: retracker.local\r\n\r\n".encode())
            status, headers, body = read_response(s)
            assert status == 200 and b"interval" in body
            assert headers.get("connection") != "close"


def test_keep_alive_requests_arriving_in_pieces_are_all_answered(tracker):
    # Each request in three pieces with short gaps, so that pieces often come after the server
    # found the socket empty and waits: every piece must wake it, not the request timeout.
    request = f"GET /announce?{GOOD} HTTP/1.1\r\nHost: retracker.local\r\n\r\n".encode()
    cuts = (17, len(request) // 2)
    pieces = [request[:cuts[0]], request[cuts[0]:cuts[1]], request[cuts[1]:]]
    gaps = random.Random(7)
    with socket.create_connection(("127.0.0.1", tracker.port), timeout=2) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(150):
            for piece in pieces:
                s.sendall(piece)
                time.sleep(gaps.choice((0, 0, 0.0005, 0.002)))
            status, _, body = read_response(s)
            assert status == 200 and b"interval" in body, f"request {i}"


def test_http10_gets_connection_close(tracker):
    status, headers, _ = raw_request("127.0.0.1", tracker.port,
                                     f"GET /announce?{GOOD} HTTP/1.0\r\n\r\n".encode())
    assert status == 200 and headers["connection"] == "close"


def test_slowloris_is_closed_after_request_timeout(make_tracker):
    t = make_tracker("server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  request_timeout: 1\n")
    with socket.create_connection(("127.0.0.1", t.port), timeout=10) as s:
        s.sendall(b"GET /announce?info_hash=")
        started = time.monotonic()
        while True:  # keep dribbling bytes; the server must still cut us off
            try:
                s.sendall(b"a")
                s.settimeout(0.2)
                if s.recv(1024) == b"":
                    break
            except socket.timeout:
                pass
            except (ConnectionResetError, BrokenPipeError):
                break
            assert time.monotonic() - started < 5, "slow request not closed"
        assert time.monotonic() - started >= 0.9
    still_serving(t)


def test_idle_keepalive_connection_is_closed_after_keepalive_timeout(make_tracker):
    t = make_tracker("server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  keepalive_timeout: 1\n")
    with socket.create_connection(("127.0.0.1", t.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        started = time.monotonic()
        assert s.recv(1) == b""
        assert 0.5 < time.monotonic() - started < 5


def test_connections_over_max_connections_get_503(make_tracker):
    t = make_tracker("server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  max_connections: 2\n")
    held = [socket.create_connection(("127.0.0.1", t.port), timeout=5) for _ in range(2)]
    try:
        for s in held:  # make sure both are accepted and counted
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s)[0] == 200
        status, _, _ = raw_request("127.0.0.1", t.port, b"GET /health HTTP/1.1\r\n\r\n")
        assert status == 503
    finally:
        for s in held:
            s.close()
    from btrt_harness import wait_for
    wait_for(lambda: t.get("/health")[0] == 200, timeout=5, what="capacity to come back")


def test_many_bad_requests_in_a_row_do_not_hurt(tracker):
    for i in range(200):
        raw_request("127.0.0.1", tracker.port, bytes([i % 256]) * (i + 1) + b"\r\n\r\n")
    still_serving(tracker)
