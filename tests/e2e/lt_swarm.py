"""Real BitTorrent clients on loopback: libtorrent 2.0 sessions (Debian's python3-libtorrent),
each bound to its own 127.x address, with DHT, LSD, UPnP, NAT-PMP and PEX off so that every
peer comes from a tracker. Used by tests/e2e and by bench/locality.

Every wait is bounded by a deadline; nothing here sleeps where a condition can be polled.
"""
import hashlib
import os
import time
from pathlib import Path

import libtorrent as lt

PIECE = 16 * 1024


def group_of(ip: str) -> str:
    """The test networks: 127.1/16 local, 127.2/16 partner, 127.3/16 external."""
    if ip.startswith("127.1."):
        return "local"
    if ip.startswith("127.2."):
        return "partner"
    if ip.startswith("127.3."):
        return "external"
    return "other"


def make_payload(directory: Path, name: str, size: int, seed: int = 1) -> str:
    """A deterministic pseudo-random file; returns its SHA-256."""
    directory.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    block = hashlib.sha256(b"btrt-e2e-%d" % seed).digest()
    with open(directory / name, "wb") as f:
        left = size
        counter = 0
        while left > 0:
            chunk = b"".join(hashlib.sha256(block + (counter * 64 + i).to_bytes(8, "big")).digest()
                             for i in range(2048))[:left]  # 64 KiB per round
            counter += 1
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_torrent(directory: Path, name: str, trackers, out: Path, piece=PIECE):
    """A v1-only torrent (one announce per tracker, no hybrid double announce) of
    directory/name announcing to `trackers`; written to `out`. Returns the torrent_info."""
    fs = lt.file_storage()
    lt.add_files(fs, str(directory / name))
    ct = lt.create_torrent(fs, piece, lt.create_torrent.v1_only)
    for tier, url in enumerate(trackers):
        ct.add_tracker(url, tier)
    ct.set_creator("btrt e2e")
    lt.set_piece_hashes(ct, str(directory))
    data = lt.bencode(ct.generate())
    out.write_bytes(data)
    return lt.torrent_info(str(out))


