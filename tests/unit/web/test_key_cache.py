"""The per-process cache of site key look-ups: fewer queries, same signature rules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from service.dispatch import Dispatcher
from service.settings import Settings
from service.signing import signed_headers
from service.storage import sites
from service.storage.db import make_session_factory
from service.storage.models import Site, Submission
from service.web import create_app
from service.web.cms_auth import SiteKeyCache
from service.web.context import Services
from tests.conftest import TEST_SECRET_KEY
from tests.unit.storage.factories import make_site


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def site_queries(engine: sa.Engine) -> Iterator[list[str]]:
    """Every statement that reads the sites table, as sent to the database."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM sites" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_remembered_key_needs_no_query_until_it_is_stale(
    engine: sa.Engine, site_queries: list[str]
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        site, secret = make_site(session)
    site_queries.clear()
    clock = Clock()
    cache = SiteKeyCache(10.0, clock)
    with sessions() as session:
        first = cache.find(session, TEST_SECRET_KEY, site.key_id)
    assert first is not None and first.secret == secret and len(site_queries) == 1
    with sessions() as session:
        again = cache.find(session, TEST_SECRET_KEY, site.key_id)
        assert again is not None and again.site.id == site.id and again.secret == secret
        # The remembered row is in this session as loaded, like a queried one.
        assert again.site in session and again.site.name == "Tagblatt"
        session.commit()
    assert len(site_queries) == 1
    clock.now += 10.5
    with sessions() as session:
        assert cache.find(session, TEST_SECRET_KEY, site.key_id) is not None
    assert len(site_queries) == 2


def test_a_revoked_key_works_at_most_ttl_longer_and_a_new_key_at_once(
    engine: sa.Engine,
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        site, _ = make_site(session)
    old_key = site.key_id
    clock = Clock()
    cache = SiteKeyCache(10.0, clock)
    with sessions() as session:
        assert cache.find(session, TEST_SECRET_KEY, old_key) is not None
    with sessions() as session:  # another process revokes the key (no overlap)
        row = session.get(Site, site.id)
        assert row is not None
        new_key, new_secret = sites.rotate_key(
            session, TEST_SECRET_KEY, row, overlap=timedelta(0), actor="test"
        )
        session.commit()
    with sessions() as session:
        assert cache.find(session, TEST_SECRET_KEY, old_key) is not None  # within the TTL
        found = cache.find(session, TEST_SECRET_KEY, new_key)
        assert found is not None and found.secret == new_secret
    clock.now += 10.5
    with sessions() as session:
        assert cache.find(session, TEST_SECRET_KEY, old_key) is None
        assert cache.find(session, TEST_SECRET_KEY, new_key) is not None


def test_a_previous_key_is_not_remembered_past_its_end(
    engine: sa.Engine, site_queries: list[str]
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        site, _ = make_site(session)
        old_key = site.key_id
        sites.rotate_key(session, TEST_SECRET_KEY, site, overlap=timedelta(minutes=1), actor="test")
        session.commit()
    site_queries.clear()
    clock = Clock()
    cache = SiteKeyCache(3600.0, clock)
    with sessions() as session:
        assert cache.find(session, TEST_SECRET_KEY, old_key) is not None
    clock.now += 120  # past the overlap: the cache must ask the database again
    with sessions() as session:
        cache.find(session, TEST_SECRET_KEY, old_key)
    assert len(site_queries) == 2


def test_unknown_keys_are_never_remembered(engine: sa.Engine, site_queries: list[str]) -> None:
    cache = SiteKeyCache(10.0, Clock())
    with make_session_factory(engine)() as session:
        assert cache.find(session, TEST_SECRET_KEY, "mk_unknown") is None
        assert cache.find(session, TEST_SECRET_KEY, "mk_unknown") is None
    assert len(site_queries) == 2


def _post(client: FlaskClient, key_id: str, secret: str, body: dict[str, Any]) -> Any:
    data = json.dumps(body).encode()
    headers = signed_headers(key_id, secret, data, time.time())
    return client.post(
        "/api/v1/submissions", data=data, headers=headers, content_type="application/json"
    )


def test_the_api_checks_every_signature_with_a_remembered_key(
    settings: Settings, engine: sa.Engine, site_queries: list[str]
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        site, secret = make_site(session)
    site_queries.clear()
    sent: list[tuple[str, list[Any]]] = []
    services = Services(
        settings,
        engine,
        sessions,
        Dispatcher(lambda name, args, _queue: sent.append((name, args))),
        SiteKeyCache(3600.0, Clock()),
    )
    client = create_app(settings, services).test_client()
    letter = {"external_id": "c-1", "text": "Ein Brief.", "kind": "letter"}
    assert _post(client, site.key_id, secret, letter).status_code == 202
    assert _post(client, site.key_id, secret, letter).status_code == 200
    assert _post(client, site.key_id, secret, {**letter, "text": "Anders."}).status_code == 409
    assert _post(client, site.key_id, "wrong-secret", letter).status_code == 401
    with_author = {"external_id": "c-2", "text": "Zwei.", "kind": "letter", "author": {"id": "a"}}
    assert _post(client, site.key_id, secret, with_author).status_code == 202
    assert len(site_queries) == 1
    assert len(sent) == 2
    with Session(engine) as session:
        rows = session.scalars(sa.select(Submission).order_by(Submission.external_id)).all()
        assert [(r.external_id, r.site_id) for r in rows] == [("c-1", site.id), ("c-2", site.id)]
