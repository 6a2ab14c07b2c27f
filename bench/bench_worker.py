"""Measure the worker's task path in one process: scoring tasks and callback deliveries.

Runs the real task functions on a fresh SQLite (default) or PostgreSQL database, with the
real scorer and a CMS on loopback, and prints milliseconds per task and tasks per second.
The broker is left out (the tasks' enqueue calls are only counted): this is the cost of a
task once a worker has it.

    .venv/bin/python bench/bench_worker.py [--n 100] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.dispatch import Dispatcher  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.storage import migrate  # noqa: E402
from service.storage.db import make_engine, make_session_factory  # noqa: E402
from service.storage.decisions import delivery_of, record_decision  # noqa: E402
from service.storage.models import Submission, utcnow  # noqa: E402
from service.storage.sites import create_site  # noqa: E402
from service.storage.submissions import AuthorIn, SubmissionIn, ingest  # noqa: E402
from tests.cms import CmsReceiver  # noqa: E402
from tests.support import SEED_LETTER  # noqa: E402
from worker.tasks import Runtime, deliver_callback, score_submission  # noqa: E402


def texts(n: int) -> list[str]:
    """Comments of realistic length cut from the reference letter, each a little different."""
    sentences = [s.strip() for s in SEED_LETTER.read_text(encoding="utf-8").split(".") if s]
    out = []
    for i in range(n):
        start = i % max(1, len(sentences) - 4)
        out.append(". ".join(sentences[start : start + 1 + i % 4]) + f". (Nr. {i})")
    return out


def report(name: str, durations_ms: list[float]) -> None:
    durations_ms.sort()
    p95 = durations_ms[int(0.95 * (len(durations_ms) - 1))]
    total_s = sum(durations_ms) / 1000
    print(
        f"{name:10s} n={len(durations_ms):4d}  median {statistics.median(durations_ms):7.1f} ms"
        f"  p95 {p95:7.1f} ms  max {durations_ms[-1]:7.1f} ms"
        f"  -> {len(durations_ms) / total_s:6.1f} tasks/s in one process"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = replace(
            Settings.from_env({"MODASSIST_DATA_DIR": tmp, "MODASSIST_DATABASE_URL": url}),
            secret_key="bench-secret-key",  # noqa: S106 -- a throwaway database
        )
        migrate.upgrade(settings)
        engine = make_engine(settings)
        sessions = make_session_factory(engine)
        enqueued: list[Any] = []
        rt = Runtime(
            settings,
            sessions,
            Dispatcher(lambda name, a, q: enqueued.append(a)),
            engine=engine,
        )
        started = time.perf_counter()
        rt.scorer()
        print(f"scorer loaded in {(time.perf_counter() - started) * 1000:.0f} ms")

        cms = CmsReceiver(secret="").start()
        with sessions() as session:
            site, secret = create_site(session, settings.secret_key, "Bench", cms.url)
            cms.secret = secret
            ids = []
            for i, text in enumerate(texts(args.n)):
                row, _ = ingest(
                    session,
                    site,
                    SubmissionIn(f"b{i}", text, "comment", author=AuthorIn(name="A B")),
                )
                ids.append(row.id)
            session.commit()

        score_ms = []
        for submission_id in ids:
            t0 = time.perf_counter()
            assert score_submission(rt, submission_id).outcome == "scored"
            score_ms.append((time.perf_counter() - t0) * 1000)
        report("score", score_ms)

        deliveries = []
        with sessions() as session:
            for submission_id in ids:
                row = session.get(Submission, submission_id)
                assert row is not None
                decision = record_decision(
                    session, row, "approved", None, actor="bench", now=utcnow()
                )
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


if __name__ == "__main__":
    main()
