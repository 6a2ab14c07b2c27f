"""Measure the queue's server time with a million submissions in PostgreSQL.

Creates a throwaway database on 127.0.0.1:5432, fills it with INSERT … SELECT
generate_series (submissions and their results, a realistic mix of statuses), then times
requests through the whole Flask app (routing, session, queries, templates) and prints
p50/p95 for: the first queue page, an item page (which also claims the item), the
filter counts (fetched by the page after it has rendered), the live-update poll, and a
deep keyset page. Drops the database at the end.

    .venv/bin/python bench/bench_queue.py [--rows 1000000] [--requests 40]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.settings import Settings
from service.storage import migrate
from service.storage.db import make_engine, make_session_factory
from service.web import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.queue_support import PASSWORD, make_site, make_user
from tests.support import postgres_database

FILL_SUBMISSIONS = """
INSERT INTO submissions (id, site_id, external_id, kind, text, text_sha256, language,
    received_at, updated_at, status, priority, attempts, scored_at, article_external_id)
SELECT md5(g::text), :site, 'ext-' || g,
    CASE WHEN g % 5 = 0 THEN 'letter' ELSE 'comment' END,
    'Leserkommentar Nummer ' || g || '. ' || repeat('Ein ganz normaler Satz dazu. ', 8),
    md5('t' || g) || md5('u' || g), CASE WHEN g % 10 = 0 THEN 'en' ELSE 'de' END,
    now() - (g || ' seconds')::interval, now(),
    CASE WHEN g % 100 < 20 THEN 'scored' WHEN g % 100 < 80 THEN 'approved'
         WHEN g % 100 < 98 THEN 'rejected' WHEN g % 100 = 98 THEN 'failed' ELSE 'queued' END,
    CASE WHEN g % 100 < 98 THEN ((g::bigint * 7919) % 10007) / 10007.0 END,
    1, now(), 'art-' || (g % 500)
FROM generate_series(1, :rows) AS g
"""

FILL_RESULTS = """
INSERT INTO results (id, submission_id, model_version, priority, data, created_at)
SELECT md5('r' || g), md5(g::text), 'bench.1', ((g::bigint * 7919) % 10007) / 10007.0,
    jsonb_build_object(
        'language', 'de', 'model_version', 'bench.1',
        'priority', ((g::bigint * 7919) % 10007) / 10007.0,
        'signals', jsonb_build_object(
            'toxicity', jsonb_build_object('score', (g % 97) / 97.0,
                'flagged', (g % 97) >= 49, 'threshold', 0.5),
            'inflammatory', jsonb_build_object('score', (g % 89) / 89.0,
                'flagged', (g % 89) >= 70, 'threshold', 0.5),
            'policy', jsonb_build_object('score', 0.0, 'flagged', false, 'threshold', 0.5)),
        'spans', jsonb_build_array(jsonb_build_object('start', 0, 'end', 15,
            'signal', 'inflammatory', 'reason', 'bench')),
        'sentences', jsonb_build_array(jsonb_build_object('start', 0, 'end', 30,
            'claim', 'unsourced'))),
    now()
