"""Fetch an image from a link a user pasted: the web does it inside the request, bounded in every direction.

- **Addresses**: the first URL and every redirect hop are resolved once and checked by the rule webhooks use
  (shared/addresses.py; LINK_ALLOW_PRIVATE=true lifts it for local use). The connection goes to the checked
  address itself (no second lookup: DNS rebinding), with the URL's host in the Host header and, for https, as
  the TLS server name (SNI) and the name the certificate is checked against.
- **Redirects** are followed here, one hop at a time (at most LINK_MAX_REDIRECTS); a hop to a forbidden address,
  a non-http(s) scheme or a URL with credentials is refused with a message naming the hop.
- **Time**: LINK_CONNECT_TIMEOUT_S per connection attempt, and one deadline, LINK_FETCH_TIMEOUT_S, for the whole
  fetch: every redirect, the headers and the body. Each socket read waits at most until the deadline, the
  deadline is checked after every read (a server trickling a byte a second does not keep a read timeout from
  firing forever), and a watchdog shuts the socket at the deadline whatever it is doing (a TLS handshake).
- **Size**: the body is counted while it streams in and the fetch stops one byte past the limit (the upload
  limit, MAX_UPLOAD_MB), whatever Content-Length says or whether there is one; a Content-Length over the limit is
  refused before reading. `Accept-Encoding: identity` is asked; a server that compresses anyway (gzip, deflate)
  is decompressed only up to the same limit, other encodings are refused.
- **Concurrency**: at most LINK_MAX_CONCURRENT fetches at once per web process (`slot`); the next gets a 503
  with Retry-After.

The request is plain HTTP/1.1 written on the socket (GET, Connection: close), read with these bounds; urllib3
and http.client read the status line and headers with no total deadline, which a slow server can stretch to hours.

No Flask here: `fetch` returns the bytes in a temporary file, and web/analyses/services.py hands them to the same
store() and submit() as an upload. Errors are LinkError with the HTTP status to answer and a message for people:
400 a bad or forbidden URL (any hop), 413 too large, 422 a link that leads to no image (a name that does not
resolve, the remote's 4xx, too many redirects), 502 a remote that fails (refused connection, TLS, not HTTP,
5xx, a cut-short body), 504 a remote too slow (the connect timeout or the deadline), 503 too many fetches at once.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import socket
import ssl
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote, unquote, urljoin, urlsplit

from shared import addresses
from shared.settings import Settings

REDIRECTS = (301, 302, 303, 307, 308)
MAX_HEADER_BYTES = 64 * 1024
CHUNK = 64 * 1024
USER_AGENT = "deepfake-detect-link/1"
log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^\x21-\x7e]")  # what may not stand in a request line: spaces, controls, non-ASCII


class LinkError(Exception):
    """A link that cannot be fetched: the HTTP status to answer with and a message for people."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass
class Fetched:
    """What a link gave: the body (a temporary file at its start; close it), and where it came from."""

    body: BinaryIO
    size: int
    url: str  # as submitted
    final_url: str  # after redirects
    address: str  # the IP address the body came from
    content_type: str
    filename: str  # for display: the final URL's last path segment


def show(url: str, limit: int = 200) -> str:
    """A URL quoted for a message, cut short."""
    return repr(url if len(url) <= limit else url[:limit] + "…")


# --- concurrency: a few fetches at once per process ---

_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


@contextmanager
def slot(settings: Settings) -> Iterator[None]:
    """Hold one of the process's LINK_MAX_CONCURRENT fetch slots, or LinkError 503 when all are taken."""
    limit = settings.link_max_concurrent
    with _slots_lock:
        semaphore = _slots.setdefault(limit, threading.BoundedSemaphore(limit))
    if not semaphore.acquire(blocking=False):
        raise LinkError(503, f"{limit} links are being fetched already on this server (LINK_MAX_CONCURRENT); "
                             "try again in a few seconds", retry_after=5)
    try:
        yield
    finally:
        semaphore.release()


# --- the address rule, per hop ---

def check_hop(url: str, allow_private: bool, hop: int = 0) -> addresses.Target:
    """Resolve and check one URL of the chain (hop 0: the one submitted, then each redirect's target)."""
    try:
        return addresses.resolve(url, allow_private, addresses.LINKS)
    except addresses.Unresolvable as exc:
        raise LinkError(422, _on_hop(hop, url, str(exc))) from None
    except addresses.Refused as exc:
        raise LinkError(400, _on_hop(hop, url, str(exc))) from None


