"""Forwarded announces against origins that misbehave in ways a subscriber can arrange: origins
that accept and never answer (at SIGTERM), thousands of distinct failing origins (bounded state,
/stats and log), and names whose DNS server never answers (concurrent, bounded resolution)."""
import json
import select
import signal
import socket
import threading
import time

import pytest

from btrt_harness import (GROUPS, ResponseReader, announce_query, bdecode, compact_peers,
                          info_hash, peer_id, read_response, wait_for)


class SilentOrigin:
    """An origin tracker that accepts TCP connections, reads what is sent, never answers."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = []
        self.received = b""
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        conn.settimeout(0.1)
        while not self.closing.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.received += data

    def requests(self):
        with self.lock:
            return self.received.count(b"GET ")

    def close(self):
        self.closing.set()
        self.thread.join(timeout=5)
        self.listener.close()
        with self.lock:
            for c in self.connections:
                c.close()


@pytest.fixture
def silent_origin():
    made = []

    def make():
        made.append(SilentOrigin())
        return made[-1]

    yield make
    for origin in made:
        origin.close()


def config(timeout=30, forwarding="", server=""):
    return ("server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  threads: 2\n"
            "  trusted_sources: [\"127.0.0.1/32\"]\n" + server +
            f"forwarding:\n  timeout: {timeout}\n"
            "  allowed_destinations: [\"127.0.0.0/8\"]\n" + forwarding + GROUPS)


def forwarded(origin_port, query, subscriber):
    return (f"GET /announce?{query} HTTP/1.1\r\nHost: 127.0.0.1:{origin_port}\r\n"
            f"X-Forwarded-For: {subscriber}\r\nConnection: close\r\n\r\n").encode()


def answered_or_closed(sock):
    """The subscriber's view: a tracker answer, or its connection closed (never a hang)."""
    sock.settimeout(5)
    try:
        status, _, body = read_response(sock)
    except ConnectionResetError:
        return "closed"
    if status is None:
        return "closed"
    assert status == 200 and b"interval" in bdecode(body), (status, body)
    return "answered"


def exits_promptly(t, started, limit=5):
    assert t.proc.wait(timeout=limit + 5) == 0
    assert time.monotonic() - started < limit


def restored_peers(t, ih):
    t.start()
    answer = t.announce(ih, peer_id(999), 6999, numwant=50,
                        headers={"X-Forwarded-For": "127.1.9.9"})
    return set(compact_peers(answer))


@pytest.mark.parametrize("event", ["started", "completed", "stopped"])
def test_sigterm_answers_an_event_waiting_on_a_silent_origin(make_tracker, silent_origin, event):
    origin = silent_origin()
    t = make_tracker(config())
    ih = info_hash(0x5101)
    t.announce(ih, peer_id(1), 6001, headers={"X-Forwarded-For": "127.1.0.1"})
    t.announce(ih, peer_id(2), 6002, headers={"X-Forwarded-For": "127.1.0.2"})
    with socket.create_connection(("127.0.0.1", t.port), timeout=5) as s:
        s.sendall(forwarded(origin.port, announce_query(ih, peer_id(2), 6002, event=event),
                            "127.1.0.2"))
        wait_for(lambda: origin.requests() == 1, timeout=5, what="the origin to be asked")
        started = time.monotonic()
        t.signal(signal.SIGTERM)
        answered_or_closed(s)
        exits_promptly(t, started)
    # The last flush happened: the local peer is back after a restart, and the subscriber's
    # own announce (a stop removes it) was stored as it said.
    peers = restored_peers(t, ih)
    assert ("127.1.0.1", 6001) in peers
    assert (("127.1.0.2", 6002) in peers) == (event != "stopped")


