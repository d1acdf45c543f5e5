import pytest

from btrt_harness import BTRT, GROUPS, Tracker
from fake_tracker import FakeTracker


def pytest_configure(config):
    if not BTRT.exists():
        raise pytest.UsageError(f"btrt binary not found at {BTRT}; build first or set BTRT_BIN")


@pytest.fixture
def make_tracker(tmp_path):
    started = []

    def make(config_text=GROUPS, start=True, **kwargs):
        t = Tracker(tmp_path / f"btrt{len(started)}", config_text, **kwargs)
        started.append(t)
        if start:
            t.start()
        return t

    yield make
    for t in started:
        t.stop()
    # A sanitizer build reports on stderr; a report fails the test that provoked it.
    for t in started:
        if t.proc is None:
            continue
        out = t.output()
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                       "ERROR: LeakSanitizer"):
            assert marker not in out, out[out.index(marker) - 200:][:6000]


@pytest.fixture
def tracker(make_tracker):
    return make_tracker()


@pytest.fixture
def fakes():
    """Fake trackers (neighbours, origins) on loopback, closed after the test."""
    made = []

    def make(host="127.0.0.1"):
        f = FakeTracker(host)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()
