"""Upload files, folders or ZIPs as batches, show progress, and write the results to CSV or JSON Lines.

Each batch carries an Idempotency-Key derived from its files' contents, so running the same command
again after an interruption resumes the same batches instead of creating new ones.

`--url URL` (repeated) sends image links instead: each is one POST /api/v1/analyses {"url": ...}, fetched by the
server; its row has the link as its source, and a refused link is a row with status "refused" and the reason.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import requests

from shared import archive, spreadsheet
from shared.storage import sha256_file


def collect(paths: list[str]) -> list[Path]:
    """Files named, and every file under folders named (sorted, so the batches are stable)."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"deepfake-detect submit: no such file or folder: {name}")
    return found


def idempotency_key(files: list[Path], name: str | None) -> str:
    """Same files (content and name) and batch name → same key."""
    h = hashlib.sha256((name or "").encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + sha256_file(f).encode())
    return "submit-" + h.hexdigest()[:40]


def sources(part: list[Path]) -> list[tuple[str, str]]:
    """(the name the server shows, where it is here) of each item a batch of these files makes, in order: a file
    is its path, a file inside a ZIP is "archive.zip!inner/path" (the server keeps only its base name)."""
    out: list[tuple[str, str]] = []
    for path in part:
        with open(path, "rb") as fh:
            zipped = archive.is_zip(fh.read(4))
        if zipped:
            try:
                with zipfile.ZipFile(path) as z:
                    for info in z.infolist():
                        if not info.is_dir():  # as shared/archive.py lists them
                            inner = info.filename.replace("\\", "/")
                            out.append((inner.rsplit("/", 1)[-1] or inner, f"{path}!{inner}"))
                continue
            except zipfile.BadZipFile:
                pass  # refused by the server as one item
        out.append((path.name, str(path)))
    return out


def with_sources(records: list[dict], expected: list[tuple[str, str]]) -> list[dict]:
    """Each result record with its `source` first: the next expected item of the same name (the server lists a
    batch in submission order), else the next one."""
    left = list(expected)
    out = []
    for record in records:
        k = next((i for i, (name, _) in enumerate(left) if name == record.get("filename")), 0)
        out.append({"source": left.pop(k)[1] if left else None} | record)
    return out


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _rewind(files: list) -> None:
    """Seek every file of a requests `files=` list back to its start, so a retried upload sends the bytes again."""
    for _field, spec in files:
        handle = spec[1] if isinstance(spec, tuple) else spec
        if hasattr(handle, "seek"):
            handle.seek(0)


class Api:
    def __init__(self, server: str, key: str | None, timeout: float = 300):
        self.base = server.rstrip("/")
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"
        self.timeout = timeout

    def call(self, method: str, path: str, attempts: int = 5, retry_on: tuple[int, ...] = (429, 502, 503, 504),
             refusals: bool = False, **kw) -> requests.Response:
        """The answer; a 4xx/5xx stops the command with its message, unless `refusals` (then it is returned)."""
        for attempt in range(attempts):  # rate limits and brief outages: back off and try again
            _rewind(kw.get("files") or [])  # the previous attempt read the files to their end
            try:
                resp = self.session.request(method, self.base + path, timeout=self.timeout, **kw)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == attempts - 1:
                    raise SystemExit(f"deepfake-detect submit: cannot reach the server at {self.base} "
                                     f"({_why(exc)}): is it running, and is --server right?") from None
                time.sleep(0.5 * 2 ** attempt)  # a server starting up: 7.5 s in all before giving up
                continue
            if resp.status_code not in retry_on or attempt == attempts - 1:
                break
            time.sleep(float(resp.headers.get("Retry-After", 2 ** attempt)))
        if resp.status_code >= 400 and not refusals:
            try:
                message = resp.json().get("error", resp.text)
            except ValueError:
                message = resp.text[:200]
            raise SystemExit(f"deepfake-detect submit: {method} {path}: {resp.status_code} {message}")
        return resp