def _check_within(url: str, allow_private: bool, hop: int, clock: "_Clock") -> addresses.Target:
    """check_hop, its name lookup bounded by the deadline too (the resolver has no timeout of its own to give)."""
    answer: dict = {}

    def run() -> None:
        try:
            answer["target"] = check_hop(url, allow_private, hop)
        except LinkError as exc:
            answer["error"] = exc

    lookup = threading.Thread(target=run, daemon=True, name="link-resolve")
    lookup.start()
    lookup.join(clock.left())
    if lookup.is_alive():  # it ends on its own when the resolver gives up; nothing waits for it
        raise LinkError(504, f"the host of {show(url)} did not resolve within the {clock.seconds:g} s of "
                             "LINK_FETCH_TIMEOUT_S")
    if "error" in answer:
        raise answer["error"]
    return answer["target"]


def _on_hop(hop: int, url: str, message: str) -> str:
    if hop == 0:
        return message
    return f"the link redirected (hop {hop}) to {show(url)}, which is refused: {message}"


# --- one connection, read against the deadline ---

class _Clock:
    """The fetch's one deadline, and a watchdog that shuts the current socket when it passes."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.sock: socket.socket | None = None
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def left(self) -> float:
        """Seconds left, or LinkError 504 when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired:
            raise self.too_slow()
        return left

    def too_slow(self) -> LinkError:
        return LinkError(504, f"the link took longer than {self.seconds:g} s to fetch (LINK_FETCH_TIMEOUT_S): "
                              "the server is too slow or sends the image too slowly")

    def stop(self) -> None:
        self._timer.cancel()


class _Conn:
    """A socket to one checked address, every read bounded by the clock."""

    def __init__(self, sock: socket.socket, clock: _Clock, where: str):
        self.sock, self.clock, self.where = sock, clock, where
        self.buffer = b""
        self.eof = False
        clock.sock = sock

    def recv(self) -> bytes:
        """The next bytes (b"" at the end), waiting at most until the deadline."""
        if self.buffer:
            data, self.buffer = self.buffer, b""
            return data
        if self.eof:
            return b""
        self.sock.settimeout(self.clock.left())
        try:
            data = self.sock.recv(CHUNK)
        except (socket.timeout, TimeoutError):
            raise self.clock.too_slow() from None
        except OSError as exc:
            if self.clock.expired:
                raise self.clock.too_slow() from None
            raise LinkError(502, f"the connection to {self.where} failed while reading ({_why(exc)})") from None
        if self.clock.expired:
            raise self.clock.too_slow()
        self.clock.left()  # a trickle of bytes still ends at the deadline
        if not data:
            self.eof = True
        return data

    def read_until(self, mark: bytes, limit: int, what: str) -> bytes:
        """Bytes up to and including `mark`, at most `limit` of them."""
        data = b""
        while True:
            at = data.find(mark)
            if at >= 0:
                self.buffer = data[at + len(mark):] + self.buffer
                return data[:at + len(mark)]
            if len(data) > limit:
                raise LinkError(502, f"{self.where} sent {what} longer than {limit:,} bytes")
            chunk = self.recv()
            if not chunk:
                raise LinkError(502, f"{self.where} closed the connection in the middle of {what}")
            data += chunk

    def close(self) -> None:
        self.clock.sock = None
        try:
            self.sock.close()
        except OSError:
            pass


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:120]


def _connect(target: addresses.Target, clock: _Clock, settings: Settings) -> tuple[_Conn, str]:
    """A connection to the first of the checked addresses that answers (as browsers do), TLS for https."""
    where = f"{target.host!r}"
    failures = []
    for ip in target.ips:
        timeout = min(settings.link_connect_timeout_s, clock.left())
        try:
            sock = socket.create_connection((ip, target.port), timeout=timeout)
        except (socket.timeout, TimeoutError):
            if clock.expired or clock.deadline - time.monotonic() <= 0:
                raise clock.too_slow() from None
            raise LinkError(504, f"could not connect to {where} ({ip}, port {target.port}) within {timeout:g} s "
                                 "(LINK_CONNECT_TIMEOUT_S)") from None
        except OSError as exc:
            failures.append(f"{ip}: {_why(exc)}")
            continue
        clock.sock = sock
        if target.scheme == "https":
            context = ssl.create_default_context()
            try:
                sock.settimeout(clock.left())
                sock = context.wrap_socket(sock, server_hostname=target.host)
            except (socket.timeout, TimeoutError):  # its reads waited until the deadline
                sock.close()
                raise clock.too_slow() from None
            except ssl.SSLCertVerificationError as exc:
                sock.close()
                raise LinkError(502, f"the TLS certificate of {where} is not valid: "
                                     f"{exc.verify_message or _why(exc)}") from None
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                if clock.expired:
                    raise clock.too_slow() from None
                raise LinkError(502, f"the TLS handshake with {where} failed ({_why(exc)})") from None
        return _Conn(sock, clock, where), ip
    raise LinkError(502, f"could not connect to {where} port {target.port}: " + "; ".join(failures)[:300])


