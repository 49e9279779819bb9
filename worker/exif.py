"""One persistent exiftool process per worker process, with a time limit per file."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from exiftool import ExifTool

from worker.errors import AnalysisError

log = logging.getLogger(__name__)
MAX_VALUE_CHARS = 20_000
# Tags that describe our server's copy of the file, not the uploaded image.
SERVER_TAGS = {"SourceFile", "File:FileName", "File:Directory", "File:FilePermissions", "File:FileModifyDate",
               "File:FileAccessDate", "File:FileInodeChangeDate"}


class ExifReader:
    """Reads metadata as `exiftool -j -G` would print it; kills and restarts a hung exiftool."""

    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout
        self._et: ExifTool | None = None
        self._timed_out = False

    def _ensure_running(self) -> ExifTool:
        if self._et is None or not self._et.running:
            self._et = ExifTool(common_args=["-G", "-j"])
            self._et.run()
        return self._et

    def _kill(self) -> None:
        self._timed_out = True
        proc = getattr(self._et, "_process", None)
        if proc is not None:
            proc.kill()

    def read(self, path: Path) -> dict[str, Any]:
        """All tags of one file, keyed 'Group:Tag'; server-side file tags removed, huge values cut."""
        et = self._ensure_running()
        self._timed_out = False
        timer = threading.Timer(self.timeout, self._kill)
        timer.start()
        try:
            raw = et.execute(str(path))
        except Exception as exc:
            self.close()
            if self._timed_out:
                raise AnalysisError(f"metadata extraction took longer than {self.timeout:g} s") from None
            raise AnalysisError(f"metadata extraction failed ({exc.__class__.__name__})") from None
        finally:
            timer.cancel()
        try:
            records = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError:
            records = []
        tags = records[0] if records else {}
        return {k: _cap(v) for k, v in tags.items() if k not in SERVER_TAGS}

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
