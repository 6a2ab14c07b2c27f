"""Operations endpoints: `/healthz` (alive), `/readyz` (database and broker), `/metrics`.

The metrics are computed at scrape time from the database and Redis, where the state
lives, so every gunicorn process answers the same numbers without a shared multiprocess
directory: submissions by status, queue depth per Celery queue, scoring latency of the
submissions scored in the last `LATENCY_WINDOW` (a gauge histogram: it describes a
window, so it may go down), callback deliveries by status and callback attempts by outcome
(a counter: attempts are never deleted). None of these endpoints shows text or author data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import redis
from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import case, func, select, text

from service.dispatch import DELIVERY_QUEUE, SCORING_QUEUE
from service.storage import copywatch
from service.storage.models import CallbackAttempt, CallbackDelivery, Submission, utcnow
from service.web.context import Services, services

bp = Blueprint("ops", __name__)

#: Seconds a readiness or metrics check waits for Redis before calling it down.
REDIS_TIMEOUT_S = 1.0
#: Scoring latency is reported over the submissions scored within this window.
LATENCY_WINDOW = timedelta(minutes=15)
#: At most this many recent scored submissions go into the latency histogram.
LATENCY_ROWS_MAX = 20_000
#: Bucket bounds of the scoring latency (received → scored), in seconds.
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
#: kombu's Redis transport keeps a queue's priorities 3, 6, 9 in lists with these suffixes.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_REDIS_KEY = "modassist.ops_redis"
_redis_lock = threading.Lock()


def _redis() -> redis.Redis | None:
    client: redis.Redis | None = current_app.extensions.get(_REDIS_KEY)
    if client is None:
        url = services().settings.redis_url
        if not url:
            return None
        with _redis_lock:
            client = current_app.extensions.get(_REDIS_KEY)
            if client is None:
                client = redis.Redis.from_url(
                    url,
                    socket_connect_timeout=REDIS_TIMEOUT_S,
                    socket_timeout=REDIS_TIMEOUT_S,
                    retry_on_timeout=False,
                )
                current_app.extensions[_REDIS_KEY] = client
    return client


@bp.get("/healthz")
def healthz() -> Response:
    """Answer 200 while the process serves requests; checks nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Answer 200 when the database and the broker answer, else 503 naming what failed."""
    checks: dict[str, str] = {}
    try:
        with services().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready; the type says which
        checks["database"] = f"down: {type(exc).__name__}"
    client = _redis()
    if client is None:
        checks["broker"] = "down: MODASSIST_REDIS_URL is not set"
    else:
        try:
            client.ping()
            checks["broker"] = "ok"
        except redis.RedisError as exc:
            checks["broker"] = f"down: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    # Shown, not required: submissions are accepted while a lost copy index is rebuilt.
    copy_index = copywatch.status(client).as_dict() if client is not None else None
    body = jsonify(status="ready" if ready else "not ready", checks=checks, copy_index=copy_index)
    return body, 200 if ready else 503


class _StateCollector(Collector):
    """Read the metrics from the database and Redis when Prometheus scrapes."""

    def __init__(self, svc: Services, client: redis.Redis | None) -> None:
        self._svc = svc
        self._redis = client

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "modassist_metrics_source_up", "Whether a metrics source answered.", labels=["source"]
        )
        try:
            yield from self._database_metrics()
            up.add_metric(["database"], 1)
        except Exception:  # a scrape must not fail as a whole because one source is down
            up.add_metric(["database"], 0)
        try:
            yield from self._queue_metrics()
            up.add_metric(["redis"], 1)
        except redis.RedisError:
            up.add_metric(["redis"], 0)
        yield up

    def _database_metrics(self) -> Iterator[Metric]:
        now = utcnow()
        with self._svc.sessions() as session:
            by_status = session.execute(
                select(Submission.status, func.count()).group_by(Submission.status)
            ).all()
            deliveries = session.execute(
                select(CallbackDelivery.status, func.count()).group_by(CallbackDelivery.status)
            ).all()
            outcome = case(
                (CallbackAttempt.status_code.between(200, 299), "success"),
                (CallbackAttempt.status_code.is_(None), "error"),
                else_="http_error",
            )
            attempts = session.execute(select(outcome, func.count()).group_by(outcome)).all()
            recent = session.execute(
                select(Submission.received_at, Submission.scored_at)
                .where(Submission.scored_at >= now - LATENCY_WINDOW)
                .order_by(Submission.scored_at.desc())
                .limit(LATENCY_ROWS_MAX)
            ).all()
        family = GaugeMetricFamily(
            "modassist_submissions", "Submissions by status.", labels=["status"]
        )
        for status, count in by_status:
            family.add_metric([status], count)
        yield family
        family = GaugeMetricFamily(
            "modassist_callback_deliveries", "Callback deliveries by status.", labels=["status"]
        )
        for status, count in deliveries:
            family.add_metric([status], count)
        yield family
        counter = CounterMetricFamily(
            "modassist_callback_attempts",
            "Callback attempts by outcome (success: 2xx, http_error: other status, error: none).",
            labels=["outcome"],
        )
        for name, count in attempts:
            counter.add_metric([name], count)
        yield counter
        yield _latency_histogram([(s - r).total_seconds() for r, s in recent if r and s])

    def _queue_metrics(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "modassist_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"]
        )
        if self._redis is None:
            raise redis.ConnectionError("MODASSIST_REDIS_URL is not set")
        pipe = self._redis.pipeline(transaction=False)
        for queue in (SCORING_QUEUE, DELIVERY_QUEUE):
            for suffix in _PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
        lengths = pipe.execute()
        per_queue = len(_PRIORITY_SUFFIXES)
        for index, queue in enumerate((SCORING_QUEUE, DELIVERY_QUEUE)):
            family.add_metric([queue], sum(lengths[index * per_queue : (index + 1) * per_queue]))
        yield family
        copy_index = copywatch.status(self._redis)
        family = GaugeMetricFamily(
            "modassist_copy_index_ready",
            "1 when Redis holds the complete copy index; 0 while it is lost or rebuilt.",
        )
        family.add_metric([], 1 if copy_index.state == copywatch.READY else 0)
        yield family
        family = GaugeMetricFamily(
            "modassist_copy_index_rebuild_progress",
            "Share of the texts indexed by the running copy index rebuild (1 when ready).",
        )
        family.add_metric([], copy_index.progress)
        yield family


def _latency_histogram(seconds: list[float]) -> Metric:
    family = GaugeHistogramMetricFamily(
        "modassist_scoring_latency_seconds",
        f"Time from receipt to stored score of the submissions scored in the last "
        f"{int(LATENCY_WINDOW.total_seconds() // 60)} minutes.",
        labels=[],
    )
    buckets: list[tuple[str, float]] = []
    for bound in LATENCY_BUCKETS_S:
        buckets.append((str(bound), float(sum(1 for s in seconds if s <= bound))))
    buckets.append(("+Inf", float(len(seconds))))
    family.add_metric([], buckets, gsum_value=float(sum(seconds)))
    return family


@bp.get("/metrics")
def metrics() -> Response:
    """Answer the Prometheus text format, computed now from the database and Redis."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(services(), _redis()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
