"""The tracker a swarm of the end-to-end tests announces to, seen through one interface
whatever the protocol: its announce URL (the only one in the torrent), the counts it keeps
of a torrent and the peers it hands out, each read over the protocol the clients use.

- "http": btrt, announce URL http://.../announce;
- "udp": btrt with a UDP (BEP 15) listener, announce URL udp://...; its HTTP listener serves
  only /health, /metrics and the tests' own checks, and is named in no torrent.

BTRT_E2E_UDP_TRACKER=opentracker runs the UDP tests against Debian's opentracker instead
(bench/run.sh installs it): a reference tracker that tells whether a failing UDP test is the
clients' (their flags) or btrt's doing.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import udp_client
from btrt_harness import GROUPS, announce_query, bdecode, compact_peers, wait_for

UDP_TRACKER = os.environ.get("BTRT_E2E_UDP_TRACKER", "btrt")


def btrt_metrics(btrt):
    """[(name, {label: value}, value)] of one read of btrt's /metrics."""
    status, _, body = btrt.get("/metrics")
    assert status == 200, body
    out = []
    for line in body.decode().splitlines():
        m = re.fullmatch(r'(\w+)(?:\{(.*)\})? (\S+)', line)
        if m and not line.startswith("#"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def btrt_announces(btrt):
    """{"http": n, "udp": n, "udp_dropped": n}: the announces btrt has answered (not with a
    failure or error) by its request counters' protocol label, and the UDP packets it
    dropped unanswered."""
    out = {"http": 0, "udp": 0, "udp_dropped": 0}
    for name, labels, v in btrt_metrics(btrt):
        if name == "btrt_requests_total" and labels.get("kind") == "announce" \
                and labels.get("result") == "ok":
            out[labels.get("protocol", "http")] += int(v)
        elif name == "btrt_udp_dropped_total":
            out["udp_dropped"] += int(v)
    return out


def http_counts(btrt, ih):
    """(complete, incomplete, downloaded) of a scrape over HTTP."""
    entry = btrt.scrape(ih)[b"files"].get(ih, {})
    return entry.get(b"complete", 0), entry.get(b"incomplete", 0), entry.get(b"downloaded", 0)


def http_peers(btrt, ih, source, port=6999):
    """The peers btrt hands to a leecher at `source` (in answer order), which leaves again
    at once."""
    q = announce_query(ih, b"-TT0001-e2eprobe0001", port, numwant=50)
    status, _, body = btrt.get("/announce?" + q, source=source)
    assert status == 200, body
    btrt.get("/announce?" + q + "&event=stopped", source=source)
    return compact_peers(bdecode(body))


class HttpBtrt:
    proto = "http"
    ranks = True  # hands out peers by peer group

    def __init__(self, make_tracker):
        self.btrt = make_tracker(start=False)
        self.url = f"http://127.0.0.1:{self.btrt.port}/announce"

    def start(self, *info_hashes):
        self.btrt.start()

    def counts(self, ih):
        return http_counts(self.btrt, ih)

    def peers(self, ih, source, port=6999):
        return http_peers(self.btrt, ih, source, port)

    def announces(self):
        """btrt_announces(), or None if the tracker does not count by protocol."""
        return btrt_announces(self.btrt)

    def stop(self):
        pass  # make_tracker stops btrt


class UdpTracker:
    """counts() is (complete, incomplete, downloaded) as for HTTP, read by a UDP scrape."""
    proto = "udp"

    def __init__(self):
        self.udp_port = udp_client.free_udp_port()
        self.url = f"udp://127.0.0.1:{self.udp_port}/announce"

    def counts(self, ih):
        with udp_client.Client(self) as c:
            seeders, completed, leechers = c.scrape(ih)[0]
        return seeders, leechers, completed

    def peers(self, ih, source, port=6999):
        """The peers handed to a leecher at `source` (in answer order), which leaves again
        at once."""
        pid = b"-TT0001-e2eprobe0001"
        with udp_client.Client(self, source) as c:
            _, _, _, peers = c.announce(ih, pid, port, event=udp_client.STARTED, numwant=50)
            c.announce(ih, pid, port, event=udp_client.STOPPED, numwant=0)
        return peers


class UdpBtrt(UdpTracker):
    ranks = True

    def __init__(self, make_tracker):
        super().__init__()
        self.btrt = make_tracker(
            "server:\n  listen: [\"127.0.0.1:%PORT%\"]\n"
            f"  udp_listen: [\"127.0.0.1:{self.udp_port}\"]\n  threads: 2\n"
            "  trusted_sources: [\"127.0.0.1/32\"]\n" + GROUPS, start=False)

    def start(self, *info_hashes):
        self.btrt.start()

    def announces(self):
        return btrt_announces(self.btrt)

    def stop(self):
        pass


class UdpOpentracker(UdpTracker):
    """Debian's opentracker on UDP only (-P; no -p, so no TCP listener at all). Debian builds
    it with a whitelist: the test's info-hashes are listed before it starts."""
    ranks = False
    BINARY = shutil.which("opentracker")

    def __init__(self, workdir: Path):
        if not self.BINARY:
            pytest.skip("opentracker is not installed (bench/run.sh installs it)")
        super().__init__()
        self.workdir = workdir
        self.proc = None

    def start(self, *info_hashes):
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "whitelist.txt").write_text("".join(h.hex() + "\n" for h in info_hashes))
        # -d chroots into the work directory and -u drops to nobody (as bench/bench.py does)
        os.chmod(self.workdir, 0o755)
        self.log = open(self.workdir / "opentracker.log", "wb")
        self.proc = subprocess.Popen(
            [self.BINARY, "-i", "127.0.0.1", "-P", str(self.udp_port), "-d", str(self.workdir),
             "-u", "nobody", "-w", "whitelist.txt"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._answers, timeout=10, interval=0.05, what="opentracker to answer")

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("opentracker exited: "
                                 + (self.workdir / "opentracker.log").read_text())
        try:
            with udp_client.Client(self, timeout=0.2) as c:
                return c.connect() is not None
        except AssertionError:  # no answer yet
            return False

    def announces(self):
        return None  # opentracker counts only on its TCP /stats page, which is off here

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
            self.log.close()


def assert_announced_over(tr, proto, at_least):
    """The tracker answered at least `at_least` announces over `proto`, none over the other
    protocol, and dropped none of the clients' UDP packets (when it counts them)."""
    by_proto = tr.announces()
    if by_proto is not None:
        other = "udp" if proto == "http" else "http"
        assert by_proto[proto] >= at_least and by_proto[other] == 0, by_proto
        assert by_proto["udp_dropped"] == 0, by_proto


def make(proto, make_tracker, workdir: Path):
    if proto == "http":
        return HttpBtrt(make_tracker)
    if UDP_TRACKER == "opentracker":
        return UdpOpentracker(workdir)
    return UdpBtrt(make_tracker)