@dataclass
class _Head:
    status: int
    reason: str
    headers: dict[str, str]  # names in lower case; repeated headers joined with ", "


def _request_line_path(path: str) -> str:
    return _UNSAFE.sub(lambda m: quote(m.group(), safe=""), path)


def _ascii(target: addresses.Target) -> addresses.Target:
    """The target with its host as the ASCII (IDNA) name that goes in the Host header and the TLS server name."""
    try:
        host = target.host.encode("idna").decode("ascii") if not target.host.isascii() else target.host
    except UnicodeError:
        raise LinkError(400, f"url host {target.host!r} is not a valid host name") from None
    return dataclasses.replace(target, host=host)


def _send(conn: _Conn, target: addresses.Target) -> None:
    request = (f"GET {_request_line_path(target.path)} HTTP/1.1\r\nHost: {target.host_header}\r\n"
               f"User-Agent: {USER_AGENT}\r\nAccept: image/*, */*;q=0.5\r\nAccept-Encoding: identity\r\n"
               "Connection: close\r\n\r\n")
    conn.sock.settimeout(conn.clock.left())
    try:
        conn.sock.sendall(request.encode("ascii", "replace"))
    except (socket.timeout, TimeoutError):
        raise conn.clock.too_slow() from None
    except OSError as exc:
        raise LinkError(502, f"the connection to {conn.where} failed while sending the request ({_why(exc)})") \
            from None


def _head(conn: _Conn) -> _Head:
    """The status line and headers (interim 1xx answers skipped)."""
    while True:
        raw = conn.read_until(b"\r\n\r\n", MAX_HEADER_BYTES, "its response headers")
        lines = raw.decode("latin-1").split("\r\n")
        match = re.fullmatch(r"HTTP/1\.[01] (\d{3})(?: (.*))?", lines[0])
        if not match:
            raise LinkError(502, f"{conn.where} did not answer HTTP (its first line: {lines[0][:60]!r})")
        status = int(match.group(1))
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise LinkError(502, f"{conn.where} sent a malformed header line")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if 100 <= status < 200 and status != 101:
            continue
        return _Head(status, match.group(2) or "", headers)


def _too_large(max_bytes: int) -> LinkError:
    return LinkError(413, f"the image at the link is larger than the {max_bytes // (1024 * 1024)} MB limit "
                          "(MAX_UPLOAD_MB); the download was stopped there")


class _Sink:
    """Where the body goes: a temporary file, counted (and decompressed, when the server insisted) to the limit."""

    def __init__(self, max_bytes: int, encoding: str):
        self.max_bytes = max_bytes
        self.file = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        self.size = 0
        self.raw = 0
        self.inflate = zlib.decompressobj(wbits=47) if encoding in ("gzip", "x-gzip", "deflate") else None

    def write(self, data: bytes) -> None:
        self.raw += len(data)
        if self.inflate is None:
            self._keep(data)
            return
        try:
            while data:
                out = self.inflate.decompress(data, self.max_bytes + 1 - self.size)
                self._keep(out)
                data = self.inflate.unconsumed_tail
        except zlib.error:
            raise LinkError(502, "the server's compressed body could not be decompressed") from None

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        self.file.write(data)

    def close(self) -> None:
        self.file.close()


