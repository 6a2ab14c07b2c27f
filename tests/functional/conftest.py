"""Real processes for end-to-end tests: Celery workers, beat, the web server, a CMS.

Every process started here is stopped in the fixture's finalizer (SIGTERM, then SIGKILL),
and its output goes to a log file under the test's tmp_path, shown when a wait fails.
Reuse these from any functional test:

- `service_env`: the MODASSIST_* environment of a fresh PostgreSQL database and the private
  Redis, with short sweep and backoff times;
- `start_worker()`, `start_beat()`, `web_server` (gunicorn on a free port);
- `demo_site`: a site with its secret and a callback URL pointing at `cms` (a CmsReceiver);
- `signed_post(path, payload)`: a signed request to the web server, as a CMS sends it;
- `wait_until(predicate, timeout_s, what)`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from redis import Redis
from sqlalchemy.orm import Session

from service.settings import Settings
from service.signing import signed_headers
from service.storage import migrate
from service.storage.db import make_engine, make_session_factory
from service.storage.sites import create_site
from tests.cms import CmsReceiver
from tests.conftest import TEST_SECRET_KEY
from tests.support import PollTimeout, RedisServer, free_port, poll, postgres_database

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
STOP_TIMEOUT_S = 15.0


@dataclass
class ServiceProcess:
    """A child process of the test with its own log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the process group: no cleanup, as when a machine loses a worker."""
        if self.proc is not None and self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)

    def terminate(self) -> None:
        """Ask the process group to stop (SIGTERM), without waiting."""
        if self.proc is not None and self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.alive:
            self.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT_S)
        # A pool child may outlive its parent for a moment; the group takes it along.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        # Beat's once-a-second "Sending due task" lines would hide everything else.
        text = [line for line in text if "Sending due task" not in line]
        return f"--- {self.name} ---\n" + "\n".join(text[-lines:])

    @property
    def ready(self) -> bool:
        """Tell whether a Celery worker has connected and is consuming."""
        return self.log_path.exists() and " ready." in self.log_path.read_text(errors="replace")


@dataclass
class Processes:
    """All processes a test started, stopped together at its end."""

    started: list[ServiceProcess] = field(default_factory=list)

    def add(self, proc: ServiceProcess) -> ServiceProcess:
        self.started.append(proc)
        return proc.start()

    def logs(self) -> str:
        return "\n".join(p.log_tail() for p in self.started)

    def stop_all(self) -> None:
        # The test is over: no need for a graceful stop (test_run.py checks that one).
        for proc in self.started:
            proc.kill()


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    yield procs
    procs.stop_all()


@pytest.fixture
def wait_until(processes: Processes) -> Callable[..., Any]:
    """Poll `predicate` until it returns something truthy; fail with the process logs."""

    def wait(
        predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.2
    ) -> Any:
        try:
            return poll(predicate, timeout_s, what, interval_s=interval_s)
        except PollTimeout as exc:
            timed_out = str(exc)
        pytest.fail(f"{timed_out}\n{processes.logs()}")  # outside: no chained traceback

    return wait


@pytest.fixture
def functional_db() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database that the test's processes share."""
    with postgres_database() as url:
        migrate.upgrade(Settings.from_env({"MODASSIST_DATABASE_URL": url}))
        yield url


