"""One persistent exiftool process per worker process, with a time limit per file."""
from __future__ import annotations

import json
import logging
import signal
import threading
import warnings
from pathlib import Path
from typing import Any

from exiftool import ExifTool

from worker.errors import AnalysisError

log = logging.getLogger(__name__)
MAX_VALUE_CHARS = 20_000
# Tags that describe our server's copy of the file, not the uploaded image.
SERVER_TAGS = {"SourceFile", "File:FileName", "File:Directory", "File:FilePermissions", "File:FileModifyDate",
               "File:FileAccessDate", "File:FileInodeChangeDate"}


class _Timeout(Exception):
    pass


def _on_alarm(_signum, _frame):  # noqa: ANN001
    raise _Timeout


class ExifReader:
    """Reads metadata as `exiftool -j -G` would print it; kills and restarts a hung exiftool."""

    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout
        self._et: ExifTool | None = None

    def _ensure_running(self) -> ExifTool:
        if self._et is None or not self._et.running:
            self._et = ExifTool(common_args=["-G", "-j"])
            self._et.run()
        return self._et

    def read(self, path: Path) -> dict[str, Any]:
        """All tags of one file, keyed 'Group:Tag'; server-side file tags removed, huge values cut."""
        et = self._ensure_running()
        # pyexiftool blocks in select() with no timeout; SIGALRM interrupts it (main thread only,
        # which is where Celery's prefork children and the CLI run tasks).
        guarded = threading.current_thread() is threading.main_thread()
        if guarded:
            previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            raw = et.execute(str(path))
        except _Timeout:
            self._kill()
            raise AnalysisError(f"metadata extraction took longer than {self.timeout:g} s") from None
        except Exception as exc:
            self._kill()
            raise AnalysisError(f"metadata extraction failed ({exc.__class__.__name__})") from None
        finally:
            if guarded:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        try:
            records = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError:
            records = []
        tags = records[0] if records else {}
        return {k: _cap(v) for k, v in tags.items() if k not in SERVER_TAGS}

    def _kill(self) -> None:
        """Kill exiftool mid-conversation; the next read starts a fresh one."""
        et, self._et = self._et, None
        proc = getattr(et, "_process", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if et is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                et.running  # noqa: B018 - lets pyexiftool notice the death and reset its state

    def close(self) -> None:
        et, self._et = self._et, None
        if et is not None:
            try:
                et.terminate(timeout=5)
            except Exception:  # already dead
                log.debug("exiftool did not terminate cleanly", exc_info=True)


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
