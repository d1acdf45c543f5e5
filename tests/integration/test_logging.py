"""Log files (docs/operations.md, "Logs"): a file that cannot be opened at the daily switch, and keep_days."""
import datetime
import shutil
import signal

import pytest

from btrt_harness import info_hash, peer_id, wait_for


def switch_soon(seconds=3):
    switch = datetime.datetime.now() + datetime.timedelta(seconds=seconds)
    if switch.date() != datetime.date.today():
        pytest.skip("too close to midnight for a switch within the same day")
    return switch


def day_name(day):
    return f"btrt-{day:%Y-%m-%d}.log"


def test_a_log_file_that_cannot_be_opened_at_the_switch_never_stops_btrt(make_tracker):
    switch = switch_soon()
    t = make_tracker(f"logging:\n  path: \"%LOG%\"\n  level: \"debug\"\n"
                     f"  switch_time: \"{switch:%H:%M:%S}\"\n")
    # The file of the new period cannot be opened (as root no permission stops a write; a
    # directory in its place does).
    blocker = t.log_dir / day_name(datetime.date.today())
    blocker.mkdir()
    wait_for(lambda: datetime.datetime.now() > switch, timeout=10, what="the switch time")
    for n in range(20):  # each announce logs a line at debug
        t.announce(info_hash(1), peer_id(n), 7000 + n, source="127.1.0.1")
    assert t.proc.poll() is None
    out = t.output()
    assert "cannot open the log file" in out, out
    assert "port=7019" in out, "the lines go to stderr meanwhile"
    # Once the file can be opened again, it is used again.
    shutil.rmtree(blocker)
    n = 100

    def logging_again():
        nonlocal n
        n += 1
        t.announce(info_hash(1), peer_id(n), 7000 + n, source="127.1.0.1")
        return blocker.is_file() and f"port={7000 + n}" in blocker.read_text()

    wait_for(logging_again, timeout=30, interval=0.2, what="the log file to be used again")
    assert t.stop() == 0


def test_a_log_directory_replaced_by_a_file_never_stops_btrt(make_tracker, tmp_path):
    switch = switch_soon()
    logs = tmp_path / "logs"
    t = make_tracker(f"logging:\n  path: \"{logs}\"\n  level: \"debug\"\n"
                     f"  switch_time: \"{switch:%H:%M:%S}\"\n")
    shutil.rmtree(logs)
    logs.write_text("not a directory\n")
    wait_for(lambda: datetime.datetime.now() > switch, timeout=10, what="the switch time")
    for n in range(20):
        t.announce(info_hash(2), peer_id(n), 7000 + n, source="127.1.0.1")
    assert "cannot open the log file" in t.output()
    assert t.stop() == 0


def test_keep_days_deletes_old_dated_files_at_start_and_at_the_switch(make_tracker, tmp_path):
    switch = switch_soon()
    logs = tmp_path / "logs"
    logs.mkdir()
    period = datetime.date.today() - datetime.timedelta(days=1)  # the day the current file has
    old = logs / day_name(period - datetime.timedelta(days=10))
    edge = logs / day_name(period - datetime.timedelta(days=3))  # goes at the switch
    recent = logs / day_name(period - datetime.timedelta(days=1))
    foreign = [logs / "notes.log", logs / "btrt-2001-01-01.log.gz", logs / "btrt-2001-01-01.log.1",
               logs / "btrt-20010101.log"]
    for f in [old, edge, recent, *foreign]:
        f.write_text("x\n")
    (logs / "btrt-2001-01-02.log").mkdir()  # not a file: left alone
    t = make_tracker(f"logging:\n  path: \"{logs}\"\n  level: \"info\"\n"
                     f"  switch_time: \"{switch:%H:%M:%S}\"\n  keep_days: 3\n")
    assert not old.exists(), "older than keep_days at start"
    assert edge.exists() and recent.exists()
    wait_for(lambda: datetime.datetime.now() > switch, timeout=10, what="the switch time")
    t.signal(signal.SIGHUP)  # something to log after the switch
    wait_for(lambda: not edge.exists(), timeout=10, what="the switch to delete the oldest file")
    assert recent.exists()
    assert all(f.exists() for f in foreign)
    assert (logs / "btrt-2001-01-02.log").is_dir()
    assert (logs / day_name(period)).exists()
    assert t.stop() == 0


def test_keep_days_zero_keeps_every_file(make_tracker, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    ancient = logs / "btrt-2001-01-01.log"
    ancient.write_text("x\n")
    t = make_tracker(f"logging:\n  path: \"{logs}\"\n  level: \"info\"\n  keep_days: 0\n")
    assert ancient.exists()
    assert t.stop() == 0
    assert ancient.exists()
