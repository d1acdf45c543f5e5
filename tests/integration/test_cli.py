"""The command line, configuration checking, signals and logging (docs/operations.md)."""
import datetime
import signal
import subprocess

import pytest

from btrt_harness import BTRT, REPO, compact_peers, info_hash, peer_id, wait_for

SEED_CONFIG = """
logging:
  path:          "/var/log/btrt"
  level:         "info"
  switch_time:   "01:00:00"
database:
  url:          "tcp://127.0.0.1:3306"
  user:         "root"
  password:     "root"
  schema:       "btrt"
peer_groups:
  - name:       "local peers"
    priority:   0
    cidr_file:  "{local}"
    cidr_list:
      -
  - name: "neighboring peers"
    priority: 1
    cidr_file: "{neighboring}"
    cidr_list:
      -
neighbors:
  - name: "the nearest retracker"
    refresh_interval: 1800
    peers_expiry_interval: 7200
    announce_request: "http://retracker.example.net/announce?info_hash={{info_hash}}&peer_id=0123456789012345678A&port=6882&downloaded=0&uploaded=0&left=4194304&event=started&compact=1&numwant=1000"
"""


def btrt(*args, timeout=30):
    return subprocess.run([str(BTRT), *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_command():
    r = btrt("help")
    assert r.returncode == 0
    for command in ("run", "check-config", "db init", "db upgrade", "hashlist", "version"):
        assert command in r.stdout


def test_version_names_the_libraries():
    r = btrt("version")
    assert r.returncode == 0
    assert r.stdout.startswith("btrt ")
    for lib in ("boost", "yaml-cpp", "spdlog", "c-ares"):
        assert lib in r.stdout


def test_bad_usage_exits_2():
    assert btrt().returncode == 2
    assert btrt("frobnicate").returncode == 2
    assert btrt("run", "--no-such-flag").returncode == 2


def test_seed_configuration_passes_check_config(tmp_path):
    local = tmp_path / "local_cidrs.conf"
    local.write_text("# our networks\n10.0.0.0/8\n192.168.0.0/16  # office\n\n2001:db8::/32\n")
    neighboring = tmp_path / "neighboring_cidrs.conf"
    neighboring.write_text("172.16.0.0/12\n")
    conf = tmp_path / "btrt.conf"
    conf.write_text(SEED_CONFIG.format(local=local, neighboring=neighboring))
    r = btrt("check-config", "-c", str(conf))
    assert (r.returncode, r.stdout.strip()) == (0, "OK"), r.stderr


def test_shipped_default_configuration_is_valid(tmp_path):
    text = (REPO / "etc" / "btrt.conf.default").read_text()
    for name in ("local_cidrs.conf", "neighboring_cidrs.conf"):
        text = text.replace(f"/etc/btrt/{name}", str(REPO / "etc" / name))
    conf = tmp_path / "btrt.conf"
    conf.write_text(text)
    r = btrt("check-config", "-c", str(conf))
    assert r.returncode == 0, r.stderr


def test_check_config_reports_every_error_with_file_and_line(tmp_path):
    cidrs = tmp_path / "bad_cidrs.conf"
    cidrs.write_text("10.0.0.0/8\nnot-a-network\n")
    conf = tmp_path / "btrt.conf"
    conf.write_text(
        "server:\n"
        "  lisen: [\"127.0.0.1:80\"]\n"
        "tracker:\n"
        "  numwant_max: lots\n"
        "peer_groups:\n"
        "  - name: \"local\"\n"
        "    priority: 0\n"
        f"    cidr_file: \"{cidrs}\"\n")
    r = btrt("check-config", "-c", str(conf))
    assert r.returncode == 2
    assert f"{conf}:2:" in r.stderr and "did you mean 'listen'" in r.stderr
    assert f"{conf}:4:" in r.stderr
    assert f"{cidrs}:2:" in r.stderr


def test_check_config_finds_tabs_and_missing_files(tmp_path):
    conf = tmp_path / "btrt.conf"
    conf.write_text("tracker:\n\tnumwant_max: 5\n")
    r = btrt("check-config", "-c", str(conf))
    assert r.returncode == 2 and f"{conf}:2:" in r.stderr and "tab" in r.stderr
    r = btrt("check-config", "-c", str(tmp_path / "missing.conf"))
    assert r.returncode == 2 and "missing.conf" in r.stderr


def test_run_refuses_an_invalid_configuration(tmp_path):
    conf = tmp_path / "btrt.conf"
    conf.write_text("tracker:\n  numwant_max: -3\n")
    r = btrt("run", "-c", str(conf))
    assert r.returncode == 2 and f"{conf}:2:" in r.stderr


@pytest.mark.parametrize("threads", [1, 2])
def test_run_fails_with_1_when_the_port_is_taken(make_tracker, threads):
    # With several threads every worker listens with SO_REUSEPORT, which would let a second
    # instance of the same user share the port and take half its traffic: refused as well.
    config = f"server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  threads: {threads}\n"
    first = make_tracker(config)
    second = make_tracker(config, start=False, port=first.port)
    second.start(expect_ready=False)
    assert second.proc.wait(timeout=15) == 1
    assert "cannot listen" in second.logs() + second.output()
    assert all(first.get("/health")[0] == 200 for _ in range(5))


def test_sigterm_stops_gracefully_with_exit_0(make_tracker):
    t = make_tracker()
    t.announce(info_hash(1), peer_id(1), 7001)
    assert t.stop() == 0
    assert "stopped" in t.logs()


def test_sigint_stops_too(make_tracker):
    t = make_tracker()
    t.signal(signal.SIGINT)
    assert t.proc.wait(timeout=15) == 0


def test_sighup_regroups_existing_peers_and_keeps_them(make_tracker):
    groups = """
peer_groups:
  - name: "local peers"
    priority: 0
    cidr_list: ["{local}"]
"""
    t = make_tracker(groups.format(local="127.1.0.0/16") + "tracker:\n  locality_cutoff: 0\n")
    ih = info_hash(40)
    t.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    t.announce(ih, peer_id(2), 7002, source="127.2.0.1")
    assert compact_peers(t.announce(ih, peer_id(9), 7009, source="127.3.0.9", numwant=1)) == [
        ("127.1.0.1", 7001)]

    text = t.config_path.read_text().replace("127.1.0.0/16", "127.2.0.0/16")
    t.config_path.write_text(text)
    t.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in t.logs(), timeout=10, what="the reload")
    assert compact_peers(t.announce(ih, peer_id(9), 7009, source="127.3.0.9", numwant=1)) == [
        ("127.2.0.1", 7002)]
    assert t.scrape(ih)[b"files"][ih][b"incomplete"] == 3  # no peer lost


def test_sighup_with_an_invalid_configuration_keeps_the_old_one(make_tracker):
    t = make_tracker()
    ih = info_hash(41)
    t.announce(ih, peer_id(1), 7001, source="127.1.0.1")
    good = t.config_path.read_text()
    t.config_path.write_text(good + "tracker:\n  bogus_key: 1\n")
    t.signal(signal.SIGHUP)
    wait_for(lambda: "reload rejected" in t.logs(), timeout=10, what="the rejection")
    assert "bogus_key" in t.logs()
    assert compact_peers(t.announce(ih, peer_id(2), 7002, source="127.3.0.1")) == [
        ("127.1.0.1", 7001)]


def test_logs_go_to_a_dated_file_and_switch_at_switch_time(make_tracker):
    # Switch a few seconds from now: the first file is named after the previous period's
    # day, the next after today.
    switch = datetime.datetime.now() + datetime.timedelta(seconds=3)
    t = make_tracker(f"logging:\n  path: \"%LOG%\"\n  level: \"info\"\n"
                     f"  switch_time: \"{switch:%H:%M:%S}\"\n")
    before = datetime.date.today() - datetime.timedelta(days=1)
    if switch.date() != datetime.date.today():
        pytest.skip("too close to midnight for a switch within the same day")
    assert (t.log_dir / f"btrt-{before:%Y-%m-%d}.log").exists()
    assert "starting" in (t.log_dir / f"btrt-{before:%Y-%m-%d}.log").read_text()
    wait_for(lambda: datetime.datetime.now() > switch, timeout=10, what="the switch time")
    t.signal(signal.SIGHUP)  # something to log after the switch
    today = t.log_dir / f"btrt-{datetime.date.today():%Y-%m-%d}.log"
    wait_for(lambda: today.exists() and "reloaded" in today.read_text(), timeout=10,
             what="a new log file after the switch")


def test_per_request_lines_only_at_debug(make_tracker):
    quiet = make_tracker("logging:\n  path: \"%LOG%\"\n  level: \"info\"\n")
    quiet.announce(info_hash(1), peer_id(1), 7001)
    loud = make_tracker()  # harness default level: debug
    loud.announce(info_hash(1), peer_id(1), 7001)
    wait_for(lambda: "/announce?" in loud.logs(), timeout=5, what="a request line at debug")
    quiet.stop()
    assert "/announce?" not in quiet.logs()