def _body(conn: _Conn, head: _Head, sink: _Sink) -> None:
    """Read the body into the sink: chunked, or to the end of the connection (Connection: close was asked).

    Content-Length is checked against what came, never trusted as the bound: a body larger than it says is
    refused, one cut short too.
    """
    length = head.headers.get("content-length")
    declared = int(length) if length and length.isdigit() else None
    if declared is not None and declared > sink.max_bytes and "chunked" not in head.headers.get("transfer-encoding", ""):
        raise LinkError(413, f"the image at the link is {declared:,} bytes (its Content-Length), larger than the "
                             f"{sink.max_bytes // (1024 * 1024)} MB limit (MAX_UPLOAD_MB)")
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        _chunked(conn, sink)
        return
    while chunk := conn.recv():
        sink.write(chunk)
    if declared is not None and sink.raw != declared:
        if sink.raw < declared:
            raise LinkError(502, f"{conn.where} closed the connection after {sink.raw:,} of the {declared:,} bytes "
                                 "its Content-Length announced")
        raise LinkError(502, f"{conn.where} sent {sink.raw:,} bytes, more than the {declared:,} of its "
                             "Content-Length")


def _chunked(conn: _Conn, sink: _Sink) -> None:
    while True:
        line = conn.read_until(b"\r\n", 1024, "a chunk header").split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise LinkError(502, f"{conn.where} sent a malformed chunked body") from None
        if size == 0:
            return  # trailers, if any, are not needed
        if sink.size + size > sink.max_bytes and sink.inflate is None:
            raise _too_large(sink.max_bytes)
        left = size
        while left > 0:
            data = conn.recv()
            if not data:
                raise LinkError(502, f"{conn.where} closed the connection in the middle of the body")
            part, rest = data[:left], data[left:]
            if rest:
                conn.buffer = rest + conn.buffer
            sink.write(part)
            left -= len(part)
        conn.read_until(b"\r\n", 2, "a chunk's end")


def _filename(url: str) -> str:
    parts = urlsplit(url)
    name = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return name or parts.hostname or "link"


def _remote_status(head: _Head, url: str, hop: int) -> LinkError:
    said = f"{head.status} {head.reason}".strip()
    where = show(url) if hop == 0 else f"{show(url)} (after {hop} redirect{'s' if hop > 1 else ''})"
    if 400 <= head.status < 500:
        return LinkError(422, f"the link {where} answered HTTP {said}: there is no image to fetch there")
    if head.status >= 500:
        return LinkError(502, f"the server of the link {where} failed: HTTP {said}")
    return LinkError(502, f"the link {where} answered HTTP {said}, not an image (200)")


def fetch(url: str, settings: Settings, max_bytes: int | None = None) -> Fetched:
    """Fetch the link with every check above; LinkError when it cannot be had (never another exception: a
    remote that makes this code fail in a way not foreseen is a 502 for the user, logged for us)."""
    try:
        return _fetch(url, settings, max_bytes)
    except LinkError:
        raise
    except Exception as exc:  # noqa: BLE001
        log.exception("fetching the link %r failed unexpectedly", url[:200])
        raise LinkError(502, f"the link {show(url)} could not be fetched ({type(exc).__name__})") from None


def _fetch(url: str, settings: Settings, max_bytes: int | None) -> Fetched:
    max_bytes = settings.max_upload_bytes if max_bytes is None else max_bytes
    url = url.strip()
    clock = _Clock(settings.link_fetch_timeout_s)
    current = url
    try:
        for hop in range(settings.link_max_redirects + 1):
            target = _ascii(_check_within(current, settings.link_allow_private, hop, clock))
            conn, ip = _connect(target, clock, settings)
            try:
                _send(conn, target)
                head = _head(conn)
                if head.status in REDIRECTS:
                    location = head.headers.get("location", "").strip()
                    if not location:
                        raise LinkError(502, f"the link {show(current)} answered HTTP {head.status} (a redirect) "
                                             "without saying where to (no Location header)")
                    current = urljoin(current, location)
                    continue
                if head.status != 200:
                    raise _remote_status(head, current, hop)
                encoding = head.headers.get("content-encoding", "identity").strip().lower()
                if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
                    raise LinkError(502, f"the server sent the image encoded as {encoding[:40]!r}, though "
                                         "'Accept-Encoding: identity' was asked; only identity, gzip and deflate "
                                         "are read")
                sink = _Sink(max_bytes, encoding)
                try:
                    _body(conn, head, sink)
                except BaseException:
                    sink.close()
                    raise
                sink.file.seek(0)
                return Fetched(sink.file, sink.size, url, current, ip,
                               head.headers.get("content-type", "")[:100], _filename(current))
            finally:
                conn.close()
        raise LinkError(422, f"the link redirects more than {settings.link_max_redirects} times "
                             f"(LINK_MAX_REDIRECTS); the last redirect went to {show(current)}")
    finally:
        clock.stop()
