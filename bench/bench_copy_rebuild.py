"""Benchmark the copy index's recovery after a Redis loss: detection and rebuild from the database.

Fills a throwaway PostgreSQL database (tests.support.postgres_database) with articles and
scored submissions made from ../shared/data texts (as bench_copy.py's filler), lets
`service.storage.copywatch.watch` build the index in a private redis-server, restarts that
server empty, checks that the loss is seen (marker missing, look-ups find nothing) and
lets the watch rebuild in its normal steps (`budget_s` per call, called again at once, as
the worker's beat task does). Prints texts per second (wall and per CPU-second of this
process and of Redis) and what that means for 1,000,000 submissions + 100,000 articles.
Then rebuilds the ready index once more as `modassist copyindex rebuild` does
(`copywatch.rebuild`: the same steps in one call) and prints the same figures.

    nice -n 19 .venv/bin/python bench/bench_copy_rebuild.py [--submissions 100000]
        [--articles 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_copy import filler_text, load_pool  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.storage import copywatch, migrate  # noqa: E402
from service.storage.copyindex import CopyIndex  # noqa: E402
from service.storage.db import make_engine, make_session_factory  # noqa: E402
from service.storage.models import SCORED, Article, Submission, new_id, utcnow  # noqa: E402
from service.storage.sites import create_site  # noqa: E402
from tests.support import RedisServer, postgres_database  # noqa: E402

INSERT_BATCH = 5000


def fill(engine: sa.Engine, site_id: str, pool: list[str], articles: int, subs: int) -> None:
    now = utcnow()
    with engine.begin() as conn:
        for first in range(0, articles, INSERT_BATCH):
            conn.execute(
                sa.insert(Article),
                [
                    {
                        "id": new_id(),
                        "site_id": site_id,
                        "external_id": f"fa{k}",
                        "title": f"Artikel {k}",
                        "text": filler_text(f"fa{k}", pool),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for k in range(first, min(first + INSERT_BATCH, articles))
                ],
            )
        for first in range(0, subs, INSERT_BATCH):
            rows = []
            for k in range(first, min(first + INSERT_BATCH, subs)):
                text = filler_text(f"fs{k}", pool)
                rows.append(
                    {
                        "id": new_id(),
                        "site_id": site_id,
                        "external_id": f"fs{k}",
                        "kind": "comment",
                        "text": text,
                        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                        "status": SCORED,
                        "attempts": 1,
                        "received_at": now,
                        "updated_at": now,
                        "scored_at": now,
                    }
                )
            conn.execute(sa.insert(Submission), rows)


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def rebuild(
    client: redis.Redis, factory: sa.orm.sessionmaker[sa.orm.Session], budget_s: float
) -> tuple[float, float, float, int]:
    """Call watch until ready; return (wall s, own CPU s, Redis CPU s, calls)."""
    calls = 0

    def steps() -> None:
        nonlocal calls
        while True:
            calls += 1
            state = copywatch.watch(client, factory, budget_s=budget_s)
            if calls % 10 == 0:
                print(f"  ... {state.done} of {state.total} texts", flush=True)
            if state.state == copywatch.READY:
                return

    wall, cpu, server_cpu = timed(client, steps)
    return wall, cpu, server_cpu, calls


def timed(client: redis.Redis, work: Callable[[], object]) -> tuple[float, float, float]:
    """Run `work`; return (wall s, own CPU s, Redis CPU s)."""
    wall, cpu, server = time.monotonic(), time.process_time(), redis_cpu(client)
    work()
    return time.monotonic() - wall, time.process_time() - cpu, redis_cpu(client) - server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--budget-seconds", type=float, default=copywatch.DEFAULT_BUDGET_S)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    pool = load_pool()
    server = RedisServer(Path("/tmp") / f"bench-copy-rebuild-{time.time_ns()}")
    server.start()
    try:
        with postgres_database() as url:
            settings = Settings.from_env({"MODASSIST_DATABASE_URL": url})
            migrate.upgrade(settings)
            engine = make_engine(settings)
            factory = make_session_factory(engine)
            with factory() as session:
                site, _ = create_site(session, "bench-key-not-secret", "Bench", None)
                session.commit()
                site_id = site.id
            started = time.monotonic()
            fill(engine, site_id, pool, args.articles, args.submissions)
            texts = args.articles + args.submissions
            print(
                f"database: {args.articles} articles + {args.submissions} scored submissions "
                f"(filler as in bench_copy.py), written in {time.monotonic() - started:.0f} s"
            )
            client = redis.Redis.from_url(server.url, socket_timeout=60)
            wall, cpu, server_cpu, calls = rebuild(client, factory, args.budget_seconds)
            print(
                f"first start (no marker): index built in {wall:.0f} s, {calls} watch calls; "
                f"{texts / wall:.0f} texts/s wall"
            )
            server.stop()
            server.start()  # empty: the private server never saves
            client = redis.Redis.from_url(server.url, socket_timeout=60)
            probe = filler_text("fs7", pool)
            lost = CopyIndex(client, f"site:{site_id}").query(probe)
            print(
                f"after the restart: marker {copywatch.status(client).state}, "
                f"look-up of an indexed text finds {len(lost)} candidates"
            )
            load = os.getloadavg()[0]
            wall, cpu, server_cpu, calls = rebuild(client, factory, args.budget_seconds)
            found = CopyIndex(client, f"site:{site_id}").query(probe)
            print(
                f"rebuild after the loss: {texts} texts in {wall:.0f} s wall, {calls} watch "
                f"calls of <= {args.budget_seconds:.0f} s; CPU: this process {cpu:.0f} s "
                f"(fingerprints, database reads), Redis {server_cpu:.0f} s"
            )
            print(
                f"  {texts / wall:.0f} texts/s wall, {texts / cpu:.0f} per CPU-second here, "
                f"{texts / max(server_cpu, 1e-9):.0f} per Redis CPU-second; the look-up "
                f"finds {len(found)} candidates again"
            )
            print(
                f"  at that rate 1,000,000 submissions + 100,000 articles take about "
                f"{1.1e6 / (texts / wall) / 60:.0f} min (load average {load:.1f} at the start, "
                f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores, "
                f"priority {os.getpriority(os.PRIO_PROCESS, 0)})"
            )
            load = os.getloadavg()[0]
            wall, cpu, server_cpu = timed(client, lambda: copywatch.rebuild(client, factory))
            print(
                f"`modassist copyindex rebuild` (copywatch.rebuild, the ready index again): "
                f"{texts} texts in {wall:.0f} s wall, {texts / wall:.0f} texts/s wall, "
                f"{texts / cpu:.0f} per CPU-second here, "
                f"{texts / max(server_cpu, 1e-9):.0f} per Redis CPU-second (load average "
                f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)"
            )
            client.close()
            engine.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
