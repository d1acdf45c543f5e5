"""A small BEP 15 (UDP tracker) client: what the end-to-end tests use to look at a UDP
tracker's view of a swarm (scrape counts, the peers it hands out) over the same protocol the
clients used. Independent of the tracker's own codec; every receive has a timeout."""
import random
import socket
import struct

PROTOCOL_ID = 0x41727101980
CONNECT, ANNOUNCE, SCRAPE, ERROR = 0, 1, 2, 3
EVENTS = {"none": 0, "completed": 1, "started": 2, "stopped": 3}


def free_udp_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class TrackerError(Exception):
    pass


class Client:
    """One UDP socket bound to `source`, talking to the tracker at host:port."""

    def __init__(self, host, port, source="127.0.0.1", timeout=2.0):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.connection_id = None

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _exchange(self, packet_of, action):
        """Sends packet_of(transaction_id) and returns the payload of the matching answer
        (after action and transaction id); answers to other transactions are skipped."""
        tid = random.getrandbits(32)
        self.sock.sendto(packet_of(tid), self.addr)
        for _ in range(16):  # stray answers of earlier, timed-out exchanges
            data, _ = self.sock.recvfrom(65536)
            if len(data) < 8:
                continue
            got_action, got_tid = struct.unpack(">II", data[:8])
            if got_tid != tid:
                continue
            if got_action == ERROR:
                raise TrackerError(data[8:].decode(errors="replace"))
            assert got_action == action, (got_action, action)
            return data[8:]
        raise AssertionError("no answer with our transaction id")

    def connect(self):
        body = self._exchange(lambda tid: struct.pack(">QII", PROTOCOL_ID, CONNECT, tid),
                              CONNECT)
        (self.connection_id,) = struct.unpack(">Q", body[:8])
        return self.connection_id

    def announce(self, info_hash, peer_id, port, left, event="none", numwant=-1,
                 uploaded=0, downloaded=0, key=0):
        """(interval, leechers, seeders, [(ip, port)]) of an IPv4 announce."""
        if self.connection_id is None:
            self.connect()
        body = self._exchange(lambda tid: struct.pack(">QII", self.connection_id, ANNOUNCE, tid)
                              + info_hash + peer_id
                              + struct.pack(">QQQIIIiH", downloaded, left, uploaded,
                                            EVENTS[event], 0, key, numwant, port),
                              ANNOUNCE)
        interval, leechers, seeders = struct.unpack(">III", body[:12])
        peers = [(socket.inet_ntoa(body[i:i + 4]),
                  struct.unpack(">H", body[i + 4:i + 6])[0]) for i in range(12, len(body), 6)]
        return interval, leechers, seeders, peers

    def scrape(self, *info_hashes):
        """[(seeders, completed, leechers)] in the order of info_hashes."""
        if self.connection_id is None:
            self.connect()
        body = self._exchange(lambda tid: struct.pack(">QII", self.connection_id, SCRAPE, tid)
                              + b"".join(info_hashes), SCRAPE)
        return [struct.unpack(">III", body[i:i + 12]) for i in range(0, len(body), 12)]
