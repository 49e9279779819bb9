"""Real processes for end-to-end tests: a Celery worker and the web server, on this machine."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def service_env(overrides: dict) -> dict[str, str]:
    """The environment a worker or web process needs to share the test's database, uploads and queue."""
    env = dict(os.environ)
    env.update({
        "DATA_DIR": str(overrides["data_dir"]),
        "DATABASE_URL": overrides["database_url"],
        "UPLOAD_DIR": str(overrides["upload_dir"]),
        "REDIS_URL": overrides["redis_url"],
        "CELERY_QUEUE": overrides["queue"],
        "SECRET_KEY": overrides["secret_key"],
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    })
    # the app built on the same overrides reads the same names (isolated() gives every stack its own)
    env.update({var: overrides[key] for key, var in (("bulk_queue", "CELERY_BULK_QUEUE"),
                                                     ("maps_queue", "CELERY_MAPS_QUEUE")) if key in overrides})
    if overrides.get("storage_url"):  # object storage: the keys come with the caller's env (tests/s3server.py)
        env["STORAGE_URL"] = overrides["storage_url"]
    if "webhook_allow_private" in overrides:  # tests' receivers listen on 127.0.0.1
        env["WEBHOOK_ALLOW_PRIVATE"] = str(bool(overrides["webhook_allow_private"])).lower()
    if "link_allow_private" in overrides:  # tests' image servers listen on 127.0.0.1 too
        env["LINK_ALLOW_PRIVATE"] = str(bool(overrides["link_allow_private"])).lower()
    return env


class Worker:
    """`celery worker` as a child process; its log is kept for assertions and failure messages."""

    def __init__(self, overrides: dict, name: str = "w1", concurrency: int = 1, env: dict | None = None,
                 app: str = "worker.celery_app"):
        """app: the Celery app module (tests/slow_start.py: the same app on a machine that loads slowly)."""
        self._start([str(BIN / "celery"), "-A", app, "worker", "--loglevel=INFO", "--pool=prefork",
                     f"--concurrency={concurrency}", f"--hostname={name}-{os.getpid()}@%h", "--without-gossip",
                     "--without-mingle", "--without-heartbeat"], overrides, env)

    def _start(self, argv: list[str], overrides: dict, env: dict | None) -> None:
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=service_env(overrides) | (env or {}), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group, so kill9() takes the pool with it
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.log.append(line)

    def wait_ready(self, timeout: float = 180) -> "Worker":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "".join(self.log)
            if "worker process ready" in text:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("worker exited:\n" + text[-4000:])
            time.sleep(0.2)
        raise TimeoutError("worker not ready:\n" + "".join(self.log)[-4000:])

    def kill9(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a crashed host or OOM killer would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Fleet(Worker):
    """`python -m worker.fleet` as a child process; its log holds its own lines and its workers'."""

    def __init__(self, overrides: dict, env: dict | None = None):
        self._start([sys.executable, "-m", "worker.fleet"], overrides, env)

    def pools(self) -> dict[str, int]:
        """Each pool's name and its worker's pid, from the fleet's line for it."""
        lines = [line.split("] pool ", 1)[1] for line in self.log if "/fleet] pool " in line]
        return {line.split()[0]: int(line.split("(pid ", 1)[1].split(")")[0]) for line in lines}

    def wait_up(self, pools: int, processes: int = 0, timeout: float = 180) -> "Fleet":
        """Every pool's worker ready, and `processes` pool processes with their model loaded (0: preload off)."""
        wait_for(lambda: self._up(pools, processes), timeout, "fleet not up")
        return self

    def _up(self, pools: int, processes: int) -> bool:
        text = "".join(self.log)
        if self.proc.poll() is not None:
            raise RuntimeError(f"fleet exited ({self.proc.returncode}):\n" + text[-4000:])
        return text.count(" ready.\n") >= pools and text.count("worker process ready") >= processes

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it; anything still running after a minute is killed."""
        tree = process_tree(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        for pid in still_running(tree):
            os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """A process's children (the kernel's list, per thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # the thread or the process ended
            pass
    return out


def _started(pid: int) -> str | None:
    """The process's start time (tells it from a later process given the same pid); None when gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def process_tree(pid: int) -> dict[int, str]:
    """A process and all its descendants, whatever their process group or session: pid -> start time."""
    tree, todo = {}, [pid]
    while todo:
        p = todo.pop()
        if (started := _started(p)) is not None:
            tree[p] = started
            todo += children(p)
    return tree


def still_running(tree: dict[int, str]) -> list[int]:
    """The processes of a process_tree that are still running (not the same pid reused)."""
    return [pid for pid, started in tree.items() if _started(pid) == started]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebServer:
    """gunicorn serving the app factory, as `make run` does."""

    def __init__(self, overrides: dict, env: dict | None = None, workers: int | None = 1):
        """workers=None: gunicorn.conf.py's processes and threads, exactly as `make run` serves."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the server's log (tracebacks of 500s) goes to a file a failing test can show
        self.log_path = Path(tempfile.mkstemp(prefix="web-", suffix=".log")[1])
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}",
                 *(["--workers", str(workers), "--threads", "4"] if workers else []), "web:create_app()"], cwd=ROOT, env=service_env(overrides) | (env or {}),
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("web server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)

    def log_tail(self, chars: int = 6000) -> str:
        """The end of the server's log."""
        return self.log_path.read_text(errors="replace")[-chars:]


def wait_for(predicate, timeout: float, what: str):
    """predicate()'s first true value, polled until timeout; TimeoutError(what) when it never came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def at_once(n: int, call) -> list:
    """call(i) for each i < n, from n threads released together; the answers in that order."""
    start, answers = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        start.wait()
        answers[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def key_header(app, name: str = "k") -> dict[str, str]:
    """The Authorization header of a new API key."""
    from shared import keys

    with app.extensions["db_sessionmaker"]() as s:
        header = {"Authorization": "Bearer " + keys.create(s, name)[1]}
        s.commit()
    return header


def wait_final(client_get, status_url: str, timeout: float = 120) -> dict:
    """Poll a status URL until the analysis is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client_get(status_url)
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.3)
    raise TimeoutError(f"analysis still {body['status']} after {timeout} s")


