"""Fixtures for the WordPress tests: a modassist (web + Celery worker) and a WordPress site.

Both live for the whole module: installing WordPress and loading the scoring models take
seconds, the tests only need fresh comments.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from tests.support import RedisServer, free_port, postgres_database
from tests.wordpress.site import WordPressSite, missing_requirements

MODASSIST = str(Path(sys.executable).with_name("modassist"))
START_TIMEOUT_S = 90.0
REDIS_DB = 9


class ModassistService:
    """`modassist serve` and `modassist worker` as child processes that a test may stop."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.port = int(env["MODASSIST_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.key_id = ""
        self.secret = ""
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    def submission_row(self, external_id: str) -> dict[str, Any]:
        """Return how modassist stored a submission (kind, article), read from its database."""
        engine = sa.create_engine(self.env["MODASSIST_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    sa.text(
                        "SELECT kind, article_external_id FROM submissions"
                        " WHERE external_id = :external_id"
                    ),
                    {"external_id": external_id},
                ).one()
        finally:
            engine.dispose()
        return dict(row._mapping)

    def author_row(self, external_id: str) -> dict[str, Any]:
        """Return the personal data modassist keeps of an author, read from its database."""
        engine = sa.create_engine(self.env["MODASSIST_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    sa.text(
                        "SELECT name, email, location, erased_at IS NOT NULL AS erased"
                        " FROM authors WHERE external_id = :external_id"
                    ),
                    {"external_id": external_id},
                ).one()
        finally:
            engine.dispose()
        return dict(row._mapping)

    def article_titles(self) -> list[str]:
        """Return the titles of the articles modassist knows."""
        engine = sa.create_engine(self.env["MODASSIST_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                titles = conn.execute(sa.text("SELECT title FROM articles ORDER BY id")).scalars()
                return [str(t) for t in titles]
        finally:
            engine.dispose()

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [MODASSIST, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"modassist {args[0]} failed: {done.stderr[-2000:]}")
        return done.stdout

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [MODASSIST, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_web(self) -> None:
        self.web = self._spawn("web", "serve", "--workers", "1")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"modassist serve exited; see {self.workdir / 'web.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("modassist serve did not start")

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", "worker", "--concurrency", "1")

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        # Each child leads its own process group: gunicorn and Celery fork workers.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop_web(self) -> None:
        self._stop(self.web)
        self.web = None

    def stop(self) -> None:
        self.stop_web()
        self._stop(self.worker)
        self.worker = None


@pytest.fixture(scope="module")
def wordpress_available() -> None:
    reason = missing_requirements()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def wordpress_site(
    wordpress_available: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WordPressSite]:
    site = WordPressSite(tmp_path_factory.mktemp("wordpress"))
    try:
        site.create()
        yield site
    finally:
        site.destroy()


@pytest.fixture(scope="module")
def modassist_service(
    wordpress_site: WordPressSite,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ModassistService]:
    workdir = tmp_path_factory.mktemp("modassist")
    # Its own Redis database, emptied: no task or index entry left by other tests.
    redis_url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    with postgres_database() as database_url:
        env = {
            **os.environ,
            "MODASSIST_DATA_DIR": str(workdir / "var"),
            "MODASSIST_DATABASE_URL": database_url,
            "MODASSIST_REDIS_URL": redis_url,
            "MODASSIST_SECRET_KEY": "wordpress-test-server-key",
            "MODASSIST_PORT": str(free_port()),
            # Decisions go out at once and a failed callback is retried within seconds.
            "MODASSIST_UNDO_WINDOW_S": "0",
            "MODASSIST_CALLBACK_BACKOFF_FIRST_S": "1",
        }
        service = ModassistService(env, workdir)
        try:
            service.cli("db", "upgrade")
            created = json.loads(
                service.cli(
                    "sites",
                    "create",
                    "wordpress-test",
                    "--callback-url",
                    wordpress_site.callback_url,
                    "--json",
                )
            )
            service.key_id, service.secret = created["key_id"], created["secret"]
            wordpress_site.configure(service.url, service.key_id, service.secret)
            wordpress_site.start()
            service.start_worker()
            service.start_web()
            yield service
        finally:
            service.stop()
            with redis.Redis.from_url(redis_url) as client:
                client.flushdb()
