"""The webhook's one-LPUSH sender writes what Celery's send_task writes, and fails fast."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from redis import Redis

from service.dispatch import DELIVER_CALLBACK, SCORE_SUBMISSION, Dispatcher, celery_sender
from service.settings import Settings
from service.web.enqueue import broker_sender
from tests.support import RedisServer, free_port

# Fields that differ between any two messages (fresh ids, the sending process).
PER_MESSAGE = {("headers", "id"), ("headers", "root_id"), ("headers", "origin")}
PER_MESSAGE |= {("properties", "correlation_id"), ("properties", "reply_to")}
PER_MESSAGE |= {("properties", "delivery_tag"), ("headers", "eta")}


def _pop(client: Redis, queue: str) -> dict[str, Any]:
    raw = client.rpop(queue)
    assert raw is not None, f"nothing on {queue}"
    message: dict[str, Any] = json.loads(raw)
    return message


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(message))
    for part, name in PER_MESSAGE:
        out[part][name] = "<varies>" if out[part][name] is not None else None
    return out


@pytest.mark.parametrize(
    ("name", "args", "queue"),
    [
        (SCORE_SUBMISSION, ["sub-1"], "scoring"),
        (DELIVER_CALLBACK, ["del-1", 0.0], "delivery"),
        (DELIVER_CALLBACK, ["del-2", 30.0], "delivery"),
    ],
)
def test_the_message_equals_celerys_send_task(
    settings: Settings, redis_server: RedisServer, name: str, args: list[Any], queue: str
) -> None:
    client = Redis.from_url(redis_server.url)
    client.delete(queue)
    try:
        celery_sender(settings)(name, list(args), queue)
        theirs = _pop(client, queue)
        started = time.time()
        broker_sender(settings)(name, list(args), queue)
        ours = _pop(client, queue)
        assert client.llen(queue) == 0
    finally:
        client.close()
    assert _comparable(ours) == _comparable(theirs)
    headers = ours["headers"]
    assert headers["id"] == headers["root_id"] == ours["properties"]["correlation_id"]
    assert headers["id"] != theirs["headers"]["id"]
    if len(args) > 1 and args[1]:
        eta = datetime.fromisoformat(headers["eta"]).timestamp()
        assert started + args[1] - 1 <= eta <= time.time() + args[1] + 1
    else:
        assert headers["eta"] is None


def test_a_broker_that_is_down_fails_fast_and_the_dispatcher_says_so(settings: Settings) -> None:
    down = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    dispatcher = Dispatcher(broker_sender(down))
    started = time.monotonic()
    assert dispatcher.enqueue_score("sub-1") is False
    assert time.monotonic() - started < 5


def test_a_broker_other_than_redis_keeps_celerys_sender(settings: Settings) -> None:
    amqp = replace(settings, redis_url="amqp://guest:guest@127.0.0.1:1//")
    assert broker_sender(amqp).__qualname__ == celery_sender(amqp).__qualname__
