"""End to end with the command-line clients: aria2c and transmission-cli download a generated
payload through btrt, announcing over HTTP or over UDP (BEP 15); the torrent names only the
one tracker URL, and libtorrent sessions seed. cli_clients.py says which flags each client
needs and why."""
import pytest

import cli_clients
import lt_swarm
from trackers import assert_announced_over
from btrt_harness import wait_for

DEADLINE = 60  # s for a client to finish its download


def wait_counts(tr, ih, want, what, timeout=20):
    """Waits until tr.counts(ih) (complete, incomplete, downloaded) starts with `want`."""
    last = []

    def reached():
        last[:] = [tr.counts(ih)]
        return last[0][:len(want)] == want
    try:
        wait_for(reached, timeout=timeout, interval=0.2, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}: counts {want} expected, {last[0]} last") from None


def swarm(trackers, proto, payload, tmp_path, name):
    src, file_name, digest = payload
    tr = trackers(proto)
    torrent = tmp_path / f"{name}.torrent"
    ti = lt_swarm.make_torrent(src, file_name, [tr.url], torrent)
    ih = ti.info_hash().to_bytes()
    tr.start(ih)
    return tr, torrent, ih


@pytest.mark.parametrize("proto", ["http", "udp"])
def test_aria2c_downloads_through_btrt(trackers, proto, payload, clients, procs, tmp_path):
    src, name, digest = payload
    tr, torrent, ih = swarm(trackers, proto, payload, tmp_path, "aria2")
    clients("127.1.0.1", torrent, src, seed=True)
    clients("127.3.0.1", torrent, src, seed=True)
    wait_counts(tr, ih, (2, 0), "the seeders to register")

    out = tmp_path / "aria2-out"
    client = procs(cli_clients.aria2c("127.1.0.21", torrent, out, tmp_path / "aria2",
                                      udp=proto == "udp"))
    # aria2c exits by itself once the download is complete (--seed-time=0).
    assert client.wait(DEADLINE) == 0, client.log()[-4000:]
    # With PEX and LPD off (and over UDP a DHT that knows no node), the tracker's answer
    # was aria2c's only source of peers.
    assert lt_swarm.sha256_file(out / name) == digest
    # aria2c announced "stopped" at the end: the tracker dropped it again.
    wait_counts(tr, ih, (2, 0), "aria2c to leave")
    assert_announced_over(tr, proto, 2 + 2)  # the seeders' started, aria2c's started, stopped
    if proto == "udp":
        debug_log = (tmp_path / "aria2" / "aria2.debug.log").read_text(errors="replace")
        assert f"UDPT received ANNOUNCE reply from 127.0.0.1:{tr.udp_port}" in debug_log
        # The DHT that aria2c needs for UDP trackers knew no node to the end: the routing
        # table it saved on exit lists none (aria2's format: node count at bytes 48-51).
        table = (tmp_path / "aria2" / "dht.dat").read_bytes()
        assert table[:2] == b"\xa1\xa2" and int.from_bytes(table[48:52], "big") == 0


@pytest.mark.parametrize("proto", ["http", "udp"])
def test_transmission_downloads_through_btrt(trackers, proto, payload, clients, procs,
                                             tmp_path):
    src, name, digest = payload
    tr, torrent, ih = swarm(trackers, proto, payload, tmp_path, "transmission")
    seeder = clients("127.1.0.1", torrent, src, seed=True)
    wait_counts(tr, ih, (1, 0), "the seeder to register")

    ip, out = "127.1.0.31", tmp_path / "transmission-out"
    client = procs(cli_clients.transmission(ip, torrent, out, tmp_path / "transmission"))
    # The tracker counts transmission-cli as a leecher, at its own address and peer port.
    wait_counts(tr, ih, (1, 1), "transmission-cli to register as a leecher")
    assert (ip, client.peer_port) in tr.peers(ih, "127.1.9.9")
    # Transmission 3.00 does not dial 127/8 peers; the seeder, handed transmission-cli's
    # address by the tracker on its next announce, dials it.
    seeder.reannounce()
    # transmission-cli announces "completed" and seeds on.
    try:
        wait_counts(tr, ih, (2, 0, 1), "transmission-cli to complete", timeout=DEADLINE)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{client.log()[-4000:]}") from None
    client.interrupt()
    assert client.wait(20) == 0, client.log()[-4000:]
    assert lt_swarm.sha256_file(out / name) == digest, "transmission-cli's payload differs"
    if proto == "udp":
        # On its way out transmission-cli announced "stopped". (Over HTTP transmission-cli
        # 3.00 exits without sending it: it stays a seeder until btrt's peer expiry.)
        wait_counts(tr, ih, (1, 0, 1), "transmission-cli to leave")
    # the seeder's started and its re-announce, transmission-cli's started and completed
    assert_announced_over(tr, proto, 4)
