"""Persistence through the real binary, on SQLite and on a real MariaDB server."""
import os
import random
import subprocess
import threading
import time

import pytest

from btrt_harness import BTRT, REPO, compact_peers, info_hash, peer_id, wait_for

MYSQL_PORT = os.environ.get("BTRT_TEST_MYSQL_PORT")
MYSQL_SOCKET = os.environ.get("BTRT_TEST_MYSQL_SOCKET")
MYSQL_DIR = os.environ.get("BTRT_TEST_MYSQL_DIR")

GROUPS = """
peer_groups:
  - name: "local peers"
    priority: 0
    cidr_list: ["127.1.0.0/16"]
tracker:
  locality_cutoff: 0
"""


def mysql(sql, schema=None):
    args = ["mariadb", "--no-defaults", f"--socket={MYSQL_SOCKET}", "-uroot", "-N", "-B"]
    if schema:
        args.append(schema)
    return subprocess.run(args, input=sql, capture_output=True, text=True, check=True,
                          timeout=30).stdout


def database_section(backend, workdir, schema):
    if backend == "sqlite":
        return f'database:\n  url: "sqlite://{workdir}/btrt.db"\n  flush_interval: 1\n'
    return (f'database:\n  url: "tcp://127.0.0.1:{MYSQL_PORT}"\n  user: "btrt"\n'
            f'  password: "btrt-test"\n  schema: "{schema}"\n  flush_interval: 1\n')


@pytest.fixture(params=["sqlite", "mariadb"])
def backend(request):
    if request.param == "mariadb":
        assert MYSQL_PORT and MYSQL_SOCKET, \
            "BTRT_TEST_MYSQL_* not set: scripts/test.sh starts scripts/test-mariadb.sh"
    return request.param


@pytest.fixture
def schema():
    name = f"btrt_it_{random.randrange(10**9)}"
    if MYSQL_SOCKET:
        mysql(f"CREATE DATABASE {name};")
    yield name
    if MYSQL_SOCKET:
        mysql(f"DROP DATABASE IF EXISTS {name};")


def make_persistent(make_tracker, tmp_path, backend, schema, extra=GROUPS, init=True):
    workdir = tmp_path / "db"
    workdir.mkdir(exist_ok=True)
    t = make_tracker(extra + database_section(backend, workdir, schema), start=False)
    if backend == "mariadb" and init:
        r = btrt("db", "init", "-c", str(t.config_path))
        assert r.returncode == 0, r.stderr
    return t


def btrt(*args):
    return subprocess.run([str(BTRT), *args], capture_output=True, text=True, timeout=60)


def restart(t):
    assert t.stop() == 0
    t.start()


def test_swarm_and_counts_survive_a_restart(make_tracker, tmp_path, backend, schema):
    t = make_persistent(make_tracker, tmp_path, backend, schema).start()
    a, b = info_hash(1), info_hash(2)
    for i in range(5):
        t.announce(a, peer_id(i), 7000 + i, source=f"127.1.0.{i + 1}", numwant=0)
    t.announce(a, peer_id(0), 7000, source="127.1.0.1", left=0, event="completed")
    t.announce(b, peer_id(9), 7009, source="127.3.0.9", left=0, event="completed")
    t.announce(a, peer_id(4), 7004, source="127.1.0.5", event="stopped")
    peers_before = set(compact_peers(t.announce(a, peer_id(99), 7099, source="127.3.0.99",
                                                 numwant=50)))
    before = t.scrape(a, b)
    restart(t)
    assert t.scrape(a, b) == before
    assert before[b"files"][a] == {b"complete": 1, b"incomplete": 4, b"downloaded": 1}
    peers_after = set(compact_peers(t.announce(a, peer_id(98), 7098, source="127.3.0.98",
                                               numwant=50)))
    assert peers_after - {("127.3.0.99", 7099)} == peers_before
    assert ("127.1.0.5", 7004) not in peers_after  # stopped stays stopped
    assert "restored 6 peers" in t.logs()


def test_db_init_twice_is_harmless(make_tracker, tmp_path, backend, schema):
    t = make_persistent(make_tracker, tmp_path, backend, schema, init=False)
    first = btrt("db", "init", "-c", str(t.config_path))
    assert first.returncode == 0 and "created schema version" in first.stdout, first.stderr
    second = btrt("db", "init", "-c", str(t.config_path))
    assert second.returncode == 0 and "already in place" in second.stdout
    t.start()


