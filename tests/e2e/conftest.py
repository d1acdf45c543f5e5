"""Fixtures of the end-to-end tests: btrt processes (the black-box harness of
tests/integration), the tracker of a swarm over HTTP or UDP, a generated payload, and the
clients (libtorrent sessions, transmission-cli and aria2c processes) that are closed or
stopped after each test."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from btrt_harness import BTRT, make_tracker  # noqa: E402,F401 (a fixture)
import lt_swarm  # noqa: E402
import trackers as tracker_kinds  # noqa: E402

PAYLOAD_SIZE = 3 * 1024 * 1024 + 12345  # not a whole number of pieces

def pytest_configure(config):
    if not BTRT.exists():
        raise pytest.UsageError(f"btrt binary not found at {BTRT}; build first or set BTRT_BIN")


@pytest.fixture(scope="session")
def payload(tmp_path_factory):
    """(directory, file name, sha256) of one generated payload shared by the tests."""
    d = tmp_path_factory.mktemp("payload")
    digest = lt_swarm.make_payload(d, "payload.bin", PAYLOAD_SIZE)
    return d, "payload.bin", digest


@pytest.fixture
def clients():
    """make(ip, torrent, save_path, seed=...) -> a started client; all closed at the end."""
    made = []

    def make(ip, torrent_file, save_path, **kwargs):
        c = lt_swarm.Client(ip, lt_swarm.free_port_on(ip), torrent_file, save_path, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def trackers(make_tracker, tmp_path):
    """make(proto) -> the tracker of a swarm ("http" or "udp"), not started yet: start it
    with the swarm's info-hashes once its URL is in the torrent."""
    made = []

    def make(proto):
        t = tracker_kinds.make(proto, make_tracker, tmp_path / f"tracker{len(made)}")
        made.append(t)
        return t

    yield make
    for t in made:
        t.stop()


@pytest.fixture
def procs():
    """procs(p) registers a cli_clients.Process; each is stopped (by its PID) at the end."""
    made = []

    def add(p):
        made.append(p)
        return p

    yield add
    for p in made:
        p.stop()
