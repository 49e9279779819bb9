"""Local webhook receivers on 127.0.0.1 for the tests: HTTP that answers a script of codes, and non-HTTP ones."""
from __future__ import annotations

import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """An HTTP receiver answering each POST with the next code of `codes` (the last one repeats)."""

    def __init__(self, codes: tuple[int, ...] = (200,), headers: dict | None = None, port: int = 0):
        self.calls: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = codes[min(len(outer.calls), len(codes) - 1)]
                outer.calls.append({"headers": dict(self.headers), "body": body, "code": code})
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)  # a given port: the same URL after a restart
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.calls

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RawReceiver:
    """A TCP service that is not HTTP: it sends `banner` (if any), then holds the connection until the peer
    closes it (or `hold_s` passes). Records when each connection opened and closed."""

    def __init__(self, banner: bytes = b"", hold_s: float = 60):
        self.opened: list[float] = []
        self.closed: list[float] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer.opened.append(time.monotonic())
                self.request.settimeout(hold_s)
                try:
                    if banner:
                        self.request.sendall(banner)
                    while self.request.recv(65536):
                        pass
                except OSError:
                    pass
                outer.closed.append(time.monotonic())

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """A URL on a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


class ImageServer:
    """An HTTP server on 127.0.0.1 serving images by link, and the ways a link can go wrong (GET only).

    /photo.jpg        `image` (JPEG bytes), with its Content-Length
    /r/N              a redirect chain: /r/N -> /r/N-1 -> ... -> /r/0 -> /photo.jpg
    /to?u=URL         a 302 to URL, whatever it is (another scheme, another host)
    /page.html        an HTML page
    /missing          404
    /broken           500
    /big              `big_bytes` of JPEG-looking bytes without Content-Length (closes at the end)
    /big-lying        the same bytes with a Content-Length of 1,000
    /big-declared     a Content-Length of `big_bytes` (nothing needs to be read)
    /trickle          a 200 with a Content-Length of 1,000, then one byte a second
    /trickle-head     the status line and headers one byte a second
    """

    def __init__(self, image: bytes, big_bytes: int = 2 * 1024 * 1024):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):  # noqa: N802
                from urllib.parse import parse_qs, urlsplit

                parts = urlsplit(self.path)
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})
                path = parts.path
                try:
                    if path == "/photo.jpg":
                        self._send(200, image, "image/jpeg")
                    elif path.startswith("/r/"):
                        n = int(path[3:])
                        self._redirect("/photo.jpg" if n <= 0 else f"/r/{n - 1}")
                    elif path == "/to":
                        self._redirect(parse_qs(parts.query)["u"][0])
                    elif path == "/page.html":
                        self._send(200, b"<!doctype html><title>a page</title><p>no image here", "text/html")
                    elif path == "/missing":
                        self._send(404, b"not found", "text/plain")
                    elif path == "/broken":
                        self._send(500, b"oops", "text/plain")
                    elif path in ("/big", "/big-lying"):
                        self.send_response(200)
                        self.send_header("Content-Type", "image/jpeg")
                        if path == "/big-lying":
                            self.send_header("Content-Length", "1000")
                        self.end_headers()
                        block = b"\xff\xd8\xff\xe0" + b"\0" * (64 * 1024 - 4)
                        for _ in range(big_bytes // len(block) + 1):
                            self.wfile.write(block)
                    elif path == "/big-declared":
                        self.send_response(200)
                        self.send_header("Content-Type", "image/jpeg")
                        self.send_header("Content-Length", str(big_bytes))
                        self.end_headers()
                    elif path == "/trickle":
                        self.send_response(200)
                        self.send_header("Content-Type", "image/jpeg")
                        self.send_header("Content-Length", "1000")
                        self.end_headers()
                        self.wfile.flush()
                        for _ in range(1000):
                            self.wfile.write(b"\xff")
                            self.wfile.flush()
                            time.sleep(1)
                    elif path == "/trickle-head":
                        for byte in b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nX-Padding: " + b"x" * 1000:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(1)
                    else:
                        self._send(404, b"unknown", "text/plain")
                except OSError:  # the client hung up (as it should, past its limits)
                    pass

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
