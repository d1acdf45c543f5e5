"""The localisation experiment (docs/locality.md): the same swarm of real libtorrent clients on
loopback, once against Debian's opentracker (no ranking) and once against btrt, and for each
leecher the bytes it received from each peer group. Run by bench/locality/run.sh.

Groups: 127.1/16 local, 127.2/16 partner, 127.3/16 external. Every client is bound to its own
address; DHT, LSD, UPnP, NAT-PMP and PEX are off, so every peer comes from the tracker. The
clients keep libtorrent's defaults for numwant (200) and connection limits; every client's
upload is limited (LOCALITY_UPLOAD_KIB, loopback included) so that where the bytes come from
follows which peers a client knows, not raw loopback speed.

Settings (environment):
  LOCALITY_COMPOSITIONS  "12+12 3+12"   local+external seeders per composition
  LOCALITY_LEECHERS      "4 2 2"        local, partner, external leechers
  LOCALITY_TRACKERS      "opentracker btrt btrt-cutoff3"  (btrt-cutoffN: tracker.locality_cutoff N)
  LOCALITY_MIB           16             payload size
  LOCALITY_UPLOAD_KIB    100            upload limit of every client, KiB/s
  LOCALITY_SEEDERS_REANNOUNCE "0 1"     0: the seeders announce once, before the leechers, so
                                        only leechers dial seeders; 1: the seeders announce
                                        again once the tracker knows every leecher, so that they
                                        learn (and dial) the leechers too, as in a long-lived
                                        swarm. Each value listed is one round of every run.
  LOCALITY_DEADLINE      300            s per run
Only 127.0.0.0/8 is used; the tracker processes started are stopped by their PIDs.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from btrt_harness import BTRT, GROUPS, Tracker, bdecode, free_port, quote  # noqa: E402
import lt_swarm  # noqa: E402

OPENTRACKER = "/usr/bin/opentracker"


def env(name, default):
    return os.environ.get(name, default)




class OpenTracker:
    def __init__(self, workdir: Path, info_hash_hex: str):
        workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(workdir, 0o755)  # it reads the whitelist after chroot and dropping to nobody
        (workdir / "whitelist.txt").write_text(info_hash_hex + "\n")
        os.chmod(workdir / "whitelist.txt", 0o644)
        self.port = free_port()
        self.log = open(workdir / "opentracker.out", "wb")
        # Debian builds opentracker with a whitelist (README.Debian).
        self.proc = subprocess.Popen([OPENTRACKER, "-i", "127.0.0.1", "-p", str(self.port),
                                      "-d", str(workdir), "-u", "nobody", "-w", "whitelist.txt"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"opentracker exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("opentracker did not listen within 15 s")
                time.sleep(0.1)

    def get(self, target):
        from btrt_harness import raw_request
        return raw_request("127.0.0.1", self.port,
                           f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                           .encode(), timeout=5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def scrape(tracker, ih):
    status, _, body = tracker.get("/scrape?info_hash=" + quote(ih))
    if status != 200:
        return 0, 0
    entry = bdecode(body).get(b"files", {}).get(ih, {})
    return entry.get(b"complete", 0), entry.get(b"incomplete", 0)


def wait_tracker(tracker, ih, complete, incomplete, timeout=60):
    deadline = time.monotonic() + timeout
    while scrape(tracker, ih) < (complete, incomplete):
        if time.monotonic() > deadline:
            raise RuntimeError(f"tracker did not register {complete} seeders and "
                               f"{incomplete} leechers: {scrape(tracker, ih)}")
        time.sleep(0.2)


def start_tracker(kind, workdir: Path, ih_hex):
    if kind == "opentracker":
        return OpenTracker(workdir, ih_hex)
    cutoff = ""
    if kind.startswith("btrt-cutoff"):
        cutoff = f"tracker:\n  locality_cutoff: {int(kind[len('btrt-cutoff'):])}\n"
    t = Tracker(workdir, "server:\n  listen: [\"127.0.0.1:%PORT%\"]\n  threads: 2\n"
                + cutoff + GROUPS + "logging:\n  path: \"%LOG%\"\n  level: \"info\"\n")
    return t.start()


def run_once(kind, n_local_seeders, n_ext_seeders, leecher_counts, payload, workdir: Path,
             upload, reannounce, deadline):
    src, name, _digest = payload
    ti_probe = lt_swarm.make_torrent(src, name, ["http://127.0.0.1:1/announce"],
                                     workdir / "probe.torrent")
    ih = ti_probe.info_hash().to_bytes()
    tracker = start_tracker(kind, workdir / kind, ih.hex())
    clients = []
    try:
        torrent = workdir / f"{kind}.torrent"
        lt_swarm.make_torrent(src, name, [f"http://127.0.0.1:{tracker.port}/announce"], torrent)

        def client(ip, seed):
            c = lt_swarm.Client(ip, lt_swarm.free_port_on(ip), torrent,
                                src if seed else workdir / kind / ip, seed=seed,
                                upload_limit=upload)
            clients.append(c)
            return c

        seeders = ([client(f"127.1.0.{i + 1}", True) for i in range(n_local_seeders)] +
                   [client(f"127.3.0.{i + 1}", True) for i in range(n_ext_seeders)])
        wait_tracker(tracker, ih, len(seeders), 0)
        n_loc, n_par, n_ext = leecher_counts
        leechers = ([client(f"127.1.1.{i + 1}", False) for i in range(n_loc)] +
                    [client(f"127.2.1.{i + 1}", False) for i in range(n_par)] +
                    [client(f"127.3.1.{i + 1}", False) for i in range(n_ext)])
        started = time.monotonic()
        for c in leechers:
            c.started_at = started
        if reannounce:
            # Once the tracker knows every leecher (or they are already done), the seeders
            # announce again and learn the leechers too.
            t_end = time.monotonic() + 30
            while time.monotonic() < t_end:
                for c in leechers:
                    c.poll()
                c_, i_ = scrape(tracker, ih)
                if c_ + i_ >= len(seeders) + len(leechers):
                    break
                time.sleep(0.1)
            for s in seeders:
                s.reannounce()
        lt_swarm.wait_all(leechers, lambda c: c.is_seeding(), deadline,
                          f"every leecher to finish ({kind})", every=0.1)
        rows = []
        for c in leechers:
            c.poll()
            by_group = c.bytes_by_group()
            counted = sum(by_group.values())
            rows.append({"ip": c.ip, "group": lt_swarm.group_of(c.ip), "bytes": by_group,
                         "incoming": c.bytes_by_group(incoming_only=True),
                         "counted": counted, "payload": c.status().total_payload_download,
                         "seconds": c.finished_at - started,
                         "ok": lt_swarm.sha256_file(c.file_path()) == payload[2]})
        return rows
    finally:
        for c in clients:
            c.close()
        tracker.stop()


def dialled_share(rows, group):
    """Share of local bytes over the connections `group`'s leechers opened themselves, i.e.
    to peers they learned of from the tracker."""
    mine = [r for r in rows if r["group"] == group]
    out = {}
    for r in mine:
        for g, v in r["bytes"].items():
            out[g] = out.get(g, 0) + v - r["incoming"].get(g, 0)
    total = sum(out.values())
    return out.get("local", 0) / total if total else float("nan")


def incoming_share(rows, group):
    """Of the non-local bytes of `group`'s leechers, the part over connections the sending
    peer opened (the leecher did not dial it: the peer learned of the leecher)."""
    mine = [r for r in rows if r["group"] == group]
    other = sum(r["counted"] - r["bytes"].get("local", 0) for r in mine)
    inc = sum(sum(v for g, v in r["incoming"].items() if g != "local") for r in mine)
    return inc / other if other else float("nan")


def share(rows, group, source="local"):
    mine = [r for r in rows if r["group"] == group]
    got = sum(r["bytes"].get(source, 0) for r in mine)
    total = sum(r["counted"] for r in mine)
    return got / total if total else float("nan")


def main():
    if not BTRT.exists():
        sys.exit(f"btrt binary not found at {BTRT}; build first or set BTRT_BIN")
    compositions = [tuple(int(x) for x in c.split("+"))
                    for c in env("LOCALITY_COMPOSITIONS", "12+12 3+12").split()]
    leecher_counts = tuple(int(x) for x in env("LOCALITY_LEECHERS", "4 2 2").split())
    trackers = env("LOCALITY_TRACKERS", "opentracker btrt btrt-cutoff3").split()
    mib = int(env("LOCALITY_MIB", "16"))
    upload = int(env("LOCALITY_UPLOAD_KIB", "100")) * 1024
    rounds = [v == "1" for v in env("LOCALITY_SEEDERS_REANNOUNCE", "0 1").split()]
    deadline = int(env("LOCALITY_DEADLINE", "300"))
    work = Path(tempfile.mkdtemp(prefix="btrt-locality-"))
    os.chmod(work, 0o755)
    payload_dir = work / "payload"
    digest = lt_swarm.make_payload(payload_dir, "payload.bin", mib * 1024 * 1024, seed=7)
    payload = (payload_dir, "payload.bin", digest)
    print(f"locality experiment: payload {mib} MiB, upload limit {upload // 1024} KiB/s per "
          f"client, leechers local/partner/external = {'/'.join(map(str, leecher_counts))}, "
          f"libtorrent "
          f"{lt_swarm.lt.__version__}, work dir {work}", flush=True)
    for reannounce in rounds:
        print(f"\n== seeders announce again once the leechers are known: "
              f"{'yes' if reannounce else 'no'} ==", flush=True)
        run_round(compositions, trackers, leecher_counts, payload,
                  work / ("reannounce" if reannounce else "once"), upload, reannounce, deadline)
    # Every leecher's copy of the payload is there: the work directory is large. It is kept
    # (for the trackers' logs) only when a run failed.
    shutil.rmtree(work, ignore_errors=True)


def run_round(compositions, trackers, leecher_counts, payload, work, upload, reannounce,
              deadline):
    results = []
    for n_loc, n_ext in compositions:
        for kind in trackers:
            wd = work / f"{n_loc}+{n_ext}"
            wd.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            rows = run_once(kind, n_loc, n_ext, leecher_counts, payload, wd, upload,
                            reannounce, deadline)
            results.append(((n_loc, n_ext), kind, rows))
            bad = [r["ip"] for r in rows if not r["ok"]]
            print(f"  {n_loc} local + {n_ext} external seeders, {kind}: "
                  f"{time.monotonic() - t0:.0f} s" + (f"  HASH MISMATCH {bad}" if bad else ""),
                  flush=True)
            for r in rows:
                by = r["bytes"]
                cov = r["counted"] / r["payload"] if r["payload"] else 0
                print(f"    {r['ip']:<11} {r['group']:<8} local {by.get('local', 0) / 2**20:5.1f}"
                      f" partner {by.get('partner', 0) / 2**20:5.1f} external "
                      f"{by.get('external', 0) / 2**20:5.1f} MiB (of it over connections the "
                      f"external peers opened: {r['incoming'].get('external', 0) / 2**20:4.1f})"
                      f"  {cov:.0%} of payload bytes attributed  {r['seconds']:.1f} s",
                      flush=True)

    print("\nShare of bytes from local peers (127.1/16) per leecher group; download times (s, "
          "mean / max); for the local leechers: of their non-local bytes the part over "
          "connections the sender opened (non-local in), and the local share over the "
          "connections they opened themselves (dialled local):")
    header = f"{'seeders (local+external)':<26}{'tracker':<15}{'local leechers':>16}" \
             f"{'partner leechers':>18}{'external leechers':>19}{'time local':>14}" \
             f"{'time all':>14}{'non-local in':>14}{'dialled local':>15}"
    print(header)
    for (n_loc, n_ext), kind, rows in results:
        def times(g=None):
            ts = [r["seconds"] for r in rows if g is None or r["group"] == g]
            return f"{sum(ts) / len(ts):.1f} / {max(ts):.1f}"
        print(f"{f'{n_loc} + {n_ext}':<26}{kind:<15}{share(rows, 'local'):>16.1%}"
              f"{share(rows, 'partner'):>18.1%}{share(rows, 'external'):>19.1%}"
              f"{times('local'):>14}{times():>14}{incoming_share(rows, 'local'):>14.0%}"
              f"{dialled_share(rows, 'local'):>15.1%}")
    if any(not r["ok"] for _, _, rows in results for r in rows):
        sys.exit("a leecher's file does not match the payload")
    return results


if __name__ == "__main__":
    main()
