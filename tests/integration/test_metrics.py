"""The service pages /metrics and /stats (docs/operations.md) with the real binary on loopback."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from btrt_harness import GROUPS, compact_peers, info_hash, peer_id, wait_for
from fake_tracker import FakeTracker

ADMIN = "127.0.0.1"
OUTSIDER = "127.9.0.1"  # loopback, but not in admin_allow below

CONFIG = """
server:
  listen: ["127.0.0.1:%PORT%"]
  threads: 2
  trusted_sources: ["127.0.0.1/32"]
  admin_allow: ["127.0.0.1/32"]
""" + GROUPS


def metrics(tracker, source=ADMIN):
    """{'name{labels}': value} of one scrape of /metrics, checking the format on the way."""
    status, headers, body = tracker.get("/metrics", source=source)
    assert status == 200, (status, body)
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    typed = set()
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        key, value = line.rsplit(" ", 1)
        family = re.sub(r"(_bucket|_sum|_count)$", "", key.split("{")[0])
        assert key.split("{")[0] in typed or family in typed, f"sample before its TYPE: {line}"
        out[key] = float(value)
    return out


def announce_swarm(t, ih):
    """Three local peers, then one from `other`: 0 + 1 + 2 + 3 local peers handed out."""
    for n in range(1, 4):
        t.announce(ih, peer_id(n), 7000 + n, source=f"127.1.0.{n}")
    answer = t.announce(ih, peer_id(9), 7009, source="127.3.0.9")
    assert len(compact_peers(answer)) == 3


def test_metrics_move_with_traffic(make_tracker):
    t = make_tracker(CONFIG)
    before = metrics(t)
    assert before['btrt_torrents'] == 0
    assert before['btrt_peers{group="local peers",source="local"}'] == 0

    announce_swarm(t, info_hash(1))
    status, _, body = t.get("/announce?info_hash=short", source="127.1.0.1")
    assert status == 200 and b"failure reason" in body
    status, _, body = t.get("/scrape")  # full scrape is off
    assert b"failure reason" in body

    after = metrics(t)
    delta = {k: after[k] - before.get(k, 0) for k in after}
    assert after['btrt_torrents'] == 1
    assert after['btrt_peers{group="local peers",source="local"}'] == 3
    assert after['btrt_peers{group="other",source="local"}'] == 1
    assert after['btrt_peers{group="partner peers",source="local"}'] == 0
    assert after['btrt_peers{group="local peers",source="external"}'] == 0
    assert delta['btrt_returned_peers_total{group="local peers"}'] == 6
    assert delta['btrt_returned_peers_total{group="other"}'] == 0
    assert delta['btrt_requests_total{kind="announce",protocol="http",result="ok"}'] == 4
    assert delta['btrt_requests_total{kind="announce",protocol="http",result="failure"}'] == 1
    assert delta['btrt_tracker_failures_total{kind="announce",protocol="http",reason="bad_request"}'] == 1
    assert delta['btrt_tracker_failures_total{kind="scrape",protocol="http",reason="scrape_without_hash"}'] == 1
    assert delta['btrt_requests_total{kind="admin",protocol="http",result="ok"}'] == 1  # this scrape
    assert after['btrt_upstream_requests_total{result="ok"}'] == 0
    assert after['btrt_process_resident_memory_bytes'] > 1_000_000
    assert after['btrt_open_connections'] >= 1  # this very request
    assert after['btrt_database_up'] == 1
    assert 'btrt_database_flush_duration_seconds_bucket{le="+Inf"}' in after

    # The peers gauge follows departures too.
    t.announce(info_hash(1), peer_id(1), 7001, source="127.1.0.1", event="stopped")
    assert metrics(t)['btrt_peers{group="local peers",source="local"}'] == 2


def test_service_pages_refuse_sources_outside_admin_allow(make_tracker):
    t = make_tracker(CONFIG)
    for target in ("/metrics", "/stats", "/stats?format=json"):
        status, _, _ = t.get(target, source=OUTSIDER)
        assert status == 403, target
        status, _, _ = t.get(target, source=ADMIN)
        assert status == 200, target
    m = metrics(t)
    assert m['btrt_requests_total{kind="admin",protocol="http",result="failure"}'] == 3
    assert m['btrt_requests_total{kind="admin",protocol="http",result="ok"}'] == 4
    # The tracker itself still serves the outsider.
    t.announce(info_hash(2), peer_id(1), 7001, source=OUTSIDER)


def test_neighbour_state_in_metrics_and_stats(make_tracker):
    fake = FakeTracker()
    try:
        fake.mode = "failure"
        template = ("/announce?info_hash={info_hash}&peer_id=-BT0001-000000000000&port=6882"
                    "&uploaded=0&downloaded=0&left=1&compact=1")
        t = make_tracker(CONFIG + f'neighbors:\n  - name: "partner"\n    refresh_interval: 2\n'
                                  f'    peers_expiry_interval: 120\n'
                                  f'    announce_request: "{fake.url(template)}"\n    timeout: 2\n')
        t.announce(info_hash(3), peer_id(1), 7001, source="127.1.0.1")

        def failed_neighbour():
            status, headers, body = t.get("/stats?format=json")
            assert status == 200 and headers["content-type"] == "application/json"
            stats = json.loads(body)
            return stats["neighbors"] and stats["neighbors"][0]["requests_failed"] >= 1 and stats

        stats = wait_for(failed_neighbour, timeout=10, what="the neighbour's failure in /stats")
        n = stats["neighbors"][0]
        assert n["name"] == "partner"
        assert n["last_error"] == "failure reason: go away"
        assert n["state"] in ("backing off", "ok")  # back-off is 1 s at first
        m = metrics(t)
        assert m['btrt_neighbor_requests_total{neighbor="partner",result="failed"}'] >= 1
        assert m['btrt_neighbor_request_duration_seconds_count'] >= 1
        assert m['btrt_peers{group="local peers",source="neighbor:partner"}'] == 0

        fake.mode = "peers"
        fake.peers = [("127.2.7.7", 6881)]
        wait_for(lambda: metrics(t).get(
            'btrt_peers{group="partner peers",source="neighbor:partner"}') == 1,
            timeout=15, what="the neighbour's peer in the peers gauge")
    finally:
        fake.close()


def test_stats_json_figures(make_tracker):
    t = make_tracker(CONFIG)
    announce_swarm(t, info_hash(4))
    status, headers, body = t.get("/stats?format=json")
    assert status == 200
    stats = json.loads(body)
    assert stats["torrents"] == 1
    assert stats["peers"] == 4
    groups = {g["name"]: g for g in stats["groups"]}
    assert groups["local peers"]["local"] is True
    assert groups["partner peers"]["local"] is False
    assert groups["local peers"]["returned"] == 6
    assert groups["local peers"]["peers"]["local"] == 3
    assert stats["requests"]["announce"] == {"ok": 4, "failure": 0}
    assert stats["origins"] == []


# --- the page in a real browser ----------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(url, work_dir: Path, *extra):
    """Runs headless Chromium on `url` with no way out of loopback; returns stdout."""
    args = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            f"--user-data-dir={work_dir / 'chromium-profile'}",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--no-pings",
            "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            # Anything not on loopback goes to a closed local port; names resolve nowhere.
            "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            *extra, url]
    result = subprocess.run(args, capture_output=True, timeout=90,
                            env={**os.environ, "HOME": str(work_dir)})
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return result.stdout.decode(errors="replace")


def figure(dom, element_id):
    m = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', dom)
    assert m, f"no element #{element_id} in the rendered page"
    return m.group(1)


@pytest.mark.skipif(CHROMIUM is None,
                    reason="chromium is not installed (scripts/install-deps.sh installs it): "
                           "the /stats page is not rendered in a browser")
def test_stats_page_renders_in_chromium(make_tracker, tmp_path):
    t = make_tracker(CONFIG)
    ih = info_hash(5)
    announce_swarm(t, ih)  # 6 local peers handed out, none other
    # A stop writes the partial minute's statistics; the next start loads them for the chart.
    assert t.stop() == 0
    t.start()
    answer = t.announce(ih, peer_id(10), 7010, source="127.3.0.10")  # 3 local + 1 other
    assert len(compact_peers(answer)) == 4

    url = f"http://127.0.0.1:{t.port}/stats"
    dom = chromium(url, tmp_path, "--dump-dom")
    assert 'data-rendered="yes"' in dom, "the page's script did not run"
    assert figure(dom, "torrents") == "1"
    assert figure(dom, "peers") == "5"
    assert figure(dom, "returned") == "4"
    assert figure(dom, "local-share") == "75.0 %"
    assert figure(dom, "database") == "up"
    # local, external, all, handed out since the restart
    assert ('<tr data-group="local peers"><td class="text">local peers (local)</td>'
            '<td>3</td><td>0</td><td>3</td><td>3</td>') in dom
    assert 'id="locality-chart"' in dom and "<polyline" in dom
    summary = figure(dom, "locality-summary")
    assert "100.0 % local (6 of 6 peers handed out, 1 samples)" in summary, summary
    assert figure(dom, "origins-empty") == "forwarding: no origins contacted"

    # Kept for a person to look at: BTRT_ARTIFACTS (scripts/test.sh sets it), else tmp_path.
    out_dir = Path(os.environ.get("BTRT_ARTIFACTS", tmp_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    screenshot = out_dir / "stats.png"
    chromium(url, tmp_path, f"--screenshot={screenshot}", "--window-size=1000,1400",
             "--hide-scrollbars")
    assert screenshot.stat().st_size > 10_000
    print(f"/stats screenshot: {screenshot}")

    status, _, _ = t.get("/stats", source=OUTSIDER)
    assert status == 403
