"""btrt as Prometheus sees it: Debian's real `prometheus` server, started here on a free
loopback port with its own data directory and the shipped rules
(packaging/prometheus/btrt-alerts.yml), scrapes a real btrt every second. The test then asks
Prometheus' HTTP API, in PromQL, for what it did: the localisation ratio, the announce rate,
the upstream failure ratio, the database state, the alerts pending — and evaluates every
expression of the Grafana dashboard (packaging/grafana/btrt.json) against btrt under load.

Counters' rates are compared exactly: Prometheus scraped every counter at 0 before the
traffic, and a query at the time of the last sample needs no extrapolation, so
increase(x[5m]) is exactly what was counted, and rate(x[5m]) that divided by 300.
"""
import json
import math
import re
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from btrt_harness import (GROUPS, announce_query, bdecode, info_hash, peer_id, raw_request,
                          wait_for, free_port)
from test_metrics import metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "packaging" / "prometheus" / "btrt-alerts.yml"
DASHBOARD = ROOT / "packaging" / "grafana" / "btrt.json"
PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is not installed (scripts/install-deps.sh installs it)")

# Loopback only: no proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Prometheus:
    """One prometheus server of this test, scraping btrt at `target` every second."""

    def __init__(self, workdir: Path, target: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = workdir / "prometheus.log"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: [\"{RULES}\"]\n"
            "scrape_configs:\n  - job_name: btrt\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: [\"{target}\"]\n")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=60, interval=0.2, what="prometheus to be ready")

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}: "
                                 f"{self.log_path.read_text(errors='replace')[-3000:]}")
        try:
            with _opener.open(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr, at=None):
        """The result of an instant query: [(labels, value)]; a failed query fails the test."""
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(params)
        try:
            with _opener.open(url, timeout=10) as r:
                answer = json.load(r)
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{expr}: HTTP {e.code} {e.read()[:500]!r}") from None
        assert answer["status"] == "success", (expr, answer)
        data = answer["data"]
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def value(self, expr, at=None):
        result = self.query(expr, at)
        assert len(result) == 1, (expr, result)
        return result[0][1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def prometheus(tmp_path):
    started = []

    def start(target):
        p = Prometheus(tmp_path / f"prometheus{len(started)}", target)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


CONFIG = """
server:
  listen: ["127.0.0.1:%PORT%"]
  threads: 2
  trusted_sources: ["127.0.0.1/32"]
  admin_allow: ["127.0.0.1/32"]
forwarding:
  timeout: 2
  allowed_destinations: ["127.0.0.0/8"]
database:
  url: "sqlite://%DB%"
  flush_interval: 1
""" + GROUPS


def forwarded(t, origin, ih, n, subscriber):
    """A forwarded announce as the DPI hands it over (Host: the origin), answered 200."""
    query = announce_query(ih, peer_id(n), 6000 + n % 1000)
    raw = (f"GET /announce?{query} HTTP/1.1\r\nHost: 127.0.0.1:{origin.port}\r\n"
           f"X-Forwarded-For: {subscriber}\r\nConnection: close\r\n\r\n").encode("latin-1")
    status, _, body = raw_request("127.0.0.1", t.port, raw, timeout=10)
    assert status == 200, (status, body)
    return bdecode(body)


def scraped_at_zero(prom):
    """True once Prometheus holds a scrape of btrt taken before any traffic."""
    up = prom.query('up{job="btrt"}')
    if not up or up[0][1] != 1:
        return False
    return prom.query('btrt_requests_total{kind="announce",protocol="http",result="ok"} == 0')


def test_prometheus_computes_what_the_test_did(make_tracker, fakes, prometheus, tmp_path):
    good, bad = fakes(), fakes()
    good.peers = []          # answers, with no peers of its own: the ratio stays the test's
    bad.mode = "garbage"     # never a tracker answer
    t = make_tracker(CONFIG.replace("%DB%", str(tmp_path / "btrt.db")))
    prom = prometheus(f"127.0.0.1:{t.port}")
    wait_for(lambda: scraped_at_zero(prom), timeout=30, interval=0.2,
             what="prometheus' first scrape of btrt")

    # Torrent 1: three local peers, then one of `other`: 0+1+2+3 local peers handed out.
    for n in range(1, 4):
        t.announce(info_hash(1), peer_id(n), 7000 + n, source=f"127.1.0.{n}")
    t.announce(info_hash(1), peer_id(4), 7004, source="127.3.0.4")
    # Torrent 2: two of `other`, a local one, a partner: other 0+1+2+2, local 0+0+0+1.
    t.announce(info_hash(2), peer_id(5), 7005, source="127.3.0.5")
    t.announce(info_hash(2), peer_id(6), 7006, source="127.3.0.6")
    t.announce(info_hash(2), peer_id(7), 7007, source="127.1.0.7")
    t.announce(info_hash(2), peer_id(8), 7008, source="127.2.0.8")
    announces, local, handed_out = 8, 7, 12
    # Forwarded announces, each for a new torrent (no peers btrt knows): 4 to an origin that
    # answers, 6 to one that fails (then is backed off; both count as failing).
    for n in range(4):
        forwarded(t, good, info_hash(100 + n), 100 + n, "127.1.0.100")
    for n in range(6):
        forwarded(t, bad, info_hash(200 + n), 200 + n, "127.1.0.100")
    failing, forwarded_total = 6, 10
    assert good.count() == 4 and bad.count() >= 1

    def scraped_everything():
        return prom.query(f'btrt_requests_total{{kind="forwarded",protocol="http",result="ok"}}'
                          f' == {forwarded_total} and on () btrt_requests_total{{kind="announce",'
                          f'protocol="http",result="ok"}} == {announces}')
    wait_for(scraped_everything, timeout=30, interval=0.2, what="prometheus to scrape the traffic")
    # Every counter sampled at the same instants: the latest sample's time.
    at = prom.value('timestamp(btrt_requests_total{kind="announce",protocol="http",result="ok"})')
    results = {}

    def check(name, expr, expected):
        value = prom.value(expr, at)
        results[name] = (expr, value)
        assert value == pytest.approx(expected, rel=1e-9), (name, expr, value, expected)

    check("localisation ratio",
          'sum(increase(btrt_returned_peers_total{group="local peers"}[5m]))'
          ' / sum(increase(btrt_returned_peers_total[5m]))', local / handed_out)
    check("peers handed out, 5 min", 'sum(increase(btrt_returned_peers_total[5m]))', handed_out)
    check("announce rate (/s)", 'sum(rate(btrt_requests_total{kind="announce"}[5m]))',
          announces / 300)
    check("forwarded announce rate (/s)", 'sum(rate(btrt_requests_total{kind="forwarded"}[5m]))',
          forwarded_total / 300)
    check("upstream failure rate (/s)",
          'sum(rate(btrt_upstream_requests_total{result=~"failed|failure_reason|backed_off"}[5m]))',
          failing / 300)
    check("upstream failure ratio",
          'sum(rate(btrt_upstream_requests_total{result=~"failed|failure_reason|backed_off"}[5m]))'
          ' / sum(rate(btrt_upstream_requests_total{result=~"ok|failed|failure_reason|backed_off"}'
          '[5m]))', failing / forwarded_total)
    check("upstream ok", 'btrt_upstream_requests_total{result="ok"}', 4)
    check("torrents", 'btrt_torrents', 2 + forwarded_total)
    # 127.1.0.1-3 and .7, and the forwarding subscriber 127.1.0.100 in each of its torrents
    check("local peers of the local group",
          'btrt_peers{group="local peers",source="local"}', 4 + forwarded_total)
    check("database up", 'btrt_database_up', 1)

    # The write-behind flushes the new peers (flush_interval 1): pending drops to 0.
    wait_for(lambda: prom.query('btrt_database_pending_changes == 0 and on () '
                                'btrt_database_flush_duration_seconds_count > 0'),
             timeout=30, interval=0.2, what="a database flush seen by prometheus")
    results["database pending changes"] = ("btrt_database_pending_changes",
                                           prom.value("btrt_database_pending_changes"))

    # The shipped recording rules, evaluated by this Prometheus every second.
    def recorded(name, expected):
        def ok():
            r = prom.query(name)
            return r and r[0][1] == pytest.approx(expected, rel=1e-9) and r[0][1]
        results[name] = (name, wait_for(ok, timeout=30, interval=0.2, what=name))
        labels = prom.query(name)[0][0]
        assert labels.get("job") == "btrt" and labels.get("instance") == f"127.0.0.1:{t.port}"
    recorded("btrt:localisation_ratio:rate10m", local / handed_out)
    recorded("btrt:upstream_failure_ratio:rate10m", failing / forwarded_total)

    # Alerts: the failing origin (0.6 > 0.5) is pending (it fires after 15 minutes); the
    # others hold still.
    wait_for(lambda: prom.query('ALERTS{alertname="BtrtOriginFailing",alertstate="pending"}'),
             timeout=30, interval=0.2, what="BtrtOriginFailing pending")
    alerts = sorted(m["alertname"] for m, _ in prom.query("ALERTS"))
    results["ALERTS"] = ("ALERTS", alerts)
    assert alerts == ["BtrtOriginFailing"], alerts

    for name, (expr, value) in results.items():
        print(f"{name}: {expr} = {value}")


# --- the dashboard --------------------------------------------------------------------------
def dashboard_targets(dashboard):
    """(panel title, PromQL expression) of every target of every panel, rows included."""
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for target in p.get("targets", []):
                out.append((p["title"], target["expr"]))
    walk(dashboard["panels"])
    return out


def substitute(expr, dashboard):
    """Grafana's variables, as the dashboard's defaults set them."""
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    expr = expr.replace("$__rate_interval", "1m")
    expr = expr.replace("$instance", variables["instance"]["allValue"])
    expr = expr.replace("$local_groups", variables["local_groups"]["current"]["value"])
    assert "$" not in expr.replace("$labels", ""), f"an unknown variable in {expr}"
    return expr


def test_dashboard_is_grafana_json_with_consistent_panels():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    ids = []
    covered = set()

    def walk(panels):
        for p in panels:
            ids.append(p["id"])
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
            for cell in ((g["x"] + dx, g["y"] + dy) for dx in range(g["w"]) for dy in range(g["h"])):
                assert cell not in covered, f"panel {p['title']} overlaps another"
                covered.add(cell)
            if p["type"] != "row":
                assert p["datasource"]["uid"] == "${datasource}", p["title"]
                assert p["targets"], p["title"]
                refs = [t["refId"] for t in p["targets"]]
                assert len(set(refs)) == len(refs), p["title"]
            walk(p.get("panels", []))
    walk(dashboard["panels"])
    assert len(set(ids)) == len(ids), "panel ids must be unique"
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    # What the dashboard is for: localisation over time, requests by kind and result, peers
    # by group and source, upstream and neighbour latency, database flush time, memory.
    for wanted in ("localisation", "requests by kind and result", "peers by group and source",
                   "origin latency", "neighbour latency", "database flush time", "memory"):
        assert wanted in titles, wanted


def exported_families(tracker):
    names = set()
    for key in metrics(tracker):
        names.add(re.sub(r"(_bucket|_sum|_count)$", "", key.split("{")[0]))
    return names


def metric_names(text):
    return {re.sub(r"(_bucket|_sum|_count)$", "", m) for m in re.findall(r"\bbtrt_[a-z_]+", text)}


def test_dashboard_expressions_return_data_for_btrt_under_load(make_tracker, fakes, prometheus,
                                                               tmp_path):
    dashboard = json.loads(DASHBOARD.read_text())
    neighbour, good, bad = fakes(), fakes(), fakes()
    neighbour.peers = [("127.2.9.9", 6881)]
    good.peers = [("127.3.9.9", 6881)]
    good.delay = 0.01
    bad.mode = "failure"
    template = ("/announce?info_hash={info_hash}&peer_id=-BT0001-000000000000&port=6882"
                "&uploaded=0&downloaded=0&left=1&compact=1")
    t = make_tracker(CONFIG.replace("%DB%", str(tmp_path / "btrt.db")) +
                     f'neighbors:\n  - name: "partner"\n    refresh_interval: 1\n'
                     f'    announce_request: "{neighbour.url(template)}"\n    timeout: 2\n')
    # Every metric the rules and the dashboard name is one btrt exports (the neighbour's
    # families once its poller runs).
    named = {source: metric_names(text) for source, text in (
        ("btrt-alerts.yml", RULES.read_text()), ("btrt.json", DASHBOARD.read_text()))}
    exported = wait_for(lambda: (lambda e: "btrt_neighbor_backed_off" in e and e)(
        exported_families(t)), timeout=15, what="the neighbour's metrics")
    for source, names in named.items():
        unknown = names - exported
        assert not unknown, f"{source} names metrics btrt does not export: {sorted(unknown)}"

    prom = prometheus(f"127.0.0.1:{t.port}")
    stop = threading.Event()
    errors = []

    def load():
        n = 0
        try:
            while not stop.is_set():
                n += 1
                t.announce(info_hash(n % 5), peer_id(n % 50), 7000 + n % 50,
                           source=f"127.{1 + n % 3}.0.{n % 50 + 1}")
                t.scrape(info_hash(n % 5))
                t.get("/announce?info_hash=short")  # a failure reason
                forwarded(t, good if n % 2 else bad, info_hash(1000 + n), 1000 + n,
                          f"127.1.1.{n % 200 + 1}")
        except Exception as e:  # reported by the test, not lost in the thread
            errors.append(e)

    loader = threading.Thread(target=load)
    loader.start()
    results = {}
    try:
        for title, expr in dashboard_targets(dashboard):
            concrete = substitute(expr, dashboard)

            def has_data():
                assert not errors, errors
                return [(labels, v) for labels, v in prom.query(concrete) if math.isfinite(v)]
            values = wait_for(has_data, timeout=60, interval=0.5,
                              what=f"data for panel {title!r}: {concrete}")
            results[(title, concrete)] = values
    finally:
        stop.set()
        loader.join(timeout=30)
    assert not errors, errors
    for (title, expr), values in results.items():
        print(f"{title}: {expr} -> {values}")
