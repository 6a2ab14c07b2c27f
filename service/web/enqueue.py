"""Hand task ids to a Redis broker with one LPUSH: the webhook's cheap way to enqueue.

`celery.send_task` costs about 0.8 ms of CPU per call in the web process (it builds a
producer, a Redis client and a kombu message through several layers for every task),
a fifth of what the webhook spends on an accepted submission. Every message the web app
sends has the same shape (a task name, one id, a queue, maybe a countdown), so this sender
writes exactly what `send_task` writes onto the queue's Redis list: a Celery protocol 2
message inside kombu's Redis envelope (body base64, priority 0, the default exchange).
tests/unit/web/test_enqueue.py compares the two field by field, and a real worker runs
such messages in tests/functional.

Brokers other than Redis (RabbitMQ: `amqp://`) keep Celery's sender. Like it, this sender
raises when the broker does not answer (fast: short timeouts, no retry), and the
Dispatcher turns that into a warning: the row is committed, the sweep re-enqueues it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from service.dispatch import Sender, celery_sender, split_args
from service.settings import Settings

#: A broker that does not answer within this long fails the enqueue (the sweep retries).
BROKER_TIMEOUT_S = 1.0
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# The fixed tail of a protocol 2 body: no kwargs, no callbacks, no chain, no chord.
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def broker_sender(settings: Settings) -> Sender:
    """Return a one-LPUSH sender for a Redis broker, Celery's sender for any other."""
    if not settings.redis_url.startswith(REDIS_SCHEMES):
        return celery_sender(settings)
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=BROKER_TIMEOUT_S,
        socket_timeout=BROKER_TIMEOUT_S,
        retry_on_timeout=False,
    )
    origin = f"gen{os.getpid()}@{socket.gethostname()}"
    reply_to = str(uuid.uuid4())

    def send(name: str, args: list[Any], queue: str) -> None:
        task_args, countdown = split_args(name, args)
        message = task_message(name, task_args, queue, countdown, origin, reply_to)
        client.lpush(queue, json.dumps(message))

    return send


def task_message(
    name: str,
    args: list[Any],
    queue: str,
    countdown_s: float | None,
    origin: str,
    reply_to: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return the kombu Redis envelope of a Celery protocol 2 task message, as send_task does."""
    task_id = str(uuid.uuid4())
    eta = None
    if countdown_s:  # as Celery: a zero countdown means no ETA
        eta = ((now or datetime.now(UTC)) + timedelta(seconds=countdown_s)).isoformat()
    body = json.dumps([args, {}, _EMBED]).encode("utf-8")
    return {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": name,
            "id": task_id,
            "shadow": None,
            "eta": eta,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(args),
            "kwargsrepr": "{}",
            "origin": origin,
            "ignore_result": None,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": reply_to,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