@pytest.fixture
def redis_clean(redis_server: RedisServer) -> RedisServer:
    """The private Redis, running and empty (an earlier test may have stopped it)."""
    if redis_server.proc is None:
        redis_server.start()
    client = Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def service_env(functional_db: str, redis_clean: RedisServer, tmp_path: Path) -> dict[str, str]:
    """MODASSIST_* for the processes: short sweep, stuck and backoff times for tests."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MODASSIST_DATA_DIR": str(tmp_path / "var"),
        "MODASSIST_DATABASE_URL": functional_db,
        "MODASSIST_REDIS_URL": redis_clean.url,
        "MODASSIST_SECRET_KEY": TEST_SECRET_KEY,
        "MODASSIST_STUCK_AFTER_S": "3",
        "MODASSIST_SCORE_LEASE_S": "5",
        "MODASSIST_SWEEP_INTERVAL_S": "1",
        "MODASSIST_CALLBACK_BACKOFF_FIRST_S": "0.3",
        "MODASSIST_CALLBACK_TIMEOUT_S": "2",
        "MODASSIST_UNDO_WINDOW_S": "0",
    }


@pytest.fixture
def functional_settings(service_env: dict[str, str]) -> Settings:
    return Settings.from_env(service_env)


@pytest.fixture
def functional_sessions(functional_settings: Settings) -> Iterator[Callable[[], Session]]:
    """Sessions on the processes' database, for the test to look at and seed rows."""
    engine = make_engine(functional_settings)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def start_worker(
    processes: Processes, service_env: dict[str, str], tmp_path: Path
) -> Callable[..., ServiceProcess]:
    """Start a Celery worker (one process, solo pool), on both queues unless told otherwise."""
    counter = iter(range(1, 100))

    def start(
        env: dict[str, str] | None = None, queues: str = "scoring,delivery"
    ) -> ServiceProcess:
        n = next(counter)
        argv = [
            str(VENV_BIN / "celery"),
            "-A",
            "worker.app",
            "worker",
            "--queues",
            queues,
            "--pool",
            "solo",
            "--hostname",
            f"test{n}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        return processes.add(
            ServiceProcess(f"worker{n}", argv, env or service_env, tmp_path / f"worker{n}.log")
        )

    return start


@pytest.fixture
def start_beat(
    processes: Processes, service_env: dict[str, str], tmp_path: Path
) -> Callable[[], ServiceProcess]:
    def start() -> ServiceProcess:
        argv = [
            str(VENV_BIN / "celery"),
            "-A",
            "worker.app",
            "beat",
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "--loglevel",
            "INFO",
        ]
        return processes.add(ServiceProcess("beat", argv, service_env, tmp_path / "beat.log"))

    return start


@dataclass
class WebServer:
    url: str
    process: ServiceProcess


@pytest.fixture
def web_server(
    processes: Processes,
    service_env: dict[str, str],
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> WebServer:
    """gunicorn serving the app on a free loopback port, through `modassist serve`."""
    port = free_port()
    env = {**service_env, "MODASSIST_PORT": str(port)}
    argv = [str(VENV_BIN / "modassist"), "serve", "--workers", "1"]
    proc = processes.add(ServiceProcess("web", argv, env, tmp_path / "web.log"))
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.alive, proc.log_tail()
        try:
            requests.get(f"{url}/api/v1/openapi.json", timeout=10)
        except requests.RequestException:  # not listening yet, or still importing the app
            return False
        return True

    wait_until(answers, 60, "the web server")
    return WebServer(url, proc)


@pytest.fixture
def cms() -> Iterator[CmsReceiver]:
    """The newspaper's CMS: receives callbacks (secret set by `demo_site`)."""
    receiver = CmsReceiver(secret="").start()
    yield receiver
    receiver.stop()


@dataclass(frozen=True)
class DemoSite:
    id: str
    key_id: str
    secret: str


@pytest.fixture
def demo_site(
    functional_settings: Settings, functional_sessions: Callable[[], Session], cms: CmsReceiver
) -> DemoSite:
    with functional_sessions() as session:
        site, secret = create_site(
            session, functional_settings.secret_key, "Tagesblatt", callback_url=cms.url
        )
        session.commit()
        cms.secret = secret
        return DemoSite(site.id, site.key_id, secret)


@pytest.fixture
def signed_post(demo_site: DemoSite) -> Callable[..., requests.Response]:
    """POST JSON to a URL signed with the demo site's key, as the CMS does."""

    def post(url: str, payload: dict[str, Any]) -> requests.Response:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(demo_site.key_id, demo_site.secret, body, time.time()),
        }
        return requests.post(url, data=body, headers=headers, timeout=10)

    return post


@pytest.fixture
def signed_get(demo_site: DemoSite) -> Callable[..., requests.Response]:
    def get(url: str) -> requests.Response:
        headers = signed_headers(demo_site.key_id, demo_site.secret, b"", time.time())
        return requests.get(url, headers=headers, timeout=10)

    return get


def count_rows(sessions: Callable[[], Session], statement: sa.Select[Any]) -> int:
    with sessions() as session:
        return int(session.scalar(statement) or 0)
