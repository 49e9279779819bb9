"""Every Prometheus metric of the service, defined here once; the web serves them at /metrics.

Two kinds, chosen by where the truth lives:
- counts read at scrape time (analyses by status, webhook deliveries by outcome, queue depth, live workers)
  come from the database and Redis through `ScrapeCollector`, so they are right whichever process wrote them;
- pipeline stage durations are observed by the worker's pool processes into prometheus-client's multiprocess
  files (PROMETHEUS_MULTIPROC_DIR), which the web merges at scrape time (`MultiProcessCollector`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence

import redis
from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared import heartbeat
from shared.models import Analysis, Status, WebhookDelivery

log = logging.getLogger(__name__)

# An analysis takes from milliseconds (a small PNG's metadata) to minutes (a batch's model pass on a slow CPU).
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, float("inf"))
STAGE_SECONDS = Histogram(
    "deepfake_pipeline_stage_seconds", "Time one file spent in each pipeline stage (total: all stages)",
    ["stage"], buckets=STAGE_BUCKETS)
STATUSES = (Status.QUEUED, Status.RUNNING, *Status.FINAL)  # always shown, 0 included, so alerts see them


def observe_stage_timings(timings_per_file: Iterable[dict[str, float]]) -> None:
    """Record the pipeline's `result["timings"]` (keys like decode_s); never fails the analysis it measures."""
    try:
        if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.makedirs(directory, exist_ok=True)  # Compose mounts an empty volume
        for timings in timings_per_file:
            for key, seconds in timings.items():
                STAGE_SECONDS.labels(stage=key.removesuffix("_s")).observe(seconds)
    except Exception:  # metrics are a side channel: a full disk must not lose a verdict already written
        log.warning("stage timings not recorded", exc_info=True)


class ScrapeCollector(Collector):
    """Counts read from the database and Redis at each scrape; a source that does not answer reads as down."""

    def __init__(self, sessions: sessionmaker[Session], client: redis.Redis, queues: Sequence[str]):
        self.sessions, self.client, self.queues = sessions, client, tuple(queues)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("deepfake_metrics_source_up", "1 when the source answered this scrape",
                               labels=["source"])
        for source, read in (("database", self._database), ("redis", self._redis)):
            try:
                families = read()
            except Exception:  # any driver error: report the source down rather than fail the whole scrape
                log.warning("metrics: %s unavailable", source, exc_info=True)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _database(self) -> list[Metric]:
        with self.sessions() as session:
            statuses = dict(session.execute(select(Analysis.status, func.count()).group_by(Analysis.status)).all())
            outcomes = dict(session.execute(select(WebhookDelivery.succeeded, func.count())
                                            .group_by(WebhookDelivery.succeeded)).all())
        analyses = GaugeMetricFamily("deepfake_analyses", "Analyses in the database by status", labels=["status"])
        for status in dict.fromkeys([*STATUSES, *statuses]):
            analyses.add_metric([status], statuses.get(status, 0))
        # a gauge, not a counter: rows go when their analysis or batch is deleted
        deliveries = GaugeMetricFamily("deepfake_webhook_deliveries",
                                       "Recorded webhook delivery attempts by outcome", labels=["outcome"])
        deliveries.add_metric(["succeeded"], outcomes.get(True, 0))
        deliveries.add_metric(["failed"], outcomes.get(False, 0))
        return [analyses, deliveries]

    def _redis(self) -> list[Metric]:
        depth = GaugeMetricFamily("deepfake_queue_depth", "Jobs waiting in each Celery queue (Redis list length)",
                                  labels=["queue"])
        workers = GaugeMetricFamily("deepfake_workers_alive", "Workers of each queue with a live heartbeat",
                                    labels=["queue"])
        for queue in self.queues:
            depth.add_metric([queue], self.client.llen(queue))
            workers.add_metric([queue], len(heartbeat.alive(self.client, queue)))
        return [depth, workers]
