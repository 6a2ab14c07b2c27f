"""Engines and sessions for the configured database."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from service.settings import Settings

#: Reconnect a pooled PostgreSQL connection after this long, whatever its state.
POOL_RECYCLE_S = 600


def _drop_dead_connection(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection whose server side has gone, without a round trip.

    An idle connection has nothing to read; when PostgreSQL restarts or terminates the
    backend, it sends a FATAL message and closes the socket, which makes it readable.
    Raising DisconnectionError makes the pool discard it and connect anew.
    """
    if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
        raise exc.DisconnectionError("connection closed")
    try:
        fd = dbapi_conn.fileno()
    except Exception as error:  # a closed psycopg connection raises here
        raise exc.DisconnectionError("connection has no socket") from error
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise exc.DisconnectionError("the server closed or wrote to an idle connection")


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Several processes (web, worker) share the file: wait for locks instead of failing.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # No pool_pre_ping: its SELECT 1 is a round trip on every checkout, i.e. on every
        # request. `_drop_dead_connection` checks the socket instead; a connection that
        # dies silently in use is invalidated by SQLAlchemy (with the whole pool) on its
        # first error, and a recycle bounds how long an idle one is trusted.
        kwargs["pool_recycle"] = POOL_RECYCLE_S
    engine = create_engine(url, **kwargs)
    if not url.startswith("sqlite"):
        event.listen(engine, "checkout", _drop_dead_connection)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
