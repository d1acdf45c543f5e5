"""Starts the real btrt binary with a generated configuration and talks HTTP to it.

Every wait here is bounded; every process started is stopped by its PID.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BTRT = Path(os.environ.get("BTRT_BIN", REPO / "build" / "src" / "btrt"))


def sanitized_build():
    """True when btrt links a sanitizer runtime (the ASan+UBSan and TSan builds)."""
    out = subprocess.run(["readelf", "-d", str(BTRT)], capture_output=True, text=True,
                         timeout=30).stdout
    return any(lib in out for lib in ("libasan", "libubsan", "libtsan"))


# --- bencode (test-side decoder, independent of the tracker's) -------------------------
def bdecode(data: bytes):
    value, end = _decode(data, 0)
    assert end == len(data), f"trailing bytes after bencoded value: {data[end:]!r}"
    return value


def _decode(data, i):
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        i += 1
        out = []
        while data[i:i + 1] != b"e":
            v, i = _decode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while data[i:i + 1] != b"e":
            k, i = _decode(data, i)
            v, i = _decode(data, i)
            out[k] = v
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


# --- helpers ------------------------------------------------------------------------------
def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def info_hash(n: int) -> bytes:
    return n.to_bytes(4, "big") * 5


def peer_id(n: int) -> bytes:
    return b"-TT0001-" + n.to_bytes(12, "big")


def quote(b: bytes) -> str:
    return urllib.parse.quote_from_bytes(b, safe="")


def announce_query(ih: bytes, pid: bytes, port: int, **params) -> str:
    q = {"info_hash": quote(ih), "peer_id": quote(pid), "port": str(port), "uploaded": "0",
         "downloaded": "0", "left": "100"}
    q.update({k: str(v) for k, v in params.items() if v is not None})
    return "&".join(f"{k}={v}" for k, v in q.items())


def raw_request(host, port, data: bytes, source=None, timeout=5.0):
    """Sends raw bytes, reads until the server closes or the full response has arrived."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        s.sendall(data)
        return read_response(s)


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    if b"\r\n\r\n" not in buf:
        return None, {}, buf
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


# The peer groups most tests use: 127.1/16 is local, 127.2/16 a partner, the rest `other`.
GROUPS = """
peer_groups:
  - name: "local peers"
    priority: 0
    cidr_list: ["127.1.0.0/16"]
  - name: "partner peers"
    priority: 1
    cidr_list: ["127.2.0.0/16"]
"""


class ResponseReader:
    """Reads responses one after another from a socket (pipelining: one recv may hold several)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def next(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(lines[0].split()[1]), headers, body


def describe_threads(pid):
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        fields = []
        for name in ("comm", "wchan", "syscall"):
            try:
                fields.append((task / name).read_text(errors="replace").strip())
            except OSError:
                fields.append("?")
        lines.append(f"  {task.name}: " + " | ".join(fields))
    return "\n".join(lines)


class Tracker:
    """One btrt process on loopback with a configuration written for the test."""

    def __init__(self, workdir: Path, config_text: str = "", port=None, extra_listen=()):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.listen = [f"127.0.0.1:{self.port}", *extra_listen]
        self.log_dir = self.workdir / "log"
        self.config_path = self.workdir / "btrt.conf"
        self.write_config(config_text)
        self.proc = None

    def write_config(self, body: str):
        listen = ", ".join(f'"{a}"' for a in self.listen)
        text = body.replace("%PORT%", str(self.port)).replace("%LOG%", str(self.log_dir))
        if "server:" not in body:
            text = (f"server:\n  listen: [{listen}]\n  threads: 2\n"
                    f"  trusted_sources: [\"127.0.0.1/32\"]\n") + text
        if "logging:" not in body:
            text += f"logging:\n  path: \"{self.log_dir}\"\n  level: \"debug\"\n"
        if "database:" not in body:
            text += f"database:\n  url: \"sqlite://{self.workdir / 'btrt.db'}\"\n"
        self.config_path.write_text(text)

    def start(self, expect_ready=True):
        self.stderr = open(self.workdir / "stderr.txt", "wb")
        self.proc = subprocess.Popen([str(BTRT), "run", "-c", str(self.config_path)],
                                     stdout=self.stderr, stderr=subprocess.STDOUT)
        if expect_ready:
            wait_for(self._healthy, timeout=15, what="btrt to answer /health")
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"btrt exited with {self.proc.returncode}: {self.output()}")
        try:
            status, _, _ = self.get("/health", timeout=1)
            return status == 200
        except OSError:
            return False

    def output(self):
        self.stderr.flush()
        return (self.workdir / "stderr.txt").read_text(errors="replace")

    def logs(self):
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # Where each thread waits, read before the kill: a hung stop is rare and must be
                # diagnosable from the test report alone.
                threads = describe_threads(self.proc.pid)
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError(f"btrt did not stop within {timeout}s of SIGTERM\n"
                                     f"threads (name, kernel wait, syscall):\n{threads}\n"
                                     f"log tail:\n{self.logs()[-4000:]}")
        return self.proc.returncode if self.proc else None

    # HTTP ---------------------------------------------------------------------------------
    def get(self, target, source=None, headers=None, host="127.0.0.1", timeout=5, port=None):
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        req = (f"GET {target} HTTP/1.1\r\nHost: retracker.local\r\n{extra}"
               f"Connection: close\r\n\r\n").encode("latin-1")
        return raw_request(host, port or self.port, req, source=source, timeout=timeout)

    def announce(self, ih, pid, port, source=None, headers=None, host="127.0.0.1", **params):
        status, _, body = self.get("/announce?" + announce_query(ih, pid, port, **params),
                                   source=source, headers=headers, host=host)
        assert status == 200, (status, body)
        return bdecode(body)

    def scrape(self, *hashes, source=None):
        q = "&".join("info_hash=" + quote(h) for h in hashes)
        status, _, body = self.get("/scrape?" + q, source=source)
        assert status == 200
        return bdecode(body)


def compact_peers(answer):
    """[(ip, port)] from a compact `peers` string, in answer order."""
    raw = answer.get(b"peers", b"")
    return [(socket.inet_ntoa(raw[i:i + 4]), int.from_bytes(raw[i + 4:i + 6], "big"))
            for i in range(0, len(raw), 6)]


def compact_peers6(answer):
    raw = answer.get(b"peers6", b"")
    return [(socket.inet_ntop(socket.AF_INET6, raw[i:i + 16]),
             int.from_bytes(raw[i + 16:i + 18], "big")) for i in range(0, len(raw), 18)]


# A fixture (imported by the conftest files of tests/integration and tests/e2e): btrt
# processes stopped after the test.
@pytest.fixture
def make_tracker(tmp_path):
    started = []

    def make(config_text=GROUPS, start=True, **kwargs):
        t = Tracker(tmp_path / f"btrt{len(started)}", config_text, **kwargs)
        started.append(t)
        if start:
            t.start()
        return t

    yield make
    for t in started:
        t.stop()
    # A sanitizer build reports on stderr; a report fails the test that provoked it.
    for t in started:
        if t.proc is None:
            continue
        out = t.output()
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                       "ERROR: LeakSanitizer"):
            assert marker not in out, out[out.index(marker) - 200:][:6000]
