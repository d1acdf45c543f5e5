"""hashlist.bin (docs/dpi-integration.md): written by `btrt run` every interval and by `btrt hashlist`."""
import os
import signal
import subprocess
import threading
import time

from btrt_harness import BTRT, GROUPS, info_hash, peer_id, wait_for
from test_persistence import backend, database_section, schema  # noqa: F401 (fixtures)

def config(path, interval=1, min_seeders=1, groups='["local peers"]', extra=""):
    return GROUPS + (f'hashlist:\n  path: "{path}"\n  interval: {interval}\n'
                     f"  groups: {groups}\n  min_seeders: {min_seeders}\n") + extra


def read(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def expected(*hashes):
    return b"".join(sorted(hashes))


def seed(t, ih, n, source, port=6881, left=0):
    t.announce(ih, peer_id(n), port + n, source=source, left=left, numwant=0)


def btrt(*args):
    return subprocess.run([str(BTRT), *args], capture_output=True, text=True, timeout=60)


def test_lists_torrents_with_seeders_in_the_groups(make_tracker, tmp_path):
    out = tmp_path / "out" / "hashlist.bin"
    out.parent.mkdir()
    t = make_tracker(config(out))
    high = bytes([0x80]) + bytes(19)  # sorts after every 0x7f...: bytewise, unsigned
    seed(t, info_hash(1), 1, "127.1.0.1")               # local seeder: listed
    seed(t, info_hash(2), 2, "127.1.0.2", left=100)     # local leecher only
    seed(t, info_hash(3), 3, "127.3.0.3")               # seeder in `other`
    seed(t, info_hash(4), 4, "127.2.0.4")               # partner seeder, not in groups
    seed(t, high, 5, "127.1.0.5")
    seed(t, info_hash(0x7F000000), 6, "127.1.0.6")
    want = expected(info_hash(1), high, info_hash(0x7F000000))
    wait_for(lambda: read(out) == want, timeout=10, what="the hashlist of local seeders")
    assert want.index(high) == 40
    wait_for(lambda: f"hashlist: 3 torrents written to {out}" in t.logs(), timeout=5,
             what="the info line")

    # A seeder that stops takes its torrent out at the next write.
    t.announce(info_hash(1), peer_id(1), 6882, source="127.1.0.1", left=0, event="stopped")
    want = expected(high, info_hash(0x7F000000))
    wait_for(lambda: read(out) == want, timeout=10, what="the stopped torrent to go")


def test_min_seeders_and_several_groups(make_tracker, tmp_path):
    out = tmp_path / "hashlist.bin"
    t = make_tracker(config(out, min_seeders=2, groups='["local peers", "partner peers"]'))
    seed(t, info_hash(1), 1, "127.1.0.1")
    seed(t, info_hash(1), 2, "127.2.0.2")  # 1 local + 1 partner = 2
    seed(t, info_hash(2), 3, "127.1.0.3")
    seed(t, info_hash(2), 4, "127.3.0.4")  # 1 in the groups + 1 other = 1
    seed(t, info_hash(3), 5, "127.1.0.5")
    seed(t, info_hash(3), 6, "127.1.0.6", left=5)  # a leecher does not count
    wait_for(lambda: read(out) == expected(info_hash(1)), timeout=10, what="min_seeders 2")


def test_sighup_applies_a_new_hashlist_section(make_tracker, tmp_path):
    out = tmp_path / "hashlist.bin"
    t = make_tracker(config(out, min_seeders=2))
    seed(t, info_hash(1), 1, "127.1.0.1")
    seed(t, info_hash(2), 2, "127.2.0.2")
    wait_for(lambda: read(out) == b"", timeout=10, what="no torrent with 2 seeders")
    t.write_config(config(out, min_seeders=1, groups='["local peers", "partner peers"]'))
    t.signal(signal.SIGHUP)
    wait_for(lambda: read(out) == expected(info_hash(1), info_hash(2)), timeout=10,
             what="the reloaded selection")


def test_no_local_seeders_makes_an_empty_file(make_tracker, tmp_path):
    out = tmp_path / "hashlist.bin"
    t = make_tracker(config(out, interval=1))
    wait_for(lambda: read(out) == b"", timeout=10, what="an empty hashlist")
    seed(t, info_hash(1), 1, "127.3.0.1")
    wait_for(lambda: "hashlist: 0 torrents written" in t.logs(), timeout=5, what="the info line")
    assert read(out) == b""


def test_hashlist_command_reads_the_database(make_tracker, tmp_path, backend, schema):
    default = tmp_path / "default" / "hashlist.bin"
    default.parent.mkdir()
    t = make_tracker(config(default, interval=0,
                            extra=database_section(backend, tmp_path, schema)), start=False)
    if backend == "mariadb":
        assert btrt("db", "init", "-c", str(t.config_path)).returncode == 0
    t.start()
    seed(t, info_hash(7), 1, "127.1.0.1")
    seed(t, info_hash(5), 2, "127.1.0.2")
    seed(t, info_hash(6), 3, "127.3.0.3")
    seed(t, info_hash(8), 4, "127.1.0.4", left=1)
    assert t.stop() == 0
    assert read(default) is None  # interval 0: only on demand

    out = tmp_path / "elsewhere.bin"
    r = btrt("hashlist", "-c", str(t.config_path), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert read(out) == expected(info_hash(5), info_hash(7))
    assert f"2 torrents written to {out}" in r.stdout

    r = btrt("hashlist", "-c", str(t.config_path))  # default output: hashlist.path
    assert r.returncode == 0, r.stderr
    assert read(default) == expected(info_hash(5), info_hash(7))


def test_hashlist_command_errors(make_tracker, tmp_path):
    never_ran = make_tracker(config(tmp_path / "h.bin"), start=False)
    r = btrt("hashlist", "-c", str(never_ran.config_path))
    assert r.returncode == 1 and "no database at" in r.stderr, r.stderr
    assert not (never_ran.workdir / "btrt.db").exists()  # not created by the command

    t = make_tracker(config(tmp_path / "h.bin", extra=(
        f'database:\n  url: "sqlite://{tmp_path}/btrt.db"\n')))
    assert t.stop() == 0
    r = btrt("hashlist", "-c", str(t.config_path), "-o", str(tmp_path / "no" / "dir" / "h.bin"))
    assert r.returncode == 1 and str(tmp_path / "no" / "dir" / "h.bin") in r.stderr
    r = btrt("hashlist", "-c", str(tmp_path / "missing.conf"))
    assert r.returncode == 2 and "missing.conf" in r.stderr


def test_unwritable_directory_is_logged_not_fatal(make_tracker, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # its "children" cannot be created, not even by root
    out = blocker / "hashlist.bin"
    t = make_tracker(config(out))
    wait_for(lambda: f"cannot write {out}" in t.logs(), timeout=10, what="the error line")
    assert "[error]" in next(line for line in t.logs().splitlines() if "cannot write" in line)
    seed(t, info_hash(1), 1, "127.1.0.1")
    assert t.get("/health")[0] == 200


def test_replacement_is_atomic(make_tracker, tmp_path):
    out = tmp_path / "hl" / "hashlist.bin"
    out.parent.mkdir()
    t = make_tracker(config(out, interval=1))
    for n in range(400):
        seed(t, info_hash(n + 1), n, f"127.1.{n // 200}.{n % 200 + 1}")
    wait_for(lambda: len(read(out) or b"") == 400 * 20, timeout=15, what="400 torrents listed")

    # Keep the list changing while a reader polls it.
    stop = threading.Event()

    def announcer():
        n = 400
        while not stop.is_set() and n < 1400:
            seed(t, info_hash(n + 1), n, f"127.1.{n // 200}.{n % 200 + 1}")
            n += 1

    thread = threading.Thread(target=announcer)
    thread.start()
    inodes, sizes = set(), set()
    deadline = time.monotonic() + 8
    try:
        while time.monotonic() < deadline and len(inodes) < 4:
            with open(out, "rb") as f:
                inodes.add(os.fstat(f.fileno()).st_ino)
                data = f.read()
            assert len(data) % 20 == 0, f"partial file: {len(data)} bytes"
            assert len(data) >= 400 * 20
            hashes = [data[i:i + 20] for i in range(0, len(data), 20)]
            assert hashes == sorted(hashes)
            sizes.add(len(data))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert len(inodes) >= 2, "the file was not rewritten while polled"
    assert len(sizes) >= 2
    assert t.stop() == 0
    assert sorted(os.listdir(out.parent)) == ["hashlist.bin"]  # no temporary left behind