def test_sigterm_answers_a_forwarded_announce_that_arrives_while_stopping(make_tracker,
                                                                         silent_origin):
    origin = silent_origin()
    t = make_tracker(config())
    ih = info_hash(0x5102)
    t.announce(ih, peer_id(1), 6001, headers={"X-Forwarded-For": "127.1.0.1"})
    waiting = socket.create_connection(("127.0.0.1", t.port), timeout=5)
    late = socket.create_connection(("127.0.0.1", t.port), timeout=5)
    try:
        waiting.sendall(forwarded(origin.port, announce_query(ih, peer_id(2), 6002), "127.1.0.2"))
        wait_for(lambda: origin.requests() == 1, timeout=5, what="the origin to be asked")
        request = forwarded(origin.port, announce_query(info_hash(0x5103), peer_id(3), 6003),
                            "127.1.0.3")
        late.sendall(request[:20])  # under way at the stop: it may finish
        wait_for(lambda: b"btrt_open_connections 3" in t.get("/metrics")[2], timeout=5,
                 what="both connections to be accepted")
        started = time.monotonic()
        t.signal(signal.SIGTERM)
        # Answered by the forwarder's stop: from here on the forwarder is stopping.
        assert answered_or_closed(waiting) == "answered"
        late.sendall(request[20:])
        answered_or_closed(late)
        exits_promptly(t, started)
    finally:
        waiting.close()
        late.close()
    assert ("127.1.0.1", 6001) in restored_peers(t, ih)


