"""Hand work to the Celery workers by task name and id: the web app's only way to reach them.

The web app must not import the worker package (import-linter keeps it so), so both sides
share the task names defined here. Call `enqueue_*` only after the database transaction
that created the row has committed: a task must never see a row that is not there yet.
A failed enqueue is not an error for the caller: the periodic sweep finds what is stuck.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from service.settings import Settings

log = logging.getLogger(__name__)

SCORE_SUBMISSION = "modassist.score_submission"
DELIVER_CALLBACK = "modassist.deliver_callback"
SWEEP = "modassist.sweep"
RETENTION = "modassist.retention"
RETRAIN_SITE_MODELS = "modassist.retrain_site_models"

#: Queues: scoring and delivery are kept apart so a slow CMS never delays scoring.
SCORING_QUEUE = "scoring"
DELIVERY_QUEUE = "delivery"

Sender = Callable[[str, list[Any], str], None]


class Dispatcher:
    """Send task ids to the broker; never raises on broker trouble (the sweep retries)."""

    def __init__(self, send: Sender) -> None:
        self._send = send

    def enqueue_score(self, submission_id: str) -> bool:
        return self._try(SCORE_SUBMISSION, [submission_id], SCORING_QUEUE)

    def enqueue_delivery(self, delivery_id: str, countdown_s: float = 0.0) -> bool:
        return self._try(DELIVER_CALLBACK, [delivery_id, countdown_s], DELIVERY_QUEUE)

    def _try(self, name: str, args: list[Any], queue: str) -> bool:
        try:
            self._send(name, args, queue)
        except Exception as exc:  # broker down: the row is committed, the sweep re-enqueues
            log.warning("enqueue failed", extra={"task": name, "id": args[0], "error": repr(exc)})
            return False
        return True


def split_args(name: str, args: list[Any]) -> tuple[list[Any], float | None]:
    """Return a sender's (task arguments, countdown): the Dispatcher passes a delivery's
    countdown after its id; every task itself takes the id alone."""
    countdown = args[1] if name == DELIVER_CALLBACK and len(args) > 1 else None
    return args[:1], countdown


def celery_sender(settings: Settings) -> Sender:
    """A sender that publishes through a lightweight Celery client to MODASSIST_REDIS_URL."""
    from celery import Celery

    client = Celery("modassist-client", broker=settings.redis_url)
    client.conf.broker_connection_retry_on_startup = False
    # Fail fast when the broker is down: the submission is stored, the sweep re-enqueues.
    client.conf.broker_transport_options = {"max_retries": 1, "interval_start": 0}

    def send(name: str, args: list[Any], queue: str) -> None:
        task_args, countdown = split_args(name, args)
        client.send_task(name, args=task_args, queue=queue, countdown=countdown, retry=False)

    return send
