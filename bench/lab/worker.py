"""Hosts the libtorrent sessions of one lab namespace (started by bench/lab/lab.py with
`ip netns exec <namespace>`, so that its sockets and /etc/hosts are the namespace's).

JSON lines on stdin, one answer line each on stdout:
  {"op": "add", "name", "ip", "torrent", "save", "seed", "upload_limit"}
  {"op": "status"}   -> per client: seeding, progress, peers, trackers that answered
  {"op": "results"}  -> per client: bytes received per peer address (all / over connections
                        the peer opened), seconds from start to finish, SHA-256 of the file
  {"op": "close"}    -> closes every session and exits
Between commands every client is polled every 0.1 s (per-connection byte counters are lost
when a connection closes between two samples)."""
import json
import select
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
import lt_swarm  # noqa: E402


def main():
    clients = {}
    out = sys.stdout
    deadline = time.monotonic() + 3600  # a lost parent never leaves a worker behind for long
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin], [], [], 0.1)
        for c in clients.values():
            c.poll()
        if not ready:
            continue
        line = sys.stdin.readline()
        if not line:
            break
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "add":
            c = lt_swarm.Client(cmd["ip"], lt_swarm.free_port_on(cmd["ip"]), cmd["torrent"],
                                cmd["save"], seed=cmd["seed"],
                                upload_limit=cmd.get("upload_limit", 0))
            clients[cmd["name"]] = c
            answer = {"ok": True, "port": c.port}
        elif op == "status":
            answer = {}
            for name, c in clients.items():
                s = c.status()
                answer[name] = {"seeding": s.is_seeding, "progress": s.progress,
                                "peers": s.num_peers, "trackers": sorted(c.tracker_replies)}
        elif op == "results":
            answer = {}
            for name, c in clients.items():
                done = c.finished_at - c.started_at if c.finished_at else None
                digest = None if c.seed or not done else lt_swarm.sha256_file(c.file_path())
                answer[name] = {"ip": c.ip, "seed": c.seed, "seconds": done, "sha256": digest,
                                "received": c.received, "incoming": c.received_incoming,
                                "alerts": c.alerts[-5:]}
        elif op == "close":
            for c in clients.values():
                c.close()
            clients.clear()
            out.write(json.dumps({"ok": True}) + "\n")
            out.flush()
            return
        else:
            answer = {"error": f"unknown op {op}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
