"""A BEP 15 (UDP tracker) client for the tests: the black-box tests (tests/integration) and
the end-to-end tests (tests/e2e), which read a UDP tracker's counts and answers with it.
Independent of btrt's own codec; every receive has a timeout."""
import socket
import struct

PROTOCOL_ID = 0x41727101980
NONE, COMPLETED, STARTED, STOPPED = 0, 1, 2, 3


def free_udp_port():
    """A port free for UDP on both 127.0.0.1 and [::1]."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s4:
            s4.bind(("127.0.0.1", 0))
            port = s4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6:
                    s6.bind(("::1", port))
                    return port
            except OSError:
                continue
    raise AssertionError("no free UDP port")


class Client:
    """One UDP socket bound to a loopback source address."""

    def __init__(self, tracker, source="127.0.0.1", timeout=2.0):
        v6 = ":" in source
        self.sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.server = ("::1" if v6 else "127.0.0.1", tracker.udp_port)
        self.tid = 0
        self.cid = None

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendto(data, self.server)

    def receive(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None

    def connect(self):
        self.tid += 1
        self.send(struct.pack(">QII", PROTOCOL_ID, 0, self.tid))
        answer = self.receive()
        assert answer is not None and len(answer) == 16, answer
        action, tid, self.cid = struct.unpack(">IIQ", answer)
        assert (action, tid) == (0, self.tid)
        return self.cid

    def announce_packet(self, ih, pid, port, event=NONE, left=100, numwant=-1, ip=0, cid=None,
                        options=b""):
        self.tid += 1
        return struct.pack(">QII20s20sQQQIIIiH", self.cid if cid is None else cid, 1, self.tid,
                           ih, pid, 0, left, 0, event, ip, 0x1234, numwant, port) + options

    def announce(self, ih, pid, port, **kwargs):
        """(interval, leechers, seeders, [(ip, port)])"""
        if self.cid is None:
            self.connect()
        self.send(self.announce_packet(ih, pid, port, **kwargs))
        answer = self.receive()
        assert answer is not None, "no answer to an announce"
        action, tid, interval, leechers, seeders = struct.unpack(">IIIII", answer[:20])
        assert (action, tid) == (1, self.tid), answer
        raw = answer[20:]
        size = 18 if self.server[0] == "::1" else 6
        assert len(raw) % size == 0
        peers = []
        for i in range(0, len(raw), size):
            family = socket.AF_INET6 if size == 18 else socket.AF_INET
            peers.append((socket.inet_ntop(family, raw[i:i + size - 2]),
                          int.from_bytes(raw[i + size - 2:i + size], "big")))
        return interval, leechers, seeders, peers

    def scrape(self, *hashes):
        if self.cid is None:
            self.connect()
        self.tid += 1
        self.send(struct.pack(">QII", self.cid, 2, self.tid) + b"".join(hashes))
        answer = self.receive()
        assert answer is not None and len(answer) == 8 + 12 * len(hashes), answer
        assert struct.unpack(">II", answer[:8]) == (2, self.tid)
        return [struct.unpack(">III", answer[8 + 12 * i:20 + 12 * i]) for i in range(len(hashes))]
