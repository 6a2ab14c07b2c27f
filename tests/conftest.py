"""Fixtures shared by the whole suite: settings, databases (SQLite and PostgreSQL), Redis.

Tests that touch the database run once per backend: the `database_url` fixture is
parametrised with `sqlite` and `postgresql`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.settings import Settings
from service.storage import migrate
from service.storage.db import make_engine, make_session_factory
from service.storage.models import Base
from tests.support import RedisServer, postgres_database

TEST_SECRET_KEY = "test-server-key-not-secret"


@pytest.fixture(scope="session")
def _pg_url() -> Iterator[str]:
    with postgres_database() as url:
        migrate.upgrade(Settings.from_env({"MODASSIST_DATABASE_URL": url}))
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'modassist.db'}"
        migrate.upgrade(Settings.from_env({"MODASSIST_DATABASE_URL": url}))
        yield url
    else:
        url = request.getfixturevalue("_pg_url")
        yield url
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for this test run (never the machine's shared one)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, redis_server: RedisServer) -> Settings:
    base = Settings.from_env(
        {
            "MODASSIST_DATA_DIR": str(tmp_path / "var"),
            "MODASSIST_DATABASE_URL": database_url,
            "MODASSIST_REDIS_URL": redis_server.url,
        }
    )
    return replace(base, secret_key=TEST_SECRET_KEY)


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


@pytest.fixture
def db_session(engine: sa.Engine) -> Iterator[Session]:
    factory = make_session_factory(engine)
    with factory() as session:
        yield session
