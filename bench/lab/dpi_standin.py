"""A stand-in for a provider's DPI, run on the lab's router: the router's nftables rules
redirect subscribers' TCP connections to the origin tracker's port here; each HTTP request is
handed to btrt as an explicit forwarded announce (docs/dpi-integration.md, shape 1), with the
subscriber's address in X-Forwarded-For, and btrt's answer goes back to the subscriber.

usage: dpi_standin.py LISTEN_IP LISTEN_PORT BTRT_IP BTRT_PORT"""
import http.client
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        original = f"http://{self.headers.get('Host', '')}{self.path}"
        target = "/forwarded_announce?url=" + urllib.parse.quote(original, safe="")
        try:
            conn = http.client.HTTPConnection(BTRT[0], BTRT[1], timeout=10)
            conn.request("GET", target, headers={"X-Forwarded-For": self.client_address[0]})
            r = conn.getresponse()
            status, body = r.status, r.read()
            conn.close()
        except OSError as e:
            status, body = 502, f"btrt unreachable: {e}".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))


if __name__ == "__main__":
    BTRT = (sys.argv[3], int(sys.argv[4]))
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