class Client:
    """One libtorrent session bound to `ip`, with one torrent."""

    def __init__(self, ip, port, torrent_file, save_path, seed=False, upload_limit=0,
                 proxy=None, extra_settings=None):
        self.ip, self.port, self.seed = ip, port, seed
        self.save_path = Path(save_path)
        self.save_path.mkdir(parents=True, exist_ok=True)
        settings = {
            "listen_interfaces": f"{ip}:{port}",
            "outgoing_interfaces": ip,
            "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
            "enable_natpmp": False,
            "enable_incoming_utp": False, "enable_outgoing_utp": False,
            "allow_multiple_connections_per_ip": True,
            "ssrf_mitigation": False,
            "announce_to_all_trackers": True, "announce_to_all_tiers": True,
            "aio_threads": 1, "hashing_threads": 1,
            "min_reconnect_time": 1,
            "stop_tracker_timeout": 1,
            # libtorrent keeps UDP tracker connection IDs in one cache per process, keyed by
            # the tracker's address: the sessions of one test process, each on its own
            # address and port, would present each other's IDs, which a tracker ties to the
            # address and port it gave them to (BEP 15). Real clients are one per host; here
            # every announce connects first.
            "udp_tracker_token_expiry": 0,
            # keep finished connections open so that their byte counters can still be read
            "close_redundant_connections": False,
            "alert_mask": lt.alert_category.error | lt.alert_category.status
                          | lt.alert_category.tracker,
            "user_agent": "btrt-e2e/libtorrent",
        }
        if upload_limit:
            # Loopback peers are "local network" and exempt from limits unless this is off.
            settings["ignore_limits_on_local_network"] = False
            settings["upload_rate_limit"] = upload_limit
        if proxy:
            host, pport = proxy
            settings.update({"proxy_type": int(lt.proxy_type_t.http), "proxy_hostname": host,
                             "proxy_port": pport, "proxy_tracker_connections": True,
                             "proxy_peer_connections": False, "proxy_hostnames": True})
        settings.update(extra_settings or {})
        self.session = lt.session(settings, 0)  # 0: no default plugins (no ut_pex)
        f = lt.ip_filter()
        f.add_rule(ip, ip, 1)  # never dial itself when a tracker lists it to itself
        self.session.set_ip_filter(f)
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(str(torrent_file))
        atp.save_path = str(self.save_path)
        flags = atp.flags
        flags &= ~lt.torrent_flags.auto_managed
        flags &= ~lt.torrent_flags.paused
        flags |= lt.torrent_flags.disable_pex | lt.torrent_flags.disable_dht \
            | lt.torrent_flags.disable_lsd | lt.torrent_flags.apply_ip_filter
        if seed:
            flags |= lt.torrent_flags.seed_mode
        atp.flags = flags
        self.handle = self.session.add_torrent(atp)
        self.info = atp.ti
        # per-connection byte counters, accumulated across reconnects
        self._last = {}      # (ip, port) -> total_download of the live connection
        self.received = {}   # ip -> bytes received from that peer address
        self.received_incoming = {}  # the part of it over connections the peer opened
        self.finished_at = None
        self.started_at = time.monotonic()
        self.alerts = []
        self.tracker_replies = {}  # announce URL -> answers received

    # progress -------------------------------------------------------------------------
    def status(self):
        return self.handle.status()

    def is_seeding(self):
        return self.handle.status().is_seeding

    def poll(self):
        """Samples per-peer counters (call often: a closed connection's last bytes since
        the previous sample are lost) and notes the finish time."""
        live = {}
        for p in self.handle.get_peer_info():
            key = (p.ip[0], p.ip[1])
            live[key] = (p.total_download, bool(p.flags & lt.peer_info.outgoing_connection))
        for key, (total, outgoing) in live.items():
            prev = self._last.get(key, (0, outgoing))[0]
            delta = total - prev if total >= prev else total  # a new connection restarted at 0
            if delta:
                self.received[key[0]] = self.received.get(key[0], 0) + delta
                if not outgoing:
                    self.received_incoming[key[0]] = \
                        self.received_incoming.get(key[0], 0) + delta
        self._last = live
        for a in self.session.pop_alerts():
            if isinstance(a, lt.tracker_reply_alert):
                url = a.tracker_url()
                self.tracker_replies[url] = self.tracker_replies.get(url, 0) + 1
            self.alerts.append(f"{type(a).__name__}: {a.message()}")
            del self.alerts[:-200]
        if self.finished_at is None and not self.seed and self.handle.status().is_seeding:
            self.finished_at = time.monotonic()

    def bytes_by_group(self, incoming_only=False):
        out = {}
        for ip, n in (self.received_incoming if incoming_only else self.received).items():
            out[group_of(ip)] = out.get(group_of(ip), 0) + n
        return out

    def file_path(self):
        return self.save_path / self.info.files().file_path(0)

    def reannounce(self):
        self.handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)

    def close(self):
        try:
            self.session.remove_torrent(self.handle)
        except Exception:
            pass
        del self.handle
        del self.session


def wait_all(clients, condition, timeout, what, every=0.2, on_tick=None):
    """Polls every client until condition(client) holds for all; on_tick runs each round."""
    deadline = time.monotonic() + timeout
    while True:
        for c in clients:
            c.poll()
        if all(condition(c) for c in clients):
            return
        if time.monotonic() > deadline:
            details = "\n".join(
                f"  {c.ip}: state={c.status().state} progress={c.status().progress:.2f} "
                f"peers={c.status().num_peers} last alerts={c.alerts[-5:]}" for c in clients)
            raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{details}")
        if on_tick:
            on_tick()
        time.sleep(every)


def free_port_on(ip, udp=False):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def seeder_dir_ready(path: Path):
    return path.exists() and os.path.getsize(path) > 0