def test_old_schema_is_refused_until_db_upgrade(make_tracker, tmp_path, backend, schema):
    t = make_persistent(make_tracker, tmp_path, backend, schema, init=False)
    fixture = REPO / "tests" / "data" / f"schema_v1_{'mysql' if backend == 'mariadb' else 'sqlite'}.sql"
    if backend == "mariadb":
        mysql(fixture.read_text(), schema)
    else:
        import sqlite3
        with sqlite3.connect(tmp_path / "db" / "btrt.db") as db:
            db.executescript(fixture.read_text())
    r = btrt("run", "-c", str(t.config_path))
    assert r.returncode == 1
    assert "btrt db upgrade" in r.stderr + t.logs()
    up = btrt("db", "upgrade", "-c", str(t.config_path))
    assert up.returncode == 0 and "upgraded schema version 1 to 3" in up.stdout, up.stderr
    t.start()


def test_mysql_without_schema_is_refused_with_a_hint(make_tracker, tmp_path, schema):
    assert MYSQL_PORT, "BTRT_TEST_MYSQL_PORT not set"
    t = make_persistent(make_tracker, tmp_path, "mariadb", schema, init=False)
    r = btrt("run", "-c", str(t.config_path))
    assert r.returncode == 1 and "btrt db init" in r.stderr


def test_shipped_creation_script_makes_a_schema_btrt_accepts(make_tracker, tmp_path, schema):
    assert MYSQL_PORT, "BTRT_TEST_MYSQL_PORT not set"
    script = (REPO / "sql" / "mysql" / "btrt.db_creation.sql").read_text()
    # As the seed's operators do: the mysql client, the btrt user, the schema on the line.
    subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{MYSQL_PORT}", "-ubtrt",
                    "-pbtrt-test", schema], input=script, text=True, check=True, timeout=30)
    t = make_persistent(make_tracker, tmp_path, "mariadb", schema, init=False).start()
    t.announce(info_hash(5), peer_id(1), 7001, source="127.1.0.1")
    r = btrt("db", "init", "-c", str(t.config_path))
    assert "already in place" in r.stdout


def test_statistics_record_announces_and_peers_handed_out_per_group(make_tracker, tmp_path):
    # Samples are taken every minute and at a stop; SQLite, as the logic is shared.
    t = make_persistent(make_tracker, tmp_path, "sqlite", "unused").start()
    t.announce(info_hash(6), peer_id(1), 7001, source="127.1.0.1")
    t.announce(info_hash(6), peer_id(2), 7002, source="127.3.0.1")  # gets 1 local peer
    t.announce(info_hash(6), peer_id(3), 7003, source="127.3.0.2")  # 1 local, 1 other
    t.scrape(info_hash(6))
    assert t.stop() == 0
    import sqlite3
    with sqlite3.connect(tmp_path / "db" / "btrt.db") as db:
        assert db.execute("SELECT SUM(announces), SUM(scrapes) FROM stats").fetchone() == (3, 1)
        returned = dict(db.execute(
            "SELECT peer_group, SUM(peers) FROM stats_returned GROUP BY peer_group").fetchall())
    assert returned == {"local peers": 2, "other": 1}


def test_database_outage_loses_nothing(make_tracker, tmp_path, schema):
    assert MYSQL_DIR, "BTRT_TEST_MYSQL_DIR not set"
    t = make_persistent(make_tracker, tmp_path, "mariadb", schema).start()
    announced = set()
    answered = []
    stop = threading.Event()

    def steady_announces():
        n = 0
        while not stop.is_set() and n < 100000:
            n += 1
            ih = info_hash(100 + n % 7)
            started = time.monotonic()
            event = "completed" if n % 10 == 0 else None
            t.announce(ih, peer_id(n), 10000 + n, source=f"127.1.{n // 250}.{n % 250 + 1}",
                       numwant=5, left=0 if event else 10, event=event)
            answered.append(time.monotonic() - started)
            announced.add((ih, 10000 + n))
            time.sleep(0.01)

    worker = threading.Thread(target=steady_announces)
    worker.start()
    try:
        wait_for(lambda: len(announced) > 50, timeout=20, what="announces before the outage")
        subprocess.run([str(REPO / "scripts" / "test-mariadb.sh"), "stop", MYSQL_DIR],
                       check=True, timeout=90)
        outage_started = time.monotonic()
        during = len(announced)
        wait_for(lambda: "database unavailable" in t.logs(), timeout=30,
                 what="the outage to be logged")
        while time.monotonic() - outage_started < 10:  # the outage lasts at least 10 s
            time.sleep(0.5)
        assert len(announced) > during + 100, "announces must be answered during the outage"
        subprocess.run([str(REPO / "scripts" / "test-mariadb.sh"), "start", MYSQL_DIR],
                       check=True, timeout=90)
        wait_for(lambda: "database available again" in t.logs(), timeout=60,
                 what="the recovery to be logged")
    finally:
        stop.set()
        worker.join(timeout=30)
    assert max(answered) < 2.0, "an announce waited for the database"
    assert t.logs().count("database unavailable") == 1
    assert t.logs().count("database available again") == 1
    assert t.stop() == 0  # final flush

    stored = mysql("SELECT info_hash, port FROM peers;", schema).split("\n")
    stored = {(bytes.fromhex(h), int(p)) for h, p in (line.split("\t") for line in stored if line)}
    missing = announced - stored
    assert not missing, f"{len(missing)} announced peers are not in the database"
    completed = int(mysql("SELECT SUM(completed) FROM torrents;", schema).strip())
    assert completed == sum(1 for _, port in announced if (port - 10000) % 10 == 0)


