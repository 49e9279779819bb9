"""The object-storage backend of shared/storage.py: a bucket on S3 or any S3-compatible server, through boto3.

Keys mirror the local layout under an optional prefix: `<prefix>/ab/cd/<sha256>` and
`<prefix>/derived/ab/<sha256>/<name>`. Errors that a later attempt may not meet (the server is down, slow or
overloaded) become `storage.Unavailable`; the rest (no such bucket, bad keys) are configuration errors and pass.
"""
from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

from shared.settings import ObjectStore
from shared.storage import DERIVED_NAME, Incoming, Store, Unavailable, derived_dir, path_for

TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError", "503", "500"}
TYPES = {".png": "image/png", ".jpg": "image/jpeg"}


@contextmanager
def _answers() -> Iterator[None]:
    """Turn the object store being away into Unavailable."""
    try:
        yield
    except (BotoConnectionError, HTTPClientError) as exc:
        raise Unavailable(f"the object store did not answer ({exc.__class__.__name__})") from exc
    except ClientError as exc:
        if _code(exc) in TRANSIENT_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise Unavailable(f"the object store is unavailable ({_code(exc)})") from exc
        raise


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in ("404", "NoSuchKey", "NotFound")


class S3Store(Store):
    """A bucket: web and workers anywhere share it; each machine keeps only short-lived local copies."""

    def __init__(self, where: ObjectStore, scratch: Path, client=None):  # noqa: ANN001 - a boto3 S3 client
        super().__init__(scratch)
        self.bucket = where.bucket
        self.prefix = f"{where.prefix}/" if where.prefix else ""
        # a server of one's own is addressed by path (http://host:port/bucket/key): its name resolves, the
        # bucket's subdomain of it usually does not. Retries: botocore's standard mode, a few quick attempts.
        config = Config(s3={"addressing_style": "path" if where.endpoint_url else "auto"}, connect_timeout=5,
                        read_timeout=60, retries={"mode": "standard", "max_attempts": 3})
        self.client = client or boto3.client("s3", endpoint_url=where.endpoint_url, region_name=where.region,
                                             config=config)

    def _key(self, sha256: str) -> str:
        return self.prefix + path_for(Path(), sha256).as_posix()

    def _derived_prefix(self, sha256: str) -> str:
        path_for(Path(), sha256)  # validates the digest
        return self.prefix + derived_dir(Path(), sha256).as_posix() + "/"

    def prepare(self) -> None:
        with _answers():
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if not _missing(exc) and _code(exc) != "NoSuchBucket":
                    raise
                self.client.create_bucket(Bucket=self.bucket)

    def check(self) -> None:
        with _answers():
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                raise Unavailable(f"the bucket {self.bucket} is not there ({_code(exc)})") from exc

    def _keep(self, item: Incoming) -> bool:
        if self.exists(item.sha256):
            return False
        with _answers():
            self.client.upload_file(str(item.path), self.bucket, self._key(item.sha256))  # multipart when large
        return True

    def exists(self, sha256: str) -> bool:
        with _answers():
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
            except ClientError as exc:
                if _missing(exc):
                    return False
                raise
        return True

    @contextmanager
    def fetch(self, shas: list[str]) -> Iterator[list[Path]]:
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch, prefix="fetch-") as tmp:
            paths = [Path(tmp) / sha for sha in shas]
            for sha, path in zip(shas, paths):
                if path.exists():  # the same file twice in one chunk
                    continue
                with _answers():
                    try:
                        self.client.download_file(self.bucket, self._key(sha), str(path))
                    except ClientError as exc:
                        if not _missing(exc):
                            raise
            yield paths

    @contextmanager
    def derived_writer(self, sha256: str) -> Iterator[Path]:
        prefix = self._derived_prefix(sha256)
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch, prefix="derived-") as tmp:
            yield Path(tmp)
            for path in sorted(Path(tmp).iterdir()):
                with _answers(), open(path, "rb") as fh:
                    self.client.put_object(Bucket=self.bucket, Key=prefix + path.name, Body=fh,
                                           ContentType=TYPES.get(path.suffix, "application/octet-stream"))

    def open_derived(self, sha256: str, name: str) -> BinaryIO | None:
        if not DERIVED_NAME.match(name):
            return None
        with _answers():
            try:  # small files (a thumbnail, a map): read whole, so the response never holds a connection open
                body = self.client.get_object(Bucket=self.bucket, Key=self._derived_prefix(sha256) + name)["Body"]
                return io.BytesIO(body.read())
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise

    def remove(self, sha256: str) -> None:
        with _answers():
            self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))
        self.remove_derived(sha256)

    def remove_derived(self, sha256: str) -> None:
        keys = [o["Key"] for o in self._list(self._derived_prefix(sha256))]
        with _answers():
            for i in range(0, len(keys), 1000):  # the most one request may delete
                self.client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})

    def derived_ages(self) -> dict[str, float]:
        ages: dict[str, float] = {}
        for obj in self._list(self.prefix + "derived/"):
            sha = obj["Key"][len(self.prefix):].split("/")[2]  # derived/ab/<sha256>/<name>
            ages[sha] = max(ages.get(sha, 0.0), obj["LastModified"].timestamp())
        return ages

    def _list(self, prefix: str) -> Iterator[dict]:
        with _answers():
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                yield from page.get("Contents", [])
