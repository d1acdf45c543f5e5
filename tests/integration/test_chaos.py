"""The process under signals while it serves: SIGTERM and SIGHUP storms under load, SIGKILL
and restart (SQLite; the MariaDB paths of persistence are in test_persistence.py)."""
import signal
import socket
import sqlite3
import threading
import time

from btrt_harness import ResponseReader, announce_query, info_hash, peer_id, wait_for

CONFIG = """server:
  listen: ["127.0.0.1:%PORT%"]
  threads: 2
  trusted_sources: ["127.0.0.1/32"]
peer_groups:
  - name: "local peers"
    priority: 0
    cidr_list: ["127.1.0.0/16"]
"""


def database(tmp_path):
    return f'database:\n  url: "sqlite://{tmp_path}/chaos.db"\n  flush_interval: 1\n'


class Load:
    """Threads announcing over keep-alive connections, each announce a new peer of one torrent
    (left=0, event=completed), until told to stop or the server goes away. Counts what was
    sent and what was acknowledged with a real answer."""

    def __init__(self, port, torrent, threads=4, seconds=20):
        self.port, self.torrent = port, torrent
        self.sent = self.acknowledged = self.failures = 0
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.deadline = time.monotonic() + seconds
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, index):
        n = 0
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                responses = ResponseReader(s)
                while not self.stop_event.is_set() and time.monotonic() < self.deadline:
                    n += 1
                    peer = index * 1_000_000 + n
                    q = announce_query(self.torrent, peer_id(peer), 1024 + peer % 60000,
                                       left=0, event="completed", numwant=0)
                    with self.lock:
                        self.sent += 1
                    s.sendall(f"GET /announce?{q} HTTP/1.1\r\nHost: retracker.local\r\n"
                              f"X-Forwarded-For: 127.{index + 2}.{(n >> 8) & 255}.{n & 255}\r\n"
                              f"\r\n".encode())
                    status, _, body = responses.next()
                    ok = status == 200 and b"interval" in body
                    with self.lock:
                        self.acknowledged += ok
                        self.failures += not ok
        except (OSError, ConnectionError):
            pass  # the server went away: what was acknowledged counts

    def wait_for_progress(self, count):
        wait_for(lambda: self.acknowledged >= count, timeout=15, what=f"{count} announces")

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=15)
            assert not t.is_alive()


def test_sigterm_under_load_loses_no_counted_completion(make_tracker, tmp_path):
    t = make_tracker(CONFIG + database(tmp_path))
    ih = info_hash(1)
    load = Load(t.port, ih)
    load.wait_for_progress(500)
    t.signal(signal.SIGTERM)
    t.proc.wait(timeout=20)
    load.stop()
    assert t.proc.returncode == 0
    assert load.failures == 0
    t.start()
    files = t.scrape(ih)[b"files"][ih]
    # Every acknowledged completion survived; nothing is counted that was never sent.
    assert load.acknowledged <= files[b"downloaded"] <= load.sent
    assert load.acknowledged <= files[b"complete"] <= load.sent


def test_sighup_storm_under_load(make_tracker, tmp_path):
    t = make_tracker(CONFIG + database(tmp_path))
    ih = info_hash(2)
    load = Load(t.port, ih, seconds=30)
    load.wait_for_progress(200)
    for _ in range(40):
        t.signal(signal.SIGHUP)
        time.sleep(0.02)  # pacing the storm, not waiting for anything
    load.wait_for_progress(load.acknowledged + 200)
    load.stop()
    assert t.proc.poll() is None, t.output()
    assert load.failures == 0
    files = t.scrape(ih)[b"files"][ih]
    assert files[b"complete"] == load.acknowledged == files[b"downloaded"]
    wait_for(lambda: t.logs().count("configuration reloaded") >= 1, timeout=10,
             what="the reloads to be logged")
    assert "reload rejected" not in t.logs()


def test_sigkill_then_restart_keeps_what_was_flushed(make_tracker, tmp_path):
    t = make_tracker(CONFIG + database(tmp_path))
    db_path = tmp_path / "chaos.db"
    ih = info_hash(3)
    for n in range(100):
        t.announce(ih, peer_id(n), 2000 + n, left=0, event="completed", numwant=0,
                   headers={"X-Forwarded-For": f"127.1.0.{n + 1}"})

    def stored():
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM peers").fetchone()[0]

    wait_for(lambda: stored() == 100, timeout=10, what="the first 100 peers to be flushed")
    for n in range(100, 150):
        t.announce(ih, peer_id(n), 2000 + n, left=0, event="completed", numwant=0,
                   headers={"X-Forwarded-For": f"127.1.1.{n - 99}"})
    t.proc.kill()
    t.proc.wait(timeout=10)

    with sqlite3.connect(db_path, timeout=5) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    t.start()
    files = t.scrape(ih)[b"files"][ih]
    assert 100 <= files[b"complete"] <= 150
    assert 100 <= files[b"downloaded"] <= 150
    answer = t.announce(ih, peer_id(999), 2999, numwant=200,
                        headers={"X-Forwarded-For": "127.1.9.9"})
    assert b"interval" in answer and len(answer[b"peers"]) // 6 == files[b"complete"]


def test_stop_is_not_held_by_silent_connections_but_lets_requests_finish(make_tracker, tmp_path):
    t = make_tracker(CONFIG.replace("  threads: 2\n", "  threads: 2\n  request_timeout: 30\n")
                     + database(tmp_path))
    silent = [socket.create_connection(("127.0.0.1", t.port), timeout=5) for _ in range(5)]
    half = socket.create_connection(("127.0.0.1", t.port), timeout=5)
    q = announce_query(info_hash(4), peer_id(1), 6881)
    request = f"GET /announce?{q} HTTP/1.1\r\nHost: retracker.local\r\n\r\n".encode()
    half.sendall(request[:20])  # a request under way: it may finish
    try:
        wait_for(lambda: b"btrt_open_connections 7" in t.get("/metrics")[2], timeout=5,
                 what="the connections to be accepted")
        started = time.monotonic()
        t.signal(signal.SIGTERM)
        half.sendall(request[20:])
        status, _, body = ResponseReader(half).next()
        assert status == 200 and b"interval" in body
        assert t.proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        for s in silent:
            s.settimeout(5)
            assert s.recv(1) == b""
    finally:
        for s in silent + [half]:
            s.close()