def _why(exc: requests.RequestException) -> str:
    """A connection failure in a few words, not urllib3's nested reprs."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    text = str(exc)
    for words in ("Connection refused", "Name or service not known", "No route to host", "Network is unreachable",
                  "nodename nor servname provided"):
        if words in text:
            return words.lower()
    return "the connection failed"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _progress(done: int, total: int, width: int = 30) -> None:
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} finished")
    sys.stderr.flush()


# the columns of a result row: the server's batch results (web/batches/export.py FIELDS), for a link's row too
RESULT_FIELDS = ["id", "filename", "sha256", "status", "verdict", "level", "fake_probability", "scored",
                 "metadata_score", "top_reasons", "model_version", "error", "reused_from", "reanalysis_of"]


def _message(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error", resp.text))
    except ValueError:
        return resp.text[:200]


def send_links(api: Api, urls: list[str]) -> list[tuple[str, dict]]:
    """POST each link (the server fetches it): (url, the accepted analysis or {"refused": reason}) in order.

    A refused link (a forbidden address, not an image, a remote that fails...) is a row with its reason, not the
    end of the command. The rate limit and a busy server (429, 503: Retry-After) are waited for; a remote's own
    failure (502, 504) is the link's answer, not asked again.
    """
    sent = []
    for url in urls:
        resp = api.call("POST", "/api/v1/analyses", json={"url": url}, retry_on=(429, 503), refusals=True)
        if resp.status_code >= 400:
            reason = f"{resp.status_code} {_message(resp)}"
            print(f"link {url}: refused: {reason}", file=sys.stderr)
            sent.append((url, {"refused": reason}))
        else:
            print(f"link {url}: analysis {resp.json()['id']}", file=sys.stderr)
            sent.append((url, resp.json()))
    return sent


def link_record(url: str, body: dict) -> dict:
    """A link's result row: the batch results' columns, with the link as its source."""
    if "refused" in body:
        return {"source": url} | dict.fromkeys(RESULT_FIELDS) | {"status": "refused", "error": body["refused"]}
    record = {k: body.get(k) for k in RESULT_FIELDS}
    record["top_reasons"] = "; ".join((body.get("reasons") or [])[:3])
    return {"source": url} | record


def submit(paths: list[str], server: str, key: str | None, out: str | None, name: str | None,
           batch_size: int = 100, poll_s: float = 1.0, urls: list[str] | None = None) -> int:
    """Upload, wait for every batch (and link), write results; returns the number of failed or refused ones."""
    api = Api(server, key)
    files = collect(paths)
    urls = list(urls or [])
    if not files and not urls:
        raise SystemExit("deepfake-detect submit: nothing to upload")
    links = send_links(api, urls)
    batches, expected = [], []
    for part in _chunks(files, batch_size):
        with ExitStack() as stack:
            upload = [("files", (p.name, stack.enter_context(open(p, "rb")))) for p in part]
            data = {"name": name} if name else {}
            resp = api.call("POST", "/api/v1/batches", files=upload, data=data,
                            headers={"Idempotency-Key": idempotency_key(part, name)})
        batches.append(resp.json())
        expected.append(sources(part))
        word = "resumed" if resp.status_code == 200 else "created"
        images = resp.json()["total"]
        inputs = f" from {_count(len(part), 'file')}" if images != len(part) else ""  # a ZIP holds many
        print(f"batch {resp.json()['id']} {word}: {_count(images, 'image')}{inputs}", file=sys.stderr)
    accepted = [(url, body) for url, body in links if "refused" not in body]
    total = sum(b["total"] for b in batches) + len({body["id"] for _, body in accepted})
    finals: dict[str, dict] = {}
    while True:
        states = [api.call("GET", f"/api/v1/batches/{b['id']}", params={"per_page": 1}).json() for b in batches]
        for _url, body in accepted:
            if body["id"] not in finals:
                now = api.call("GET", body["status_url"]).json()
                if now["status"] in ("done", "failed"):
                    finals[body["id"]] = now
        finished = sum(s["counts"]["done"] + s["counts"]["failed"] for s in states) + len(finals)
        _progress(finished, total)
        if all(s["status"] == "done" for s in states) and len(finals) == len({body["id"] for _, body in accepted}):
            break
        time.sleep(poll_s)
    sys.stderr.write("\n")
    fmt = "jsonl" if out and out.endswith((".jsonl", ".ndjson")) else "csv"
    target = open(out, "w", newline="") if out else sys.stdout
    try:
        writer = None
        for b, items in zip(batches, expected):
            text = api.call("GET", f"/api/v1/batches/{b['id']}/results", params={"format": fmt}).text
            if fmt == "jsonl":
                records = with_sources([json.loads(line) for line in text.splitlines() if line], items)
                target.writelines(json.dumps(r) + "\n" for r in records)
                continue
            reader = csv.DictReader(io.StringIO(text))  # the server's CSV, already safe for spreadsheets
            if writer is None:  # one header line in all
                writer = csv.DictWriter(target, fieldnames=["source", *(reader.fieldnames or [])],
                                        extrasaction="ignore")
                writer.writeheader()
            for r in with_sources(list(reader), items):
                writer.writerow(r | {"source": spreadsheet.safe(r["source"])})
        records = [link_record(url, finals.get(body.get("id"), body)) for url, body in links]
        if fmt == "jsonl":
            target.writelines(json.dumps(r) + "\n" for r in records)
        elif records:
            if writer is None:
                writer = csv.DictWriter(target, fieldnames=["source", *RESULT_FIELDS], extrasaction="ignore")
                writer.writeheader()
            for r in records:
                writer.writerow({k: spreadsheet.safe(v) for k, v in r.items()})
    finally:
        if out:
            target.close()
    failed = sum(s["counts"]["failed"] for s in states) + sum(1 for b in finals.values() if b["status"] == "failed")
    refused = len(links) - len(accepted)
    print(f"{total} analysed: {total - failed} done, {failed} failed" + (f", {refused} links refused" if refused
                                                                       else "")
          + (f"; results in {out}" if out else ""), file=sys.stderr)
    return failed + refused