def sqlite_rows(path, sql):
    import sqlite3
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("max_pending", [0, 10])
def test_max_pending_drops_nothing_while_the_database_is_up(make_tracker, tmp_path, max_pending):
    # max_pending bounds only an outage: with the database up every change is written, the
    # removals too (a stopped peer must not come back after a restart).
    workdir = tmp_path / "db"
    workdir.mkdir()
    t = make_tracker(GROUPS + f'database:\n  url: "sqlite://{workdir}/btrt.db"\n'
                     f"  flush_interval: 1\n  max_pending: {max_pending}\n")
    ih = info_hash(30)
    for n in range(100):
        t.announce(ih, peer_id(n), 10000 + n, source=f"127.1.0.{n + 1}", numwant=0)
    wait_for(lambda: sqlite_rows(workdir / "btrt.db", "SELECT COUNT(*) FROM peers")[0][0] == 100,
             timeout=10, what="all 100 peers written")
    for n in range(0, 100, 2):
        t.announce(ih, peer_id(n), 10000 + n, source=f"127.1.0.{n + 1}", event="stopped")
    restart(t)
    assert "restored 50 peers" in t.logs(), t.logs()
    peers = set(compact_peers(t.announce(ih, peer_id(999), 7999, source="127.3.0.1",
                                         numwant=200)))
    assert peers == {(f"127.1.0.{n + 1}", 10000 + n) for n in range(1, 100, 2)}
    assert "exceed database.max_pending" not in t.logs()


def test_interrupted_mysql_upgrade_003_can_be_rerun(make_tracker, tmp_path, schema):
    assert MYSQL_PORT, "BTRT_TEST_MYSQL_PORT not set"
    t = make_persistent(make_tracker, tmp_path, "mariadb", schema, init=False)
    mysql((REPO / "tests" / "data" / "schema_v1_mysql.sql").read_text(), schema)
    mysql((REPO / "sql" / "mysql" / "upgrade" / "002_stats_by_group.sql").read_text(), schema)
    # 003 stopped after its DROP INDEX (DDL commits at once): the index is gone, the version
    # still 2.
    mysql("DROP INDEX peers_expires_at ON peers;", schema)
    up = btrt("db", "upgrade", "-c", str(t.config_path))
    assert up.returncode == 0 and "upgraded schema version 2 to 3" in up.stdout, up.stderr
    # The shipped script, fed to the mysql client by hand, is rerunnable too.
    script = (REPO / "sql" / "mysql" / "upgrade" / "003_peers_without_expiry_index.sql").read_text()
    mysql(script, schema)
    mysql(script, schema)
    assert mysql("SELECT MAX(version) FROM schema_version;", schema).strip() == "3"
    assert mysql("SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = "
                 f"'{schema}' AND index_name = 'peers_expires_at';").strip() == "0"
    t.start()


def test_forwarded_torrent_stores_its_origin_url(make_tracker, tmp_path, fakes):
    import urllib.parse
    from btrt_harness import announce_query, raw_request
    fake = fakes()
    fake.peers = [("127.3.3.3", 6333)]
    workdir = tmp_path / "db"
    workdir.mkdir()
    t = make_tracker(GROUPS + "forwarding:\n  allowed_destinations: [\"127.0.0.0/8\"]\n"
                     f'database:\n  url: "sqlite://{workdir}/btrt.db"\n  flush_interval: 1\n')
    forwarded, local = info_hash(40), info_hash(41)
    origin = fake.url("/tr/announce")
    query = announce_query(forwarded, peer_id(1), 6001) + "&passkey=secret"
    url = urllib.parse.quote(origin + "?" + query, safe="")
    raw = (f"GET /forwarded_announce?url={url} HTTP/1.1\r\nHost: retracker.local\r\n"
           "X-Forwarded-For: 127.1.0.7\r\nConnection: close\r\n\r\n").encode()
    status, _, body = raw_request("127.0.0.1", t.port, raw)
    assert status == 200, body
    t.announce(local, peer_id(2), 6002, source="127.1.0.8")
    assert t.stop() == 0  # the final flush
    rows = dict(sqlite_rows(workdir / "btrt.db", "SELECT info_hash, origin_url FROM torrents"))
    # The origin without the subscriber's query: a passkey is not the operator's to keep.
    assert rows == {forwarded.hex(): origin, local.hex(): None}


