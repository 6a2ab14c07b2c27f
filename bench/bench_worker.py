"""Measure the worker's task path in one process: scoring tasks and callback deliveries.

Runs the real task functions on a fresh SQLite (default) or a throwaway PostgreSQL database
(`--postgres`), optionally with the copy index in a private redis-server (`--redis`), with
the real scorer and a CMS on loopback, and prints milliseconds per task, tasks per second
and where a scoring task spends its time (wall and this process's CPU per stage; stages
nest, so `score` is inside `task`, `redis query` inside `candidates`). The broker is left
out (the tasks' enqueue calls are only counted): this is the cost of a task once a worker
has it.

`--texts bench` scores bench_load's near-identical comments ("Leserkommentar {n}: ..."):
every one matches all earlier ones in copy detection and joins one growing campaign, so
the per-decile lines show whether a task's cost grows with the campaign.

`--celery` measures a whole worker process instead: one `celery -A worker.app worker
--pool solo` on the private Redis (the broker) and PostgreSQL, as bench_load starts it;
after its warm-up the submissions are all enqueued at once, and the worker's CPU time
(user + system, read from /proc) until the last one is scored is divided by their
number: the task plus Celery's and kombu's share (receive, acknowledge), without the
idle polling of a worker that waits for work. Needs `--postgres --redis`.

    .venv/bin/python bench/bench_worker.py [--n 300] [--postgres] [--redis] [--texts bench]
    .venv/bin/python bench/bench_worker.py --celery --postgres --redis --texts mixed [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.dispatch import Dispatcher  # noqa: E402
from service.scoring.pipeline import Scorer  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.storage import copies, copyindex, migrate  # noqa: E402
from service.storage.db import make_engine, make_session_factory  # noqa: E402
from service.storage.decisions import delivery_of, record_decision  # noqa: E402
from service.storage.models import QUEUED, Site, Submission, utcnow  # noqa: E402
from service.storage.sites import create_site  # noqa: E402
from service.storage.submissions import AuthorIn, SubmissionIn, ingest  # noqa: E402
from tests.cms import CmsReceiver  # noqa: E402
from tests.support import SEED_LETTER, RedisServer, postgres_database  # noqa: E402
from worker import learning, rules, tasks  # noqa: E402
from worker.tasks import Runtime, deliver_callback, score_submission  # noqa: E402

#: bench_load's webhook text: all of them near-identical.
BENCH_TEXT = "Leserkommentar {n}: Die Stadt hat die Gebühren erhöht, das finde ich falsch."

#: (owner, attribute, stage name): what the stage table times. Missing ones are skipped.
STAGES: list[tuple[Any, str, str]] = [
    (tasks, "_claim_submission", "claim"),
    (copies, "candidate_references", "candidates"),
    (copyindex.CopyIndex, "query", "redis query"),
    (Scorer, "score", "score"),
    (copies, "index_scored", "index_scored"),
    (copies, "assign_campaign", "campaign"),
    (copyindex.CopyIndex, "add", "redis add"),
    (learning.Learned, "signal", "likely_rejected"),
    (rules, "outcome_for", "rules"),
    (rules, "apply_rules", "rule decision"),
]


class StageClock:
    """Wall and CPU milliseconds per stage, summed over the calls of one task."""

    def __init__(self) -> None:
        self.current: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.tasks: list[dict[str, tuple[float, float]]] = []
        self.statements: list[str] = []
        self.log_sql = False

    def count_statements(self, engine: Any) -> None:
        """Count the SQL statements (and a commit as one) each task sends."""
        from sqlalchemy import event

        def statement(_conn: Any, _cursor: Any, sql: str, *_a: Any) -> None:
            self.current["sql statements"][0] += 1
            if self.log_sql:
                self.statements.append(sql.split("\n")[0][:100])

        def commit(_conn: Any) -> None:
            self.current["sql statements"][0] += 1
            if self.log_sql:
                self.statements.append("COMMIT")

        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        original = owner.__dict__.get(attr)
        if original is None:
            return
        clock = self

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                slot = clock.current[name]
                slot[0] += (time.perf_counter() - wall) * 1000
                slot[1] += (time.process_time() - cpu) * 1000

        setattr(owner, attr, timed)

    @contextlib.contextmanager
    def task(self) -> Iterator[None]:
        self.current.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.current["task"] = [
            (time.perf_counter() - wall) * 1000,
            (time.process_time() - cpu) * 1000,
        ]
        self.tasks.append({k: (v[0], v[1]) for k, v in self.current.items()})

    def print_table(self) -> None:
        names = ["task", *dict.fromkeys(s for _, _, s in STAGES)]
        print(f"{'stage':16s} {'wall ms/task':>12s} {'cpu ms/task':>12s}   (mean over tasks)")
        n = max(1, len(self.tasks))
        for name in names:
            wall = sum(t.get(name, (0.0, 0.0))[0] for t in self.tasks) / n
            cpu = sum(t.get(name, (0.0, 0.0))[1] for t in self.tasks) / n
            if wall or name == "task":
                print(f"{name:16s} {wall:12.2f} {cpu:12.2f}")
        statements = sum(t.get("sql statements", (0.0, 0.0))[0] for t in self.tasks) / n
        print(f"SQL round trips per task (statements and commits): {statements:.1f}")

    def print_deciles(self) -> None:
        """Mean task wall/CPU per tenth of the run: a cost that grows with the data shows."""
        n = len(self.tasks)
        if n < 10:
            return
        print("tasks          wall ms  cpu ms  campaign ms")
        for d in range(10):
            part = self.tasks[d * n // 10 : (d + 1) * n // 10]
            wall = statistics.mean(t["task"][0] for t in part)
            cpu = statistics.mean(t["task"][1] for t in part)
            camp = statistics.mean(t.get("campaign", (0.0, 0.0))[0] for t in part)
            print(
                f"{d * n // 10:5d}-{(d + 1) * n // 10 - 1:<5d} {wall:9.2f} {cpu:7.2f} {camp:12.2f}"
            )


def texts(n: int, kind: str) -> list[str]:
    """Comments of realistic length cut from the reference letter, each a little different."""
    if kind == "bench":
        return [BENCH_TEXT.format(n=i) for i in range(n)]
    if kind == "mixed":  # bench_load's default: distinct real comments, a few letters
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_load import Texts

        return [text for _, text in Texts("mixed", n).items]
    sentences = [s.strip() for s in SEED_LETTER.read_text(encoding="utf-8").split(".") if s]
    out = []
    for i in range(n):
        start = i % max(1, len(sentences) - 4)
        out.append(". ".join(sentences[start : start + 1 + i % 4]) + f". (Nr. {i})")
    return out


def report(name: str, durations_ms: list[float]) -> None:
    durations_ms = sorted(durations_ms)
    p95 = durations_ms[int(0.95 * (len(durations_ms) - 1))]
    total_s = sum(durations_ms) / 1000
    print(
        f"{name:10s} n={len(durations_ms):4d}  median {statistics.median(durations_ms):7.1f} ms"
        f"  p95 {p95:7.1f} ms  max {durations_ms[-1]:7.1f} ms"
        f"  -> {len(durations_ms) / total_s:6.1f} tasks/s in one process"
    )


def run(args: argparse.Namespace, tmp: str, url: str, redis_url: str) -> None:
    settings = replace(
        Settings.from_env(
            {
                "MODASSIST_DATA_DIR": tmp,
                "MODASSIST_DATABASE_URL": url,
                "MODASSIST_REDIS_URL": redis_url,
            }
        ),
        secret_key="bench-secret-key",  # noqa: S106 -- a throwaway database
    )
    migrate.upgrade(settings)
    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    enqueued: list[Any] = []
    # As a worker process has it (getattr: this bench also runs against older trees).
    factory = getattr(tasks, "scoring_session_factory", lambda _settings: None)
    scoring = factory(settings)
    extra = {"scoring_sessions": scoring} if scoring is not None else {}
    rt = Runtime(
        settings,
        sessions,
        Dispatcher(lambda name, a, q: enqueued.append(a)),
        engine=engine,
        **extra,
    )
    started = time.perf_counter()
    rt.scorer()
    print(f"scorer loaded in {(time.perf_counter() - started) * 1000:.0f} ms")
    clock = StageClock()
    clock.count_statements(engine)
    if scoring is not None:
        clock.count_statements(scoring.kw["bind"])
    for owner, attr, name in STAGES:
        clock.wrap(owner, attr, name)

    cms = CmsReceiver(secret="").start()
    with sessions() as session:
        site, secret = create_site(session, settings.secret_key, "Bench", cms.url)
        cms.secret = secret
        ids = []
        for i, text in enumerate(texts(args.n, args.texts)):
            author = AuthorIn(external_id=f"a{i}", name="A B") if args.authors else None
            row, _ = ingest(session, site, SubmissionIn(f"b{i}", text, "comment", author=author))
            ids.append(row.id)
        session.commit()

    score_ms = []
    # CPU time, not wall time: on a shared machine waits would drown everything else.
    profile = cProfile.Profile(time.process_time) if args.profile else None
    for submission_id in ids:
        t0 = time.perf_counter()
        with clock.task():
            if profile is not None:
                profile.enable()
            assert score_submission(rt, submission_id).outcome == "scored"
            if profile is not None:
                profile.disable()
        score_ms.append((time.perf_counter() - t0) * 1000)
    if profile is not None:
        pstats.Stats(profile).sort_stats(args.profile).print_stats(args.profile_lines)
    report("score", score_ms)
    if args.show_sql:
        clock.log_sql = True
        with sessions() as session:
            site = session.get(type(site), site.id)
            assert site is not None
            row, _ = ingest(session, site, SubmissionIn("last", texts(1, args.texts)[0], "comment"))
            session.commit()
        with clock.task():
            score_submission(rt, row.id)
        print("SQL of one more task:", *clock.statements, sep="\n  ")
    clock.print_table()
    clock.print_deciles()

    deliveries = []
    with sessions() as session:
        for submission_id in ids:
            row = session.get(Submission, submission_id)
            assert row is not None
            decision = record_decision(session, row, "approved", None, actor="bench", now=utcnow())
            delivery = delivery_of(session, decision)
            assert delivery is not None
            deliveries.append(delivery.id)
        session.commit()
    deliver_ms = []
    for delivery_id in deliveries:
        t0 = time.perf_counter()
        assert deliver_callback(rt, delivery_id) == "delivered"
        deliver_ms.append((time.perf_counter() - t0) * 1000)
    report("deliver", deliver_ms)
    cms.stop()
    engine.dispose()


def run_celery(args: argparse.Namespace, tmp: str, url: str, redis_url: str) -> None:
    """CPU per scoring task of a real solo Celery worker draining a backlog."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sqlalchemy as sa
    from stack import Stack, session_cpu_s, wait, wait_idle

    from service.dispatch import Dispatcher, celery_sender

    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),  # the tree under test, also for an A/B copy of it
        "MODASSIST_DATA_DIR": str(Path(tmp) / "var"),
        "MODASSIST_DATABASE_URL": url,
        "MODASSIST_REDIS_URL": redis_url,
        "MODASSIST_SECRET_KEY": "bench-secret-key",
        "MODASSIST_LOG_LEVEL": "WARNING",
    }
    stack = Stack(Path(tmp), env)
    stack.create_site()
    settings = stack.settings
    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    dispatcher = Dispatcher(celery_sender(settings))
    all_texts = texts(args.n * args.repeat + 1, args.texts)

    def ingest_batch(prefix: str, batch: list[str]) -> list[str]:
        with sessions() as session:
            site = session.get(Site, stack.site_id)
            assert site is not None
            ids = [
                ingest(session, site, SubmissionIn(f"{prefix}{i}", text, "comment"))[0].id
                for i, text in enumerate(batch)
            ]
            session.commit()
        return ids

    def scored(ids: list[str]) -> bool:
        with engine.connect() as conn:
            done = conn.scalar(
                sa.select(sa.func.count())
                .select_from(Submission)
                .where(Submission.id.in_(ids), Submission.status != QUEUED)
            )
        return done == len(ids)

    worker = stack.worker("worker", pool="solo")
    try:
        warm = ingest_batch("warm", all_texts[:1])
        dispatcher.enqueue_score(warm[0])
        wait(lambda: scored(warm), 300, "the worker to load its models", worker)
        pid = worker.popen.pid
        # Idle: no model loading inside the measurement.
        wait_idle([pid], timeout_s=120, interval_s=1, below_cpu_s=0.05)
        for r in range(args.repeat):
            ids = ingest_batch(f"r{r}-", all_texts[1 + r * args.n : 1 + (r + 1) * args.n])
            load = os.getloadavg()[0]
            cpu0, wall0 = session_cpu_s(pid), time.perf_counter()
            for submission_id in ids:
                dispatcher.enqueue_score(submission_id)
            wait(lambda ids=ids: scored(ids), 600, "the backlog to be scored", worker)
            cpu, wall = session_cpu_s(pid) - cpu0, time.perf_counter() - wall0
            print(
                f"celery solo worker, run {r + 1}: {args.n} tasks in {wall:.1f} s, "
                f"worker CPU {1000 * cpu / args.n:.2f} ms per task "
                f"(load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end)",
                flush=True,
            )
    finally:
        stack.stop_all()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--database-url", default="", help="an existing, empty database")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway database on 127.0.0.1:5432"
    )
    parser.add_argument("--redis", action="store_true", help="copy index in a private Redis")
    parser.add_argument("--texts", choices=("seed", "bench", "mixed"), default="seed")
    parser.add_argument(
        "--authors", action="store_true", help="each submission with its own author"
    )
    parser.add_argument("--show-sql", action="store_true", help="list one task's SQL")
    parser.add_argument(
        "--profile", choices=("cumulative", "tottime"), help="cProfile the scoring tasks"
    )
    parser.add_argument("--profile-lines", type=int, default=40)
    parser.add_argument(
        "--celery", action="store_true", help="a real solo Celery worker's CPU per task"
    )
    parser.add_argument("--repeat", type=int, default=1, help="--celery: measured runs")
    args = parser.parse_args()
    if args.celery and not (args.postgres and args.redis):
        parser.error("--celery needs --postgres and --redis")

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        if args.postgres:
            url = stack.enter_context(postgres_database())
        redis_url = ""
        if args.redis:
            server = RedisServer(Path(tmp) / "redis")
            server.start()
            stack.callback(server.stop)
            redis_url = server.url
        print(
            f"database {url.split(':')[0]}, copy index {'Redis' if redis_url else 'off'}, "
            f"texts {args.texts}, n={args.n}"
        )
        (run_celery if args.celery else run)(args, tmp, url, redis_url)


if __name__ == "__main__":
    main()
