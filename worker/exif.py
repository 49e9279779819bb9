"""One persistent exiftool process per worker process, with a time limit per file and its death seen at once."""
from __future__ import annotations

import json
import logging
import os
import secrets
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from worker.errors import AnalysisError

log = logging.getLogger(__name__)
MAX_VALUE_CHARS = 20_000
# Tags that describe our server's copy of the file, not the uploaded image.
SERVER_TAGS = {"SourceFile", "File:FileName", "File:Directory", "File:FilePermissions", "File:FileModifyDate",
               "File:FileAccessDate", "File:FileInodeChangeDate"}
COMMAND = ("-stay_open", "True", "-@", "-", "-common_args", "-G", "-j")


class _Died(Exception):
    """exiftool closed its output mid-answer: it died on the file (its last stderr line says why)."""


class _Timeout(Exception):
    pass


class ExifReader:
    """Reads metadata as `exiftool -j -G` would print it, through one exiftool kept open (`-stay_open`).

    Its stdout and stderr are read together against one deadline: a hung exiftool is killed at the time
    limit, one that dies (out of memory, a crash) is seen the moment its pipes close, and one that writes
    much to stderr is never blocked on a full pipe. Either way the next file gets a fresh exiftool.
    """

    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout
        self._proc: subprocess.Popen | None = None

    def _ensure_running(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(["exiftool", *COMMAND], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return self._proc

    def read(self, path: Path) -> dict[str, Any]:
        """All tags of one file, keyed 'Group:Tag'; server-side file tags removed, huge values cut."""
        try:
            raw = self._execute(self._ensure_running(), str(path))
        except _Timeout:
            self._kill()
            raise AnalysisError(f"metadata extraction took longer than {self.timeout:g} s") from None
        except _Died as exc:
            self._kill()
            raise AnalysisError(f"metadata extraction failed: exiftool died on this file ({exc})") from None
        except Exception as exc:
            self._kill()
            raise AnalysisError(f"metadata extraction failed ({exc.__class__.__name__})") from None
        try:
            records = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError:
            records = []
        tags = records[0] if records else {}
        return {k: _cap(v) for k, v in tags.items() if k not in SERVER_TAGS}

    def _execute(self, proc: subprocess.Popen, *args: str) -> str:
        """One -stay_open exchange: the answer on stdout up to `{readyN}`, stderr up to the echoed `postN`."""
        n = secrets.randbelow(900_000) + 100_000
        ready, post = f"{{ready{n}}}".encode(), f"post{n}".encode()
        try:
            proc.stdin.write(os.fsencode("\n".join([*args, "-echo4", f"post{n}", f"-execute{n}", ""])))
            proc.stdin.flush()
        except OSError:  # BrokenPipeError: it died before reading the file
            raise _Died(_last_line(_rest(proc.stderr.fileno()))) from None
        out, _ = _read_until(proc, ready, post, time.monotonic() + self.timeout)
        return out.rstrip()[:-len(ready)].decode("utf-8", "replace")

    def _kill(self) -> None:
        """Kill exiftool mid-conversation (or reap it once dead); the next read starts a fresh one."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                pipe.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.write(b"-stay_open\nFalse\n")
            proc.stdin.flush()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):  # already dead, or stuck
            log.debug("exiftool did not terminate cleanly", exc_info=True)
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()


def _read_until(proc: subprocess.Popen, ready: bytes, post: bytes, deadline: float) -> tuple[bytes, bytes]:
    """stdout until it ends with `ready` and stderr until it ends with `post`, both read as they come."""
    ends = {proc.stdout.fileno(): ready, proc.stderr.fileno(): post}
    got: dict[int, bytearray] = {fd: bytearray() for fd in ends}
    waiting = set(ends)
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        readable, _, _ = select.select(list(waiting), [], [], left)
        for fd in readable:
            chunk = os.read(fd, 65536)
            if not chunk:  # end of file: exiftool exited
                raise _Died(_last_line(bytes(got[proc.stderr.fileno()]) + _rest(proc.stderr.fileno())))
            got[fd] += chunk
            if got[fd][-len(ends[fd]) - 16:].rstrip().endswith(ends[fd]):  # the tail only: answers can be MBs
                waiting.discard(fd)
    return bytes(got[proc.stdout.fileno()]), bytes(got[proc.stderr.fileno()])


def _rest(fd: int) -> bytes:
    """What a dead process left in a pipe (bounded: its tail is all a reason needs)."""
    chunks = []
    while select.select([fd], [], [], 0.5)[0] and (chunk := os.read(fd, 65536)) and len(chunks) < 16:
        chunks.append(chunk)
    return b"".join(chunks)


def _last_line(stderr: bytes) -> str:
    """The reason exiftool gave last, short; or that it gave none."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no message"


def _cap(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + f"… (cut; {len(value):,} characters in all)"
    if isinstance(value, list):
        return [_cap(v) for v in value[:200]]
    if isinstance(value, dict):
        return {k: _cap(v) for k, v in list(value.items())[:200]}
    return value


def group(tags: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{'EXIF:Make': 'Canon'} → {'EXIF': {'Make': 'Canon'}}, families in a stable reading order."""
    order = ["File", "EXIF", "XMP", "IPTC", "ICC_Profile", "MakerNotes", "Composite"]
    groups: dict[str, dict[str, Any]] = {}
    for key, value in tags.items():
        fam, _, name = key.partition(":") if ":" in key else ("Other", "", key)
        groups.setdefault(fam, {})[name] = value
    ranked = sorted(groups, key=lambda g: (order.index(g) if g in order else len(order), g))
    return {g: groups[g] for g in ranked}