@pytest.fixture
def private_mariadb():
    """A MariaDB server of this test's own (own directory and port), so that stopping it
    disturbs no other test; stopped (by the script, by its PID) at the end."""
    import shutil
    import tempfile
    from btrt_harness import free_port
    if not shutil.which("mariadbd") or not shutil.which("mariadb-install-db"):
        pytest.skip("mariadbd is not installed")
    directory = tempfile.mkdtemp(prefix="btrt-mdb-")  # short: the socket path has a limit
    port = free_port()
    env = {**os.environ, "BTRT_TEST_MYSQL_PORT": str(port)}
    script = str(REPO / "scripts" / "test-mariadb.sh")

    class Server:
        def __init__(self):
            self.port = port

        def start(self):
            subprocess.run([script, "start", directory], env=env, check=True, timeout=180)

        def stop(self):
            subprocess.run([script, "stop", directory], env=env, check=True, timeout=180)

    server = Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_database_down_at_start_serves_and_merges_when_it_is_back(private_mariadb, make_tracker):
    # (private_mariadb first: btrt is stopped before its database at the end)
    section = (f'database:\n  url: "tcp://127.0.0.1:{private_mariadb.port}"\n  user: "btrt"\n'
               '  password: "btrt-test"\n  schema: "btrt"\n  flush_interval: 1\n')
    t = make_tracker(GROUPS + section, start=False)
    r = btrt("db", "init", "-c", str(t.config_path))
    assert r.returncode == 0, r.stderr
    stored, fresh = info_hash(50), info_hash(51)
    t.start()
    for n in range(1, 4):  # kept as they are
        t.announce(stored, peer_id(n), 7000 + n, source=f"127.1.0.{n}", numwant=0)
    t.announce(stored, peer_id(4), 7004, source="127.1.0.4", numwant=0)  # a seeder later
    t.announce(stored, peer_id(5), 7005, source="127.1.0.5", numwant=0)  # stops later
    assert t.stop() == 0

    private_mariadb.stop()
    t.start()  # serves although the database is down
    wait_for(lambda: "database not available at start" in t.logs(), timeout=10,
             what="the outage at start to be logged")
    for n in range(1, 3):
        t.announce(fresh, peer_id(10 + n), 7010 + n, source=f"127.1.1.{n}", numwant=0)
    t.announce(stored, peer_id(4), 7004, source="127.1.0.4", left=0, event="completed",
               numwant=0)
    t.announce(stored, peer_id(5), 7005, source="127.1.0.5", numwant=0)
    t.announce(stored, peer_id(5), 7005, source="127.1.0.5", event="stopped")
    assert t.scrape(stored)[b"files"][stored] == {b"complete": 1, b"incomplete": 0,
                                                  b"downloaded": 1}

    private_mariadb.start()
    wait_for(lambda: "database available again" in t.logs(), timeout=60,
             what="the database to be used once it is back")
    assert "restored 3 peers" in t.logs(), t.logs()

    def served():
        return {ih: t.scrape(ih)[b"files"][ih] for ih in (stored, fresh)}, {
            ih: set(compact_peers(t.announce(ih, peer_id(99), 7099, source="127.3.0.99",
                                             numwant=50)))
            for ih in (stored, fresh)}

    expected_peers = {
        stored: {("127.1.0.1", 7001), ("127.1.0.2", 7002), ("127.1.0.3", 7003),
                 ("127.1.0.4", 7004)},
        fresh: {("127.1.1.1", 7011), ("127.1.1.2", 7012)}}
    expected_counts = {
        stored: {b"complete": 1, b"incomplete": 3, b"downloaded": 1},
        fresh: {b"complete": 0, b"incomplete": 2, b"downloaded": 0}}
    counts, peers = served()
    assert counts == expected_counts
    assert {ih: p - {("127.3.0.99", 7099)} for ih, p in peers.items()} == expected_peers
    # And all of it was written: after a restart with the database up, the same swarm.
    for ih in (stored, fresh):
        t.announce(ih, peer_id(99), 7099, source="127.3.0.99", event="stopped")
    restart(t)
    counts, peers = served()
    assert counts == expected_counts
    assert {ih: p - {("127.3.0.99", 7099)} for ih, p in peers.items()} == expected_peers


def test_too_old_schema_still_refused_when_the_database_is_reachable(make_tracker, tmp_path,
                                                                     schema):
    assert MYSQL_PORT, "BTRT_TEST_MYSQL_PORT not set"
    t = make_persistent(make_tracker, tmp_path, "mariadb", schema, init=False)
    mysql((REPO / "tests" / "data" / "schema_v1_mysql.sql").read_text(), schema)
    r = btrt("run", "-c", str(t.config_path))
    assert r.returncode == 1 and "btrt db upgrade" in r.stderr
