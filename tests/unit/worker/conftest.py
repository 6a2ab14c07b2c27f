"""Fixtures for the worker's tasks: a Runtime on the test database, sites and submissions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from service.dispatch import Dispatcher
from service.scoring.pipeline import Scorer
from service.settings import Settings
from service.storage.db import make_session_factory
from service.storage.models import Site
from service.storage.sites import create_site
from service.storage.submissions import AuthorIn, SubmissionIn, ingest
from worker.tasks import Runtime, scoring_session_factory


@dataclass
class SentTasks:
    """What the tasks handed to the broker: (task name, args, queue) in order."""

    calls: list[tuple[str, list[Any], str]] = field(default_factory=list)

    def __call__(self, name: str, args: list[Any], queue: str) -> None:
        self.calls.append((name, list(args), queue))


class Clock:
    """A settable clock for the tasks' idea of now (due times, backoff)."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


_scorer: Scorer | None = None
_scorer_lock = threading.Lock()


class SharedScorerRuntime(Runtime):
    """A Runtime that loads the real scoring core once for all worker tests, on first use."""

    def scorer(self) -> Scorer:
        global _scorer
        if self._scorer is None:
            with _scorer_lock:
                if _scorer is None:
                    _scorer = Scorer()
                self._scorer = _scorer
        return self._scorer


@pytest.fixture
def sent() -> SentTasks:
    return SentTasks()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_runtime(
    engine: sa.Engine, sent: SentTasks, clock: Clock, settings: Settings
) -> Iterator[Callable[..., Runtime]]:
    """Build a Runtime on the test database; keyword arguments override settings fields.

    As in a worker process, scoring writes go through `scoring_session_factory` (on
    PostgreSQL: commits that do not wait for the disk).
    """
    factories: list[sessionmaker[Session]] = []

    def build(**overrides: Any) -> Runtime:
        changed = replace(settings, **overrides)
        scoring = scoring_session_factory(changed)
        if scoring is not None:
            factories.append(scoring)
        return SharedScorerRuntime(
            settings=changed,
            sessions=make_session_factory(engine),
            dispatcher=Dispatcher(sent),
            engine=engine,
            now=clock,
            scoring_sessions=scoring,
        )

    yield build
    for factory in factories:
        factory.kw["bind"].dispose()


@pytest.fixture
def site_with_secret(db_session: Session, settings: Settings) -> tuple[Site, str]:
    site, secret = create_site(db_session, settings.secret_key, "Tagesblatt")
    db_session.commit()
    return site, secret


@pytest.fixture
def add_submission(
    db_session: Session, site_with_secret: tuple[Site, str]
) -> Iterator[Callable[..., str]]:
    """Store a queued submission through the ingest repository and return its id."""
    counter = iter(range(1, 10_000))

    def add(text: str = "Ein ganz normaler Kommentar zur Sache.", kind: str = "comment") -> str:
        site = site_with_secret[0]
        row, created = ingest(
            db_session,
            site,
            SubmissionIn(
                external_id=f"ext-{next(counter)}",
                text=text,
                kind=kind,
                author=AuthorIn(external_id="a1", name="Erika Muster", location="Kassel"),
            ),
        )
        assert created
        db_session.commit()
        return row.id

    yield add
