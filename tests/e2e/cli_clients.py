"""The command-line BitTorrent clients of the end-to-end tests, each bound to its own 127.x
address with DHT, PEX and local peer discovery kept from finding peers, so that every peer
comes from the tracker named in the torrent:

- aria2c (Debian's aria2) exits by itself once the download is complete (--seed-time=0);
- transmission-cli (Debian's transmission-cli 3.00) seeds until SIGINT, then announces
  `stopped` and exits. (Pausing itself at a seed ratio limit of 0 would make it exit before
  it has sent its `completed` or `stopped` announce.)

Each runs as a child process stopped by its PID; its output goes to a log file the tests
quote on failure.
"""
import json
import signal
import subprocess
from pathlib import Path

import lt_swarm


class Process:
    def __init__(self, name, args, log_path: Path):
        self.name, self.log_path = name, Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait(self, timeout):
        """The exit code; a client still running after `timeout` seconds fails the test."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout}s:\n"
                                 + self.log()[-4000:]) from None

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace").replace("\r", "\n")

    def interrupt(self):
        """SIGINT: both clients announce `stopped` and exit (transmission-cli ignores
        SIGTERM)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def stop(self, timeout=10):
        """SIGINT, then SIGKILL if that does not end it."""
        if self.proc.poll() is None:
            self.interrupt()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def aria2c(ip, torrent, out_dir: Path, workdir: Path, udp=False):
    """aria2c downloading `torrent` into out_dir.

    aria2 speaks to udp:// trackers only while its IPv4 DHT is on (the UDP tracker client
    shares the DHT's socket), so for a UDP tracker DHT is enabled with nothing to find peers
    from: a routing table file that does not exist yet (empty table), no --dht-entry-point, a
    torrent without `nodes`, and peers (libtorrent with DHT off) that never send a DHT port
    message. The DHT socket is bound to the client's own address like every other socket
    (--interface)."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["aria2c", f"--dir={out_dir}", "--seed-time=0",
            "--enable-dht6=false", "--enable-peer-exchange=false", "--bt-enable-lpd=false",
            "--disable-ipv6=true", f"--interface={ip}",
            f"--listen-port={lt_swarm.free_port_on(ip)}", "--summary-interval=0",
            "--console-log-level=warn", "--bt-stop-timeout=60",
            f"--log={workdir / 'aria2.debug.log'}", "--log-level=info"]
    if udp:
        args += ["--enable-dht=true", f"--dht-file-path={workdir / 'dht.dat'}",
                 f"--dht-listen-port={lt_swarm.free_port_on(ip, udp=True)}"]
    else:
        args += ["--enable-dht=false"]
    return Process("aria2c", args + [str(torrent)], workdir / "aria2.log")


def transmission(ip, torrent, out_dir: Path, workdir: Path):
    """transmission-cli downloading `torrent` into out_dir, with a config directory of its
    own. transmission-cli has no flags for DHT, PEX, LPD, uTP or the bind address, so they
    go into the settings.json of that directory. The same address serves its peer port,
    its HTTP announces (libcurl bound to it) and its UDP tracker socket.

    Transmission 3.00 drops every 127/8 peer a tracker hands it (a "martian" address), so
    on loopback it cannot dial the seeders; instead the seeders dial it once the tracker has
    handed its address to them."""
    config = workdir / "config"
    config.mkdir(parents=True, exist_ok=True)
    settings = {
        "bind-address-ipv4": ip, "bind-address-ipv6": "::1",
        "peer-port": lt_swarm.free_port_on(ip), "peer-port-random-on-start": False,
        "dht-enabled": False, "pex-enabled": False, "lpd-enabled": False,
        "utp-enabled": False, "port-forwarding-enabled": False, "blocklist-enabled": False,
        "rpc-enabled": False,
        "download-dir": str(out_dir), "incomplete-dir-enabled": False,
        "ratio-limit-enabled": False, "idle-seeding-limit-enabled": False,
        "message-level": 3,  # debug: announces and peer handshakes, for a failure's log
    }
    (config / "settings.json").write_text(json.dumps(settings, indent=1))
    p = Process("transmission-cli",
                ["transmission-cli", "--config-dir", str(config), "--download-dir",
                 str(out_dir), str(torrent)], workdir / "transmission.log")
    p.peer_port = settings["peer-port"]
    return p
