"""Settings read once from the environment, with safe local defaults.

Every variable is listed in the README's configuration table; keep the two in step
(tests/test_settings.py checks that the README and docker-compose.yml name them all).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR", ROOT / "data")).resolve()


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment; a local run gets one generated once and kept in DATA_DIR."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if os.environ.get("APP_ENV", "development") == "production":
        raise RuntimeError("SECRET_KEY must be set when APP_ENV=production")
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class ObjectStore:
    """Where uploads and derived files live when STORAGE_URL names S3-compatible object storage.

    STORAGE_URL=s3://BUCKET[/PREFIX][?endpoint_url=URL&region=NAME]; the keys come from boto3's own chain
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, an instance role), never from the URL, which gets logged.
    """

    bucket: str
    prefix: str = ""  # keys are PREFIX/ab/cd/<sha256> and PREFIX/derived/ab/<sha256>/<name>
    endpoint_url: str | None = None  # unset: AWS S3 itself
    region: str | None = None

    @classmethod
    def parse(cls, url: str) -> "ObjectStore | None":
        """None for "" (a local folder, UPLOAD_DIR); raises ValueError for anything it cannot use."""
        if not url:
            return None
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.scheme != "s3" or not parts.netloc or set(query) - {"endpoint_url", "region"}:
            raise ValueError(f"STORAGE_URL must be s3://bucket[/prefix][?endpoint_url=...&region=...], not {url!r}")
        return cls(parts.netloc, parts.path.strip("/"), query.get("endpoint_url") or None,
                   query.get("region") or None)


@dataclass(frozen=True)
class Settings:
    """All configuration in one typed object; `Settings.from_env()` builds it."""

    app_env: str = "development"
    data_dir: Path = field(default_factory=_data_dir)
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    upload_dir: Path = Path()  # the local store (STORAGE_URL unset); uploads and derived files
    storage_url: str = ""  # STORAGE_URL: "" = the folder UPLOAD_DIR; s3://... = object storage (ObjectStore)
    model_path: Path = ROOT / "models" / "ensemble.json"
    model_batch: int = 32  # MODEL_BATCH: crops per forward pass; the CPU's measured best, raise it on a GPU
    queue: str = "analyses"  # interactive: single uploads (and the sweeper's re-sends of them)
    bulk_queue: str = "bulk"  # batch chunks
    maps_queue: str = "maps"  # thumbnails and forensic maps, made after the verdict
    worker_queues: str = ""  # WORKER_QUEUES: what a worker consumes, comma-separated in priority order; "" = all
    # python -m worker.fleet: WORKER_INTERACTIVE workers that take only single uploads (0: one worker for all),
    # beside a general worker of WORKER_CONCURRENCY pool processes (0: from the cores) run at nice BULK_NICE
    worker_interactive: int = 1
    worker_concurrency: int = 0
    bulk_nice: int = 10
    max_upload_mb: int = 50
    max_image_pixels: int = 100_000_000
    task_soft_time_limit: int = 120
    exiftool_timeout: int = 30
    page_size: int = 20
    require_api_key: bool = False
    web_ui: bool = True
    rate_limit_per_minute: int = 120
    max_batch_files: int = 1000
    max_batch_mb: int = 1024
    batch_chunk: int = 8
    bulk_slice: int = 2  # BULK_SLICE: files run through the model at once inside a chunk; a person's upload waits for one slice at most
    webhook_retry_base_s: float = 10.0
    webhook_allow_private: bool = False  # callbacks to loopback/private/special addresses (local use only)
    webhook_connect_timeout_s: float = 3.0
    webhook_read_timeout_s: float = 10.0
    webhook_poll_s: float = 1.0
    # image links (shared/link_fetch.py): fetched by the web inside the request
    link_allow_private: bool = False  # links to loopback/private/special addresses (local use only)
    link_max_concurrent: int = 2  # fetches at once per web process; more get 503 with Retry-After
    link_max_redirects: int = 5
    link_connect_timeout_s: float = 5.0
    link_fetch_timeout_s: float = 20.0  # the whole fetch, every redirect and a slow body included
    retention_days: int = 0
    visibility_timeout: int = 0  # 0: task time limit + 120 s
    sweep_interval_s: float = 30.0
    lease_s: float = 60.0
    # WORKER_START_TIMEOUT_S: how long Celery waits for a new pool process to load the model and exiftool
    # (worker_process_init) and report UP before killing it; Celery's 4 s is shorter than that load on a busy
    # machine, so every replacement of a killed pool process was killed in turn
    worker_start_timeout_s: float = 300.0
    metrics_dir: Path | None = None  # PROMETHEUS_MULTIPROC_DIR: where worker processes write their metrics
    metrics_token: str = ""  # set: /metrics needs it as a bearer token
    # ALLOWED_HOSTS: the Host names the web answers to, any port (DNS rebinding); "*" = any. The default is what
    # `make run` binds; a server reached under other names lists them
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    secret_key: str = ""

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Read the environment; keyword overrides win (tests use them)."""
        data_dir = Path(overrides.pop("data_dir", None) or _data_dir())  # type: ignore[arg-type]
        env = os.environ.get
        values: dict[str, object] = {
            "app_env": env("APP_ENV", "development"),
            "data_dir": data_dir,
            "database_url": env("DATABASE_URL", f"sqlite:///{data_dir / 'deepfake.db'}"),
            "redis_url": env("REDIS_URL", cls.redis_url),
            "upload_dir": Path(env("UPLOAD_DIR", str(data_dir / "uploads"))).resolve(),
            "storage_url": env("STORAGE_URL", cls.storage_url),
            "model_path": Path(env("MODEL_PATH", str(cls.model_path))).resolve(),
            "model_batch": max(1, int(env("MODEL_BATCH", cls.model_batch))),
            "queue": env("CELERY_QUEUE", cls.queue),
            "bulk_queue": env("CELERY_BULK_QUEUE", cls.bulk_queue),
            "maps_queue": env("CELERY_MAPS_QUEUE", cls.maps_queue),
            "worker_queues": env("WORKER_QUEUES", cls.worker_queues),
            "worker_interactive": max(0, int(env("WORKER_INTERACTIVE", cls.worker_interactive))),
            "worker_concurrency": max(0, int(env("WORKER_CONCURRENCY", cls.worker_concurrency))),
            "bulk_nice": min(19, max(0, int(env("BULK_NICE", cls.bulk_nice)))),
            "max_upload_mb": int(env("MAX_UPLOAD_MB", cls.max_upload_mb)),
            "max_image_pixels": int(env("MAX_IMAGE_PIXELS", cls.max_image_pixels)),
            "task_soft_time_limit": int(env("TASK_SOFT_TIME_LIMIT", cls.task_soft_time_limit)),
            "exiftool_timeout": int(env("EXIFTOOL_TIMEOUT", cls.exiftool_timeout)),
            "page_size": int(env("PAGE_SIZE", cls.page_size)),
            "require_api_key": env("REQUIRE_API_KEY", "false").lower() in ("1", "true", "yes"),
            "web_ui": env("WEB_UI", "true").lower() in ("1", "true", "yes"),
            "rate_limit_per_minute": int(env("RATE_LIMIT_PER_MINUTE", cls.rate_limit_per_minute)),
            "max_batch_files": int(env("MAX_BATCH_FILES", cls.max_batch_files)),
            "max_batch_mb": int(env("MAX_BATCH_MB", cls.max_batch_mb)),
            "batch_chunk": int(env("BATCH_CHUNK", cls.batch_chunk)),
            "bulk_slice": max(1, int(env("BULK_SLICE", cls.bulk_slice))),
            "webhook_retry_base_s": float(env("WEBHOOK_RETRY_BASE_S", cls.webhook_retry_base_s)),
            "webhook_allow_private": env("WEBHOOK_ALLOW_PRIVATE", "false").lower() in ("1", "true", "yes"),
            "webhook_connect_timeout_s": float(env("WEBHOOK_CONNECT_TIMEOUT_S", cls.webhook_connect_timeout_s)),
            "webhook_read_timeout_s": float(env("WEBHOOK_READ_TIMEOUT_S", cls.webhook_read_timeout_s)),
            "webhook_poll_s": float(env("WEBHOOK_POLL_S", cls.webhook_poll_s)),
            "link_allow_private": env("LINK_ALLOW_PRIVATE", "false").lower() in ("1", "true", "yes"),
            "link_max_concurrent": max(1, int(env("LINK_MAX_CONCURRENT", cls.link_max_concurrent))),
            "link_max_redirects": max(0, int(env("LINK_MAX_REDIRECTS", cls.link_max_redirects))),
            "link_connect_timeout_s": float(env("LINK_CONNECT_TIMEOUT_S", cls.link_connect_timeout_s)),
            "link_fetch_timeout_s": float(env("LINK_FETCH_TIMEOUT_S", cls.link_fetch_timeout_s)),
            "retention_days": int(env("RETENTION_DAYS", cls.retention_days)),
            "visibility_timeout": int(env("VISIBILITY_TIMEOUT", cls.visibility_timeout)),
            "sweep_interval_s": float(env("SWEEP_INTERVAL_S", cls.sweep_interval_s)),
            "lease_s": float(env("LEASE_S", cls.lease_s)),
            "worker_start_timeout_s": float(env("WORKER_START_TIMEOUT_S", cls.worker_start_timeout_s)),
            # prometheus-client's own variable: the worker processes' library reads it directly
            "metrics_dir": Path(env("PROMETHEUS_MULTIPROC_DIR", "")).resolve()
            if env("PROMETHEUS_MULTIPROC_DIR") else None,
            "metrics_token": env("METRICS_TOKEN", cls.metrics_token),
            "allowed_hosts": tuple(h.strip().lower() for h in env("ALLOWED_HOSTS", ",".join(cls.allowed_hosts))
                                   .split(",") if h.strip()),
        }
        values.update(overrides)
        if not values.get("secret_key"):
            values["secret_key"] = _secret_key(data_dir)
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        settings = cls(**values)  # type: ignore[arg-type]
        settings.object_store  # noqa: B018 - a STORAGE_URL that cannot work stops the start, not the first upload
        return settings

    @property
    def object_store(self) -> ObjectStore | None:
        """The S3 location STORAGE_URL names; None: uploads live in the local folder UPLOAD_DIR."""
        return ObjectStore.parse(self.storage_url)

    @property
    def scratch_dir(self) -> Path:
        """This machine's folder for local copies of stored objects (exiftool and decoders need a path)."""
        return self.data_dir / "scratch"

    @property
    def queues(self) -> tuple[str, str, str]:
        """Every queue, highest priority first: a person's upload, then batch chunks, then maps."""
        return self.queue, self.bulk_queue, self.maps_queue

    @property
    def consumed_queues(self) -> list[str]:
        """The queues this worker consumes, in priority order (WORKER_QUEUES, or all of them)."""
        chosen = [q.strip() for q in self.worker_queues.split(",") if q.strip()]
        return chosen or list(self.queues)

    @property
    def scratch_max_age_s(self) -> float:
        """A local copy not written for this long was left by a killed process: no job holds one longer."""
        return float(self.job_time_limits(self.batch_chunk)[1] + 60)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def task_time_limit(self) -> int:
        """The hard limit of a one-analysis job: its pool process is killed after this long."""
        return self.job_time_limits(1)[1]

    def job_time_limits(self, analyses: int) -> tuple[int, int]:
        """(soft, hard) seconds for a job of `analyses` analyses: TASK_SOFT_TIME_LIMIT for each, hard 30 s later."""
        soft = self.task_soft_time_limit * max(1, analyses)
        return soft, soft + 30

    @property
    def unacked_timeout(self) -> int:
        """How long after its worker vanished an unacknowledged job returns to the queue (> the hard limit)."""
        return max(self.visibility_timeout or self.task_soft_time_limit + 120, self.task_time_limit + 10)

    @property
    def max_batch_bytes(self) -> int:
        return self.max_batch_mb * 1024 * 1024


