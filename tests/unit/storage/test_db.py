"""The engine's pool recovers from connections that PostgreSQL closed while they were idle."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from service.storage.db import make_session_factory, session_scope
from tests.support import PG_ADMIN_URL


def _terminate(pid: int) -> None:
    """End one server backend, as a PostgreSQL restart does, and wait until it is gone."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            deadline = time.monotonic() + 30
            while conn.scalar(alive, {"pid": pid}) and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        admin.dispose()


def test_a_pooled_connection_closed_by_the_server_is_replaced(
    engine: sa.Engine, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to lose")
    assert not engine.pool._pre_ping  # no extra round trip per checkout
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        old_pid = session.scalar(sa.text("SELECT pg_backend_pid()"))
    assert isinstance(old_pid, int)
    _terminate(old_pid)
    # The next request gets a live connection, not an error.
    with session_scope(sessions) as session:
        new_pid = session.scalar(sa.text("SELECT pg_backend_pid()"))
    assert new_pid != old_pid
