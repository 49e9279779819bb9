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
