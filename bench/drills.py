"""Fault drills on a private stack: nothing accepted is lost, nothing is delivered twice.

Run: .venv/bin/python bench/drills.py [--n 40] [--only NAME ...]

One stack for all drills, all on 127.0.0.1: a private PostgreSQL cluster (initdb, its own
port — never the machine's cluster), a private redis-server, gunicorn (`modassist serve`),
the workers as shipped (`modassist worker --processes 2`: two solo Celery processes under
one supervisor; `--workers prefork` for two `celery worker` processes), beat (sweep every
second, stuck after 3 s, scoring lease 5 s, callback backoff from 0.3 s) and a CMS on
loopback that checks every signature. Each drill sends a
burst of signed submissions as a CMS does (a refused or failed request is sent again until
it is accepted, at most 60 s), injects its fault, waits for every submission to be scored,
decides each through the API, waits for the callbacks, and prints one row:
submitted, scored, decided, delivered, lost (accepted but not delivered within the
bound) and duplicates (decisions the CMS received more than once).

Drills: postgres (the cluster stopped and started during the burst), redis (the broker
stopped and started during the burst, losing its queues), cms_down (the CMS refuses
connections for 20 s while callbacks are due), same_webhook (each submission posted 10
times concurrently), worker_kill (a worker SIGKILLed mid-batch; as shipped its supervisor
starts a new one, with prefork the drill does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack import PrivatePostgres, Stack, base_env, proc_stats, temp_dir, wait

from service.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.support import RedisServer, free_port

TEXT = "Leserbrief {n}: Die Stadt hat die Gebühren um 40 Prozent erhöht, das ist falsch."
BOUND_S = 150.0


class Cms:
    """The newspaper's CMS on a fixed loopback port; `down()` closes the port entirely."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.port = free_port()
        self.received: Counter[str] = Counter()
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    def up(self) -> None:
        cms = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify(
                    cms.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                with cms._lock:
                    if ok:
                        cms.received[json.loads(body)["submission"]["external_id"]] += 1
                    else:
                        cms.bad_signatures += 1
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class Drills:
    def __init__(
        self,
        stack: Stack,
        cms: Cms,
        pg: PrivatePostgres,
        redis: RedisServer,
        shipped: bool = True,
    ) -> None:
        self.stack, self.cms, self.pg, self.redis = stack, cms, pg, redis
        self.shipped = shipped
        self.engine = stack.engine()
        self.rows: list[str] = []
        self.refused = 0
        self._lock = threading.Lock()

    # --- the CMS side ------------------------------------------------------------------

    def _post_until_accepted(
        self, session: requests.Session, path: str, payload: dict[str, Any]
    ) -> int:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = self.stack.post(session, path, payload)
                if answer.status_code < 300 or answer.status_code == 409:
                    return answer.status_code
            except requests.RequestException:
                pass
            with self._lock:
                self.refused += 1
            if time.monotonic() > deadline:
                return 0
            time.sleep(0.5)

    def submit(
        self, prefix: str, n: int, copies: int = 1, during: Callable[[], None] | None = None
    ) -> int:
        """Send n submissions (each `copies` times at once); run `during` a third in."""
        payloads = [
            {
                "external_id": f"{prefix}-{k}",
                "text": TEXT.format(n=k),
                "kind": "letter",
                "author": {"id": f"r{k}", "name": "Erika Muster", "location": "Kiel"},
            }
            for k in range(n)
        ]
        jobs = [p for p in payloads for _ in range(copies)]
        fault: threading.Thread | None = None
        accepted: set[str] = set()
        index = iter(range(len(jobs)))

        def sender() -> None:
            nonlocal fault
            session = requests.Session()
            for i in index:
                if during is not None and i == len(jobs) // 3:
                    fault = threading.Thread(target=during)
                    fault.start()
                if self._post_until_accepted(session, "/api/v1/submissions", jobs[i]):
                    with self._lock:
                        accepted.add(jobs[i]["external_id"])
                time.sleep(0.02)

        threads = [threading.Thread(target=sender) for _ in range(max(8, copies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if fault is not None:
            fault.join()
        return len(accepted)

    def _ids(self, prefix: str, status: str | None = None) -> list[tuple[str, str]]:
        query = "SELECT id, external_id FROM submissions WHERE external_id LIKE :p"
        if status:
            query += " AND status = :s"
        for _ in range(60):  # the database may be restarting
            try:
                with self.engine.connect() as conn:
                    return [
                        (r[0], r[1])
                        for r in conn.execute(sa.text(query), {"p": f"{prefix}-%", "s": status})
                    ]
            except sa.exc.OperationalError:
                time.sleep(1)
        raise RuntimeError("database did not come back")

    def run(
        self,
        name: str,
        n: int,
        copies: int = 1,
        during: Callable[[], None] | None = None,
        after_decide: Callable[[], None] | None = None,
    ) -> None:
        started = time.monotonic()
        self.refused = 0
        submitted = self.submit(name, n, copies, during)
        rows = self._ids(name)
        with contextlib.suppress(TimeoutError):  # count what made it within the bound
            wait(lambda: len(self._ids(name, "scored")) >= len(rows), BOUND_S, f"{name}: scores")
        scored = self._ids(name, "scored")
        session = requests.Session()
        decided = 0
        for k, (sid, _ext) in enumerate(scored):
            decision = {"decision": "approved" if k % 2 else "rejected", "reason": "Drill"}
            status = self._post_until_accepted(
                session, f"/api/v1/submissions/{sid}/decision", decision
            )
            decided += status == 201
        if after_decide is not None:
            after_decide()
        externals = {ext for _sid, ext in rows}
        with contextlib.suppress(TimeoutError):
            wait(lambda: externals <= set(self.cms.received), BOUND_S, f"{name}: callbacks")
        time.sleep(2)  # a late duplicate would arrive now
        delivered = len(externals & set(self.cms.received))
        duplicates = sum(1 for e in externals if self.cms.received[e] > 1)
        extra_rows = len(rows) - submitted
        lost = submitted - delivered
        row = (
            f"| {name} | {submitted} | {len(scored)} | {decided} | {delivered} | {lost} | "
            f"{duplicates} | {extra_rows} | {self.refused} | {time.monotonic() - started:.0f} s |"
        )
        print(row, flush=True)
        self.rows.append(row)

    # --- the faults --------------------------------------------------------------------

    def postgres(self, n: int) -> None:
        def restart() -> None:
            print(f"  PostgreSQL stopped, {len(self._ids('postgres'))} of {n} stored", flush=True)
            self.pg.stop("fast")
            time.sleep(4)
            self.pg.start()

        self.run("postgres", n, during=restart)

    def redis_restart(self, n: int) -> None:
        def restart() -> None:
            assert self.redis.proc is not None
            stored = len(self._ids("redis"))
            self.redis.proc.kill()  # no persistence: the queued task ids are gone
            print(f"  Redis killed, {stored} of {n} stored", flush=True)
            self.redis.proc.wait(10)
            time.sleep(4)
            self.redis.start()

        self.run("redis", n, during=restart)

    def cms_down(self, n: int) -> None:
        self.cms.down()

        def back_up() -> None:
            time.sleep(20)
            self.cms.up()

        self.run("cms_down", n, after_decide=back_up)

    def same_webhook(self, n: int) -> None:
        self.run("same_webhook", max(10, n // 2), copies=10)

    def worker_kill(self, n: int) -> None:
        def kill() -> None:
            # Mid-batch: once a few are scored and most are still waiting.
            wait(lambda: len(self._ids("worker_kill", "scored")) >= 3, 60, "first scores")
            done = len(self._ids("worker_kill", "scored"))
            if self.shipped:
                # One solo process of `modassist worker --processes 2`: its supervisor
                # starts a new one, nobody else does.
                supervisor = next(p for p in self.stack.procs if p.name == "workers")
                child = _children(supervisor.popen.pid)[0]
                os.kill(child, signal.SIGKILL)
                print(f"  solo worker {child} SIGKILLed with {done} of {n} scored", flush=True)
                return
            victim = next(
                p for p in self.stack.procs if p.name == "worker-a" and p.popen.poll() is None
            )
            os.killpg(victim.popen.pid, signal.SIGKILL)
            print(f"  worker-a SIGKILLed with {done} of {n} scored", flush=True)
            victim.popen.wait(10)
            self.stack.worker("worker-a", concurrency=1)

        self.run("worker_kill", n, during=kill)


DRILLS = ["postgres", "redis", "cms_down", "same_webhook", "worker_kill"]


def _children(pid: int) -> list[int]:
    """Return the pids of the live child processes of `pid`, oldest first."""
    found = [(int(f[19]), p) for p, f in proc_stats() if int(f[1]) == pid and f[0] != "Z"]
    return [child for _, child in sorted(found)]  # by start time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--only", nargs="*", default=DRILLS, choices=DRILLS)
    parser.add_argument(
        "--workers",
        default="shipped",
        choices=("shipped", "prefork"),
        help="shipped: `modassist worker --processes 2` (solo processes, supervised), as "
        "make run and compose run them; prefork: two `celery worker` processes",
    )
    args = parser.parse_args()
    tmp = temp_dir("drills-")
    # The private cluster runs as the postgres user, which must reach its folder.
    os.chmod(tmp, 0o755)  # noqa: S103
    pg = PrivatePostgres(tmp / "pg")
    redis = RedisServer(tmp / "redis")
    cms = Cms()
    header = [
        f"drills {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start (shared machine); workers: "
        + (
            "`modassist worker --processes 2` (as shipped)"
            if args.workers == "shipped"
            else "two `celery worker --concurrency 1` (prefork)"
        ),
        "| drill | submitted | scored | decided | delivered | lost | duplicates | extra rows "
        "| requests retried by the CMS | took |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(header), flush=True)
    pg.init()
    redis.start()
    stack = Stack(
        tmp,
        base_env(
            tmp,
            pg.url,
            redis,
            MODASSIST_STUCK_AFTER_S="3",
            MODASSIST_SCORE_LEASE_S="5",
            MODASSIST_SWEEP_INTERVAL_S="1",
            MODASSIST_CALLBACK_BACKOFF_FIRST_S="0.3",
            MODASSIST_CALLBACK_MAX_ATTEMPTS="30",
            MODASSIST_CALLBACK_TIMEOUT_S="2",
            MODASSIST_UNDO_WINDOW_S="0",
        ),
    )
    drills: Drills | None = None
    try:
        stack.create_site(callback_url=cms.url)
        cms.secret = stack.secret
        cms.up()
        stack.serve(workers=2)
        if args.workers == "shipped":
            stack.shipped_worker("workers", processes=2)
        else:
            stack.worker("worker-a", concurrency=1)
            stack.worker("worker-b", concurrency=1)
        stack.beat()
        drills = Drills(stack, cms, pg, redis, shipped=args.workers == "shipped")
        for name in args.only:
            {
                "postgres": drills.postgres,
                "redis": drills.redis_restart,
                "cms_down": drills.cms_down,
                "same_webhook": drills.same_webhook,
                "worker_kill": drills.worker_kill,
            }[name](args.n)
    finally:
        if drills is not None:
            drills.engine.dispose()
        stack.stop_all()
        cms.down()
        redis.stop()
        pg.stop("immediate")
    results = Path(__file__).with_name("results") / "drills.txt"
    results.write_text("\n".join(header + (drills.rows if drills else [])) + "\n")
    print(f"written to {results}; bad signatures seen by the CMS: {cms.bad_signatures}")


if __name__ == "__main__":
    main()
