"""A real S3-compatible server for the tests: Ceph's radosgw on a one-node cluster (scripts/s3-server.sh).

Started once per test session in a temporary folder on free ports, its OSD in memory (memstore), and torn
down with everything it started. Each test gets a bucket of its own (`bucket()`).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.live import ROOT, free_port

NEEDS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool")


class S3Server:
    """scripts/s3-server.sh as a child process group; `env` holds what a client needs."""

    def __init__(self, timeout: float = 90):
        missing = [b for b in NEEDS if shutil.which(b) is None]
        if missing:
            raise RuntimeError(f"the S3 tests need Ceph's radosgw ({', '.join(missing)} not found): "
                               "run scripts/setup.sh --test, which installs the Debian packages")
        self.dir = Path(tempfile.mkdtemp(prefix="s3-"))  # short: the daemons' admin sockets live under it
        self.port = free_port()
        env = dict(os.environ, S3_PORT=str(self.port), S3_MON_PORT=str(free_port()), S3_OBJECTSTORE="memstore")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.pop(name, None)  # generated keys: nothing here can touch a real account
        self.log = open(self.dir / "server.log", "wb")
        self.proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "s3-server.sh"), str(self.dir / "cluster")],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        ready, deadline = self.dir / "cluster" / "ready", time.monotonic() + timeout
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(keep=True)
                raise RuntimeError(f"radosgw did not start; its logs are in {self.dir}:\n{self.log_tail()}")
            time.sleep(0.1)
        self.env = dict(line.split("=", 1) for line in (self.dir / "cluster" / "s3.env").read_text().split())
        self.endpoint_url = self.env.pop("S3_ENDPOINT_URL")

    def client(self):  # noqa: ANN201 - a boto3 S3 client with this server's keys
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def bucket(self) -> str:
        """A new, empty bucket."""
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def url(self, bucket: str, prefix: str = "") -> str:
        """The STORAGE_URL of a bucket on this server."""
        return f"s3://{bucket}/{prefix}?endpoint_url={self.endpoint_url}&region=us-east-1"

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in the bucket under prefix."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def log_tail(self, chars: int = 3000) -> str:
        logs = [self.dir / "server.log", *sorted((self.dir / "cluster" / "log").glob("*.log"))]
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in logs if p.exists())

    def stop(self, keep: bool = False) -> None:
        """Kill the whole process group at once (memstore: nothing to flush), then remove its folder."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