def open_forwarded(port, host, query, subscriber="127.1.0.5"):
    """Sends a forwarded announce on a connection of its own; the caller reads the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall((f"GET /announce?{query} HTTP/1.1\r\nHost: {host}\r\n"
               f"X-Forwarded-For: {subscriber}\r\nConnection: close\r\n\r\n").encode())
    return s


def read_answer(s):
    status, _, body = read_response(s)
    assert status == 200, (status, body)
    return bdecode(body)


def stats(t):
    status, _, body = t.get("/stats?format=json")
    assert status == 200
    return json.loads(body)


def origin_warnings(t):
    return [line for line in t.logs().splitlines() if "[warning] origin" in line]


def test_thousands_of_failing_origins_keep_state_stats_and_log_bounded(make_tracker):
    # Distinct origins that fail at once and never touch the network: loopback addresses on
    # a closed port (allowed, connection refused) and private ones (refused by the guard).
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    t = make_tracker(config(timeout=2) + "logging:\n  path: \"%LOG%\"\n  level: \"info\"\n")
    hosts = ([f"127.3.{i >> 8}.{i & 255}:{port}" for i in range(1, 5251)] +
             [f"10.9.{i >> 8}.{i & 255}" for i in range(1, 5251)])
    query = announce_query(info_hash(0x5201), peer_id(1), 6001)

    def send(part):
        with socket.create_connection(("127.0.0.1", t.port), timeout=15) as s:
            responses = ResponseReader(s)
            for host in part:
                s.sendall((f"GET /announce?{query} HTTP/1.1\r\nHost: {host}\r\n"
                           f"X-Forwarded-For: 127.1.0.1\r\n\r\n").encode())
                status, _, body = responses.next()
                assert status == 200 and b"interval" in body, (status, body)

    parts = [hosts[i::8] for i in range(8)]
    errors = []

    def run(part):
        try:
            send(part)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(p,)) for p in parts]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
        assert not th.is_alive()
    assert not errors, errors[:3]

    # One warning line per failing origin would be 5,250: they are limited overall.
    assert 1 <= len(origin_warnings(t)) <= 11, len(origin_warnings(t))
    # The page lists only the most asked origins; per-origin state is bounded (the least
    # recently used are forgotten).
    figures = stats(t)
    assert 0 < len(figures["origins"]) <= 50, len(figures["origins"])
    status, _, page = t.get("/stats")
    assert status == 200 and len(page) < 200_000
    assert figures["origins_total"] == 10000
    # Still serving forwarded announces promptly.
    started = time.monotonic()
    with open_forwarded(t.port, f"10.8.0.1", query) as s:
        read_answer(s)
    assert time.monotonic() - started < 1


def test_one_silent_origin_cannot_hold_every_upstream_slot(make_tracker, fakes, silent_origin):
    silent = silent_origin()
    healthy = fakes()
    healthy.peers = [("127.2.0.8", 7008)]
    t = make_tracker(config(timeout=5, forwarding="  max_concurrent: 16\n"))
    held = [open_forwarded(t.port, f"127.0.0.1:{silent.port}",
                           announce_query(info_hash(0x5300 + i), peer_id(i), 6000 + i))
            for i in range(16)]
    try:
        # 16 / 8 = 2 requests to it at once; the others are answered at once without it.
        wait_for(lambda: silent.requests() == 2, timeout=5, what="the silent origin's share")
        # Which two went upstream depends on arrival order: the other 14 are answered now.
        waiting, deadline = list(held), time.monotonic() + 1
        while len(waiting) > 2 and time.monotonic() < deadline:
            readable, _, _ = select.select(waiting, [], [], max(0, deadline - time.monotonic()))
            for s in readable:
                read_answer(s)
                waiting.remove(s)
        assert len(waiting) == 2
        assert silent.requests() == 2
        started = time.monotonic()
        with open_forwarded(t.port, f"127.0.0.1:{healthy.port}",
                            announce_query(info_hash(0x5400), peer_id(50), 6050)) as s:
            answer = read_answer(s)
        assert time.monotonic() - started < 1
        assert ("127.2.0.8", 7008) in compact_peers(answer)
        assert healthy.count() == 1
    finally:
        for s in held:
            s.close()


class SilentDns:
    """A DNS server on 127.0.0.1 that reads every query and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closing.is_set():
            try:
                self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.count += 1

    def queries(self):
        with self.lock:
            return self.count

    def close(self):
        self.closing.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_names_whose_dns_never_answers_hold_up_no_other_origin(make_tracker, fakes):
    dns = SilentDns()
    healthy = fakes()
    healthy.peers = [("127.2.0.9", 7009)]
    try:
        # "localhost" names an origin here, not btrt.
        t = make_tracker(config(timeout=3, server="  hostnames: [\"retracker.local\"]\n",
                                forwarding=f"  dns_servers: [\"127.0.0.1:{dns.port}\"]\n"))
        started = time.monotonic()
        dead = [open_forwarded(t.port, f"tracker{i}.example.invalid",
                               announce_query(info_hash(0x5500 + i), peer_id(i), 6000 + i))
                for i in range(12)]
        try:
            # Every name is being looked up at once (A and AAAA each).
            wait_for(lambda: dns.queries() >= 24, timeout=5, what="the lookups to be sent")
            # Meanwhile an origin given by address, and one whose name /etc/hosts knows, are
            # asked and answered at once.
            for n, host in enumerate((f"127.0.0.1:{healthy.port}", f"localhost:{healthy.port}")):
                asked = time.monotonic()
                with open_forwarded(t.port, host, announce_query(info_hash(0x5600 + n),
                                                                 peer_id(70 + n), 6070)) as s:
                    answer = read_answer(s)
                assert time.monotonic() - asked < 1
                assert ("127.2.0.9", 7009) in compact_peers(answer)
            assert healthy.count() == 2
            # The unresolvable ones are answered without their origin, within the timeout.
            for s in dead:
                read_answer(s)
            assert time.monotonic() - started < 3 + 2
        finally:
            for s in dead:
                s.close()
        origins = {o["origin"]: o for o in stats(t)["origins"]}
        assert origins[f"127.0.0.1:{healthy.port}"]["state"] == "ok"
        dead_origins = [o for name, o in origins.items() if ".example.invalid" in name]
        assert len(dead_origins) == 12
        assert all(o["errors"] == 1 for o in dead_origins), dead_origins
    finally:
        dns.close()