def wait_maps(client_get, status_url: str, timeout: float = 120) -> dict:
    """Poll a finished analysis until its thumbnail and maps are ready or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client_get(status_url)
        if body.get("maps_state") in ("ready", "failed"):
            return body
        time.sleep(0.3)
    raise TimeoutError(f"maps still {body.get('maps_state')} after {timeout} s")


def isolated(tmp: Path, name: str, database_url: str | None = None, **extra) -> dict:
    """Overrides for a stack of its own: a migrated database (a new SQLite file unless given), uploads, a queue."""
    from shared.migrate import upgrade
    from tests.conftest import REDIS_URL

    url = database_url or f"sqlite:///{tmp / (name + '.db')}"
    if url.startswith("sqlite"):
        upgrade(url)
    queue = f"{name}-{uuid.uuid4().hex[:8]}"  # its bulk and maps queues are named after it, like service_env's
    return {"data_dir": tmp, "database_url": url, "upload_dir": tmp / "uploads", "redis_url": REDIS_URL,
            "queue": queue, "bulk_queue": queue + "-bulk", "maps_queue": queue + "-maps", "secret_key": name} | extra


def emptied(url: str) -> str:
    """The database at url with every table emptied (a shared PostgreSQL test database)."""
    from shared.db import make_engine
    from shared.models import Base

    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()
    return url


@contextmanager
def app_for(overrides: dict):
    """The web app on those overrides; afterwards its connections are closed and its queue removed."""
    import redis

    from web import create_app

    app = create_app(overrides)
    try:
        yield app
    finally:
        app.extensions["db_engine"].dispose()
        redis.Redis.from_url(overrides["redis_url"]).delete(*app.config["SETTINGS"].queues)
