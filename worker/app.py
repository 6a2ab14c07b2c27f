"""The Celery application: `make_celery(settings)`, and `app` for `celery -A worker.app`.

Nothing here connects to the broker or the database at import time: Celery connects when
a worker or beat starts, and the tasks build their database engine and scorer lazily, once
per worker process (see worker.tasks).
"""

from __future__ import annotations

from celery import Celery

from service.dispatch import (
    DELIVER_CALLBACK,
    DELIVERY_QUEUE,
    RETENTION,
    RETRAIN_SITE_MODELS,
    SCORE_SUBMISSION,
    SCORING_QUEUE,
    SWEEP,
)
from service.settings import Settings
from service.storage.copywatch import COPY_INDEX_WATCH, WATCH_INTERVAL_S

#: Used only when MODASSIST_REDIS_URL is empty; `modassist run` always sets it.
FALLBACK_BROKER_URL = "redis://127.0.0.1:6379/0"
#: Seconds between retention runs: personal data outlives its period by at most this.
RETENTION_INTERVAL_S = 3600.0
#: How often sites are checked for enough new decisions to retrain likely_rejected.
RETRAIN_INTERVAL_S = 6 * 3600.0


def make_celery(settings: Settings) -> Celery:
    """Build the Celery app for these settings, with the tasks of worker.tasks registered."""
    app = Celery("modassist", broker=settings.redis_url or FALLBACK_BROKER_URL)
    app.conf.update(
        # Task arguments are ids only; JSON keeps them readable and refuses pickles.
        task_serializer="json",
        accept_content=["json"],
        # Results live in the database, not in the broker.
        task_ignore_result=True,
        result_backend=None,
        # A task is acknowledged only when it has finished, and handed to another worker
        # when its worker dies mid-task: the tasks are idempotent, so a repeat is harmless.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One task at a time per process: a slow scoring job does not hold others back.
        worker_prefetch_multiplier=1,
        # On a lost broker connection a running task finishes and stores its result; its
        # redelivered message then finds the row done and is skipped. (Celery 6 will
        # cancel such tasks by default instead, which would only waste their work.)
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        # The two queues (created on first use): a slow CMS never delays scoring.
        task_default_queue=SCORING_QUEUE,
        task_routes={
            SCORE_SUBMISSION: {"queue": SCORING_QUEUE},
            DELIVER_CALLBACK: {"queue": DELIVERY_QUEUE},
            # The sweep rides the short queue: a scoring backlog must not delay it.
            SWEEP: {"queue": DELIVERY_QUEUE},
            RETENTION: {"queue": DELIVERY_QUEUE},
            # Retraining is CPU work like scoring: it waits behind the scoring backlog.
            RETRAIN_SITE_MODELS: {"queue": SCORING_QUEUE},
            # Rebuild steps after a Redis loss are CPU work like scoring, and short.
            COPY_INDEX_WATCH: {"queue": SCORING_QUEUE},
        },
        beat_schedule={
            "sweep": {
                "task": SWEEP,
                "schedule": settings.sweep_interval_s,
                # A sweep that waited longer than its interval is replaced by the next one.
                "options": {"expires": settings.sweep_interval_s},
            },
            # Personal data past a site's retention_days (service.storage.retention).
            "retention": {
                "task": RETENTION,
                "schedule": RETENTION_INTERVAL_S,
                "options": {"expires": RETENTION_INTERVAL_S},
            },
            # Per-site likely_rejected models, when enough new decisions exist.
            "retrain-site-models": {
                "task": RETRAIN_SITE_MODELS,
                "schedule": RETRAIN_INTERVAL_S,
                "options": {"expires": RETRAIN_INTERVAL_S},
            },
            # A copy index lost with Redis is noticed and rebuilt from the database.
            "copy-index-watch": {
                "task": COPY_INDEX_WATCH,
                "schedule": WATCH_INTERVAL_S,
                "options": {"expires": WATCH_INTERVAL_S},
            },
        },
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    from celery.signals import setup_logging

    # Celery leaves logging alone when this signal has a receiver: JSON lines with task ids.
    setup_logging.connect(_configure_logging, weak=False)
    from worker import copy_watch, tasks

    tasks.register(app, settings)
    copy_watch.register(app, settings)
    return app


def _configure_logging(**_kwargs: object) -> None:
    from service.logging import configure

    configure()


app = make_celery(Settings.from_env())
