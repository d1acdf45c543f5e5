import pytest

from btrt_harness import BTRT, make_tracker  # noqa: F401 (a fixture, shared with tests/e2e)
from fake_tracker import FakeTracker


def pytest_configure(config):
    if not BTRT.exists():
        raise pytest.UsageError(f"btrt binary not found at {BTRT}; build first or set BTRT_BIN")


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
