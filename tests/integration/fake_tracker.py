"""A tracker the tests control: a real HTTP server on loopback that records every request
and answers what the test says (peers, delay, garbage, failure reason, hang)."""
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(value)


def compact(peers):
    return b"".join(socket.inet_aton(ip) + port.to_bytes(2, "big") for ip, port in peers)


class FakeTracker:
    def __init__(self, host="127.0.0.1"):
        self.requests = []  # (monotonic time, path with query, headers)
        self.peers = []     # [(ip, port)] answered in compact form
        self.mode = "peers"  # peers | garbage | failure | hang | reset | oversize
        self.extra = {}      # more keys for the answer (interval, peers6, warning message...)
        self.answer_for = None  # callable(path) -> more keys for this request's answer, or None
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with tracker.lock:
                    tracker.requests.append((time.monotonic(), self.path, dict(self.headers)))
                    tracker.in_flight += 1
                    tracker.max_in_flight = max(tracker.max_in_flight, tracker.in_flight)
                try:
                    if tracker.mode == "hang":
                        time.sleep(30)
                        return
                    if tracker.delay:
                        time.sleep(tracker.delay)
                    if tracker.mode == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        self.close_connection = True
                        return
                    if tracker.mode == "garbage":
                        body = b"<html>this is not bencode</html>"
                    elif tracker.mode == "failure":
                        body = bencode({"failure reason": "go away"})
                    else:
                        answer = {"interval": 1800, "complete": 0, "incomplete": len(tracker.peers),
                                  "peers": compact(tracker.peers)}
                        answer.update(tracker.extra)
                        if tracker.answer_for:
                            answer.update(tracker.answer_for(self.path) or {})
                        if tracker.mode == "oversize":
                            answer["padding"] = b"x" * (1 << 20)
                        body = bencode(answer)
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with tracker.lock:
                        tracker.in_flight -= 1

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def url(self, path="/announce"):
        return f"http://127.0.0.1:{self.port}{path}"

    def hashes_asked(self):
        with self.lock:
            out = []
            for _, path, _ in self.requests:
                query = urllib.parse.urlsplit(path).query
                for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True,
                                                         encoding="latin-1"):
                    if key == "info_hash":
                        out.append(value.encode("latin-1"))
            return out

    def paths(self):
        with self.lock:
            return [path for _, path, _ in self.requests]

    def headers(self, i=-1):
        with self.lock:
            return self.requests[i][2]

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
