"""The beat task that rebuilds a lost copy index: scheduled, and re-sent while unfinished."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy.orm import Session

from service.settings import Settings
from service.storage import articles, copywatch
from service.storage.copyindex import PREFIX, delete_keys
from service.storage.sites import create_site
from tests.conftest import TEST_SECRET_KEY
from worker import copy_watch
from worker.app import make_celery

ARTICLE = (
    "Der Stadtrat hat am Dienstagabend mit knapper Mehrheit beschlossen, die Gebühren für "
    "das Parken in der Innenstadt ab dem kommenden Frühjahr deutlich zu erhöhen, um den "
    "Ausbau der Buslinien im Norden der Stadt zu finanzieren."
)


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Celery, list[Any]]]:
    celery = make_celery(settings)
    sent: list[Any] = []
    monkeypatch.setattr(celery, "send_task", lambda name, **kw: sent.append((name, kw)))
    client = redis.Redis.from_url(settings.redis_url)
    delete_keys(client, f"{PREFIX}:*")
    client.delete(copywatch.STATE_KEY, copywatch.LOCK_KEY)
    yield celery, sent
    delete_keys(client, f"{PREFIX}:*")
    client.delete(copywatch.STATE_KEY, copywatch.LOCK_KEY)
    client.close()


def test_the_watch_is_scheduled_on_the_scoring_queue(app: tuple[Celery, list[Any]]) -> None:
    celery, _ = app
    entry = celery.conf.beat_schedule["copy-index-watch"]
    assert entry["task"] == copywatch.COPY_INDEX_WATCH
    assert entry["schedule"] == copywatch.WATCH_INTERVAL_S
    assert celery.conf.task_routes[copywatch.COPY_INDEX_WATCH] == {"queue": "scoring"}


def test_an_unfinished_rebuild_sends_its_next_step_and_a_finished_one_does_not(
    app: tuple[Celery, list[Any]], db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    celery, sent = app
    site, _ = create_site(db_session, TEST_SECRET_KEY, "Tagblatt", None)
    articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    db_session.commit()
    task = celery.tasks[copywatch.COPY_INDEX_WATCH]
    monkeypatch.setattr(copy_watch, "STEP_BUDGET_S", 0.0)  # starts, indexes nothing yet
    assert task.run()["state"] == copywatch.REBUILDING
    assert sent == [(copywatch.COPY_INDEX_WATCH, {"queue": "scoring"})]
    monkeypatch.setattr(copy_watch, "STEP_BUDGET_S", 10.0)
    answer = task.run()
    assert (answer["state"], answer["done"], answer["total"]) == (copywatch.READY, 1, 1)
    assert len(sent) == 1
    assert task.run()["state"] == copywatch.READY  # the periodic check finds it complete