# The environment variables Settings.from_env reads (documented in the README table).
ENV_VARS = (
    "APP_ENV", "DATA_DIR", "DATABASE_URL", "REDIS_URL", "UPLOAD_DIR", "MODEL_PATH", "CELERY_QUEUE",
    "CELERY_BULK_QUEUE", "CELERY_MAPS_QUEUE", "WORKER_QUEUES", "WORKER_INTERACTIVE", "WORKER_CONCURRENCY", "BULK_NICE",
    "MAX_UPLOAD_MB", "MAX_IMAGE_PIXELS", "TASK_SOFT_TIME_LIMIT", "EXIFTOOL_TIMEOUT", "PAGE_SIZE", "SECRET_KEY",
    "REQUIRE_API_KEY", "WEB_UI", "RATE_LIMIT_PER_MINUTE", "MAX_BATCH_FILES", "MAX_BATCH_MB", "BATCH_CHUNK",
    "WEBHOOK_RETRY_BASE_S", "WEBHOOK_ALLOW_PRIVATE", "WEBHOOK_CONNECT_TIMEOUT_S", "WEBHOOK_READ_TIMEOUT_S",
    "WEBHOOK_POLL_S", "LINK_ALLOW_PRIVATE", "LINK_MAX_CONCURRENT", "LINK_MAX_REDIRECTS", "LINK_CONNECT_TIMEOUT_S",
    "LINK_FETCH_TIMEOUT_S", "RETENTION_DAYS", "VISIBILITY_TIMEOUT", "SWEEP_INTERVAL_S", "LEASE_S",
    "WORKER_START_TIMEOUT_S", "PROMETHEUS_MULTIPROC_DIR", "METRICS_TOKEN", "STORAGE_URL", "ALLOWED_HOSTS",
)
# Read by boto3 itself (object storage's keys), documented and passed along with the variables above.
STORAGE_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
