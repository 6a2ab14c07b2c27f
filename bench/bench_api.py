"""Print how fast the CMS API stores signed submissions, in one process, on SQLite.

Run: .venv/bin/python bench/bench_api.py [COUNT]   (default 300 requests per case)
Cases: new submissions (202), idempotent repeats (200), a rejected bad signature (401),
and the cost of signing alone. Uses Flask's test client (no network), a temporary SQLite
file and no Redis (the rate limiter counts locally), so the figures are the app's own
cost per request: parsing, signature check, validation and the database transaction.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from service.dispatch import Dispatcher
from service.settings import Settings
from service.signing import signed_headers
from service.storage import migrate, sites
from service.storage.db import make_engine, make_session_factory
from service.web import create_app
from service.web.context import Services

ROOT = Path(__file__).resolve().parents[1]
LETTER = ROOT.parent / "shared" / "seed" / "letter-2025-07-23.txt"
COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 300


def _report(name: str, durations_ms: list[float]) -> None:
    durations_ms.sort()
    p95 = durations_ms[int(len(durations_ms) * 0.95) - 1]
    print(
        f"{name:<28} n={len(durations_ms):>5}  median {statistics.median(durations_ms):7.2f} ms"
        f"  p95 {p95:7.2f} ms  {1000 / statistics.mean(durations_ms):8.1f} req/s"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {
                "MODASSIST_DATA_DIR": tmp,
                "MODASSIST_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                "MODASSIST_SECRET_KEY": "bench-key",
                "MODASSIST_RATE_LIMIT_PER_MINUTE": str(COUNT * 10),
            }
        )
        migrate.upgrade(settings)
        engine = make_engine(settings)
        sessions = make_session_factory(engine)
        with sessions() as session:
            site, secret = sites.create_site(session, settings.secret_key, "Bench")
            session.commit()
            key_id = site.key_id
        sent: list[Any] = []
        services = Services(settings, engine, sessions, Dispatcher(lambda *a: sent.append(a)))
        client = create_app(settings, services).test_client()
        text = LETTER.read_text(encoding="utf-8")

        def post(body: bytes, secret_used: str = secret) -> tuple[int, float]:
            headers = signed_headers(key_id, secret_used, body, time.time())
            start = time.perf_counter()
            response = client.post(
                "/api/v1/submissions", data=body, headers=headers, content_type="application/json"
            )
            return response.status_code, (time.perf_counter() - start) * 1000

        bodies = [
            json.dumps({"external_id": f"b-{i}", "text": text, "kind": "letter"}).encode()
            for i in range(COUNT)
        ]
        print(f"letter: {len(text)} characters, body {len(bodies[0])} bytes")
        for name, secret_used, expected in (
            ("new submission (202)", secret, 202),
            ("idempotent repeat (200)", secret, 200),
            ("bad signature (401)", "wrong", 401),
        ):
            durations = []
            for body in bodies:
                status, ms = post(body, secret_used)
                assert status == expected, (name, status)
                durations.append(ms)
            _report(name, durations)
        durations = []
        for body in bodies:
            start = time.perf_counter()
            signed_headers(key_id, secret, body, time.time())
            durations.append((time.perf_counter() - start) * 1000)
        _report("signing alone", durations)
        engine.dispose()


if __name__ == "__main__":
    main()
