"""A private modassist stack on loopback for the load bench and the drills.

Everything here is started by the bench and stopped by it (each process by its own pid):
a private redis-server, a PostgreSQL database (a throwaway database on the machine's
cluster, or a private cluster made with initdb on its own port when a drill restarts it),
gunicorn through `modassist serve`, Celery workers as the product ships them (`modassist
worker --processes N`) or through `celery -A worker.app worker`, and a CMS receiver
(tests/cms.py). Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import Settings  # noqa: E402
from service.signing import signed_headers  # noqa: E402
from service.storage import migrate  # noqa: E402
from service.storage.sites import create_site  # noqa: E402
from tests.support import RedisServer, free_port, poll  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb) on a free port, which a drill may restart."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.data = workdir / "pgdata"
        self.log = workdir / "pg.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/modassist"

    def _as_postgres(self, argv: list[str]) -> list[str]:
        # initdb refuses to run as root: run the server binaries as the postgres user.
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        subprocess.run(
            self._as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
            ),
            check=True,
            capture_output=True,
        )
        self.start()
        subprocess.run(
            [
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "modassist",
            ],
            check=True,
        )

    def start(self) -> None:
        subprocess.run(
            self._as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} "
                    "-c fsync=off -c max_connections=200",
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]
            ),
            check=False,
            capture_output=True,
        )


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, wait_s: float = 20) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(wait_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


@dataclass
class Stack:
    """Settings, site credentials and the processes of one bench or drill run."""

    tmp: Path
    env: dict[str, str]
    key_id: str = ""
    secret: str = ""
    site_id: str = ""
    web_url: str = ""
    procs: list[Proc] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.env["MODASSIST_DATABASE_URL"], pool_pre_ping=True)

    def create_site(self, callback_url: str | None = None) -> None:
        migrate.upgrade(self.settings)
        from service.storage.db import make_engine, make_session_factory

        engine = make_engine(self.settings)
        with make_session_factory(engine)() as session:
            site, secret = create_site(
                session, self.env["MODASSIST_SECRET_KEY"], "Bench", callback_url
            )
            session.commit()
            self.key_id, self.secret, self.site_id = site.key_id, secret, site.id
        engine.dispose()

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.tmp / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(
            argv,
            env=env or self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def serve(self, workers: int = 2) -> Proc:
        port = free_port()
        self.web_url = f"http://127.0.0.1:{port}"
        env = {**self.env, "MODASSIST_PORT": str(port)}
        proc = self.spawn(
            "web",
            [
                str(VENV_BIN / "modassist"),
                "serve",
                "--workers",
                str(workers),
                "--access-logfile",
                "/dev/null",
            ],
            env,
        )
        wait(lambda: _answers(f"{self.web_url}/healthz"), 60, "gunicorn", proc)
        return proc

    def worker(self, name: str, concurrency: int = 1, pool: str = "prefork") -> Proc:
        return self.spawn(
            name,
            [
                str(VENV_BIN / "celery"),
                "-A",
                "worker.app",
                "worker",
                "--queues",
                "scoring,delivery",
                "--concurrency",
                str(concurrency),
                "--pool",
                pool,
                "--hostname",
                f"{name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
        )

    def shipped_worker(self, name: str, processes: int) -> Proc:
        """Start the workers as the product ships them: `modassist worker --processes N`.

        N solo Celery processes under one supervisor, which restarts a child that dies;
        they share the supervisor's session, so `session_cpu_s(proc.popen.pid)` counts all.
        """
        return self.spawn(
            name,
            [
                str(VENV_BIN / "modassist"),
                "worker",
                "--processes",
                str(processes),
                "--hostname",
                f"{name}-{os.getpid()}@%h",
                "--loglevel",
                "WARNING",
            ],
        )

    def beat(self) -> Proc:
        return self.spawn(
            "beat",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "worker.app",
                "beat",
                "--schedule",
                str(self.tmp / "beat-schedule"),
                "--loglevel",
                "WARNING",
            ],
        )

    def post(
        self, session: requests.Session, path: str, payload: dict[str, Any]
    ) -> requests.Response:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(self.key_id, self.secret, body, time.time()),
        }
        return session.post(f"{self.web_url}{path}", data=body, headers=headers, timeout=30)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """Yield (pid, fields of /proc/pid/stat after the command name) for every live process.

    fields[0] is the state, [1] the parent pid, [3] the session id, [11] and [12] utime
    and stime in clock ticks, [19] the start time.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        yield int(entry.name), stat[stat.rindex(")") + 2 :].split()


def session_cpu_s(sid: int) -> float:
    """CPU seconds (user + system) of the live processes in session `sid` (a Proc's pid)."""
    ticks = sum(int(f[11]) + int(f[12]) for _, f in proc_stats() if int(f[3]) == sid)
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_idle(sids: list[int], timeout_s: float, interval_s: float, below_cpu_s: float) -> None:
    """Return once every session in `sids` used less than `below_cpu_s` CPU seconds in one
    `interval_s`, or after `timeout_s`: e.g. workers done loading their models, so that no
    loading overlaps a measurement."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = [session_cpu_s(sid) for sid in sids]
        time.sleep(interval_s)
        if all(session_cpu_s(sid) - b < below_cpu_s for sid, b in zip(sids, before, strict=True)):
            return


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def wait(
    predicate: Callable[[], Any], timeout_s: float, what: str, proc: Proc | None = None
) -> Any:
    """Poll `predicate` (tests.support.poll); fail at once when `proc` exits meanwhile."""

    def alive() -> None:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log.read_text()[-3000:]}")

    return poll(predicate, timeout_s, what, check=alive)


def base_env(tmp: Path, database_url: str, redis: RedisServer, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MODASSIST_DATA_DIR": str(tmp / "var"),
        "MODASSIST_DATABASE_URL": database_url,
        "MODASSIST_REDIS_URL": redis.url,
        "MODASSIST_SECRET_KEY": "bench-server-key-not-secret",
        "MODASSIST_RATE_LIMIT_PER_MINUTE": "10000000",
        "MODASSIST_LOG_LEVEL": "WARNING",
        **extra,
    }


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