FROM generate_series(1, :rows) AS g WHERE g % 100 < 98
"""


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (n={len(ordered)})"


def timed(n: int, call: Callable[[int], int]) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        status = call(i)
        out.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"request answered {status}")
    return out


def explain(engine: sa.Engine, session: Any, site_id: str, cursor: str | None) -> None:
    """Print PostgreSQL's plan and timing of the page queries as the app sends them."""
    from service.storage import queue as store

    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: Any) -> None:
        statements.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    store.list_page(session, site_id, store.QueueFilter())
    store.list_page(session, site_id, store.QueueFilter(), cursor=cursor)
    store.facets(session, site_id, store.QueueFilter())
    sa.event.remove(engine, "before_cursor_execute", capture)
    for statement, params in statements:
        if "FROM submissions" not in statement:
            continue
        plan = session.connection().exec_driver_sql("EXPLAIN ANALYZE " + statement, params)
        print("\n".join(r[0] for r in plan), "\n---")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--explain", action="store_true", help="print the query plans too")
    args = parser.parse_args()
    with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        settings = replace(
            Settings.from_env({"MODASSIST_DATABASE_URL": url, "MODASSIST_DATA_DIR": tmp}),
            secret_key=TEST_SECRET_KEY,
        )
        migrate.upgrade(settings)
        engine = make_engine(settings)
        with make_session_factory(engine)() as session:
            site = make_site(session, "Benchblatt")
            make_user(session, site, "bench@example.org")
            site_id = site.id
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text(FILL_SUBMISSIONS), {"site": site_id, "rows": args.rows})
            conn.execute(sa.text(FILL_RESULTS), {"rows": args.rows})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE submissions"))
            conn.execute(sa.text("VACUUM ANALYZE results"))
        print(f"filled {args.rows:,} submissions in {time.perf_counter() - started:.0f} s")

        app = create_app(settings)
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        answer = client.post("/login", data={"email": "bench@example.org", "password": PASSWORD})
        assert answer.status_code == 302, answer.status_code
        first = client.get("/queue/").get_data(as_text=True)
        ids = re.findall(r'data-id="([0-9a-f]+)"', first)
        cursor = re.search(r"after=([A-Za-z0-9_-]+)", first)
        assert ids and cursor, "the first page is empty"
        # Walk 20 pages deep for a realistic deep cursor.
        deep = cursor.group(1)
        for _ in range(20):
            page = client.get(f"/queue/?after={deep}").get_data(as_text=True)
            found = re.search(r"after=([A-Za-z0-9_-]+)", page)
            assert found
            deep = found.group(1)

        n = args.requests
        print(f"server time over {n} requests each ({args.rows:,} rows, 20 % open):")
        print(
            "  first queue page      ",
            percentiles(timed(n, lambda i: client.get("/queue/").status_code)),
        )
        print(
            "  item page (+ claim)   ",
            percentiles(
                timed(n, lambda i: client.get(f"/queue/items/{ids[i % len(ids)]}").status_code)
            ),
        )
        print(
            "  page 21 (keyset)      ",
            percentiles(timed(n, lambda i: client.get(f"/queue/?after={deep}").status_code)),
        )
        print(
            "  filtered: toxic       ",
            percentiles(timed(n, lambda i: client.get("/queue/?signal=toxicity").status_code)),
        )
        print(
            "  live-update poll      ",
            percentiles(
                timed(n, lambda i: client.get("/queue/poll?since=2000-01-01T00:00:00").status_code)
            ),
        )
        print(
            "  filter counts (async) ",
            percentiles(timed(max(5, n // 4), lambda i: client.get("/queue/facets").status_code)),
        )
        # The database part alone, to tell query time from rendering and machine load.
        from service.storage import queue as store

        with make_session_factory(engine)() as session:
            first_page = store.list_page(session, site_id, store.QueueFilter())
            cursor_deep = first_page.next_cursor
            for _ in range(20):
                cursor_deep = store.list_page(
                    session, site_id, store.QueueFilter(), cursor=cursor_deep
                ).next_cursor
            toxic = store.QueueFilter(signal="toxicity")

            def query(call: Callable[[], object]) -> Callable[[int], int]:
                def run(_i: int) -> int:
                    call()
                    return 200

                return run

            print("query time only (service.storage.queue):")
            print(
                "  first page            ",
                percentiles(
                    timed(n, query(lambda: store.list_page(session, site_id, store.QueueFilter())))
                ),
            )
            print(
                "  page 21               ",
                percentiles(
                    timed(
                        n,
                        query(
                            lambda: store.list_page(
                                session, site_id, store.QueueFilter(), cursor=cursor_deep
                            )
                        ),
                    )
                ),
            )
            print(
                "  filtered: toxic       ",
                percentiles(timed(n, query(lambda: store.list_page(session, site_id, toxic)))),
            )
            if args.explain:
                explain(engine, session, site_id, cursor_deep)
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        app.extensions["modassist"].engine.dispose()
        engine.dispose()


if __name__ == "__main__":
    main()
