"""Load on the signed webhook under gunicorn, real Redis and PostgreSQL, on loopback only.

Run: .venv/bin/python bench/bench_load.py [--step-s 6] [--e2e-s 20]   (needs Debian's wrk)

1. Ingest: wrk (one thread, closed loop) POSTs pre-signed, distinct submissions to
   /api/v1/submissions at rising concurrency (1, 4, 16, 32 connections), `--step-s`
   seconds each: requests/s, accepted (new rows counted in the database)/s, p50 and p99
   latency, error share, gunicorn's CPU milliseconds per accepted submission. No workers
   run, so this is the web tier alone.
2. The same server and settings on GET /healthz at 16 connections: the webhook's
   throughput as a share of what the stack serves for a trivial endpoint.
3. End to end: Celery workers (default as shipped: `modassist worker --processes 4`, four
   solo processes under one supervisor; see below), then a
   steady 100 submissions/s (paced sender threads; `--e2e-rate`) for `--e2e-s` seconds;
   time from receipt to stored score per submission (received_at → scored_at in the
   database), p50/p95/max, how many were scored within 60 s after the last send, and the
   CPU milliseconds per submission of the web server and of the workers (PostgreSQL and
   Redis not counted). `--texts mixed` (default): distinct ~400-character comments sampled
   from the German corpora in ../shared/data, every 50th a ~2,000-character letter (a
   newsroom's normal traffic); `--texts campaign`: near-identical one-line comments, each
   matching up to 20 earlier ones (a copy campaign, copy detection's worst case; results
   go to load-e2e-RATE-campaign.txt).

Worker processes for the end-to-end phase: scoring is CPU work and the whole stack shares
two cores, so the pool that costs the least CPU per task wins. Measured with this bench
(2026-11-25, shared machine): prefork pools spent 22.5 CPU ms per submission in the
workers (the pool's parent process relays every task to its child), four solo processes
17.0 ms; four processes rather than two so that one waiting on PostgreSQL or Redis does
not leave a core idle. The product ships that mode (`modassist worker --processes N`,
worker/solo.py keeps the scoring task's soft time limit); `--e2e-pool solo|prefork` starts
bare `celery worker` processes instead for A/B, `--e2e-workers`, `--e2e-concurrency` change
how many.
Bounded: about 2 minutes of load plus start-up. Every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack import Stack, base_env, session_cpu_s, temp_dir, wait, wait_idle

from service.signing import signed_headers
from tests.support import RedisServer, postgres_database

# wrk prints its summary as one parseable line (both scripts end with it).
HEALTH_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""
LUA = (
    """
local reqs = {REQUESTS}
local key = "{KEY}"
local i = 0
request = function()
  i = i + 1
  local r = reqs[((i - 1) % #reqs) + 1]
  return wrk.format("POST", "/api/v1/submissions", {
    ["Content-Type"] = "application/json",
    ["X-Modassist-Key"] = key,
    ["X-Modassist-Timestamp"] = r[2],
    ["X-Modassist-Signature"] = r[3],
  }, r[1])
end"""
    + HEALTH_LUA
)
TEXT = "Leserkommentar {n}: Die Stadt hat die Gebühren erhöht, das finde ich falsch."
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# The German corpora bench/bench_scoring.py samples its 400-character comments from.
SOURCES = (
    ("germeval2021_toxic/train.csv", "comment_text"),
    ("omp_one_million_posts/train_wide.csv", "Body"),
    ("germeval2018_offensive/train.csv", "text"),
    ("hasoc2020_de/train.csv", "text"),
)
COMMENT_CHARS = 400
LETTER_CHARS = 2000
LETTER_EVERY = 50  # one submission in 50 is a letter of about 2,000 characters


class Texts:
    """The end-to-end texts: `mixed` (distinct real comments, a few letters) or `campaign`.

    `mixed`: each submission about 400 characters joined from real German comments
    (../shared/data, as bench/bench_scoring.py samples them), every 50th a letter of
    about 2,000 characters; distinct texts, so copy detection finds little, as in a
    newsroom's normal traffic. `campaign`: near-identical one-line comments, each matching
    up to 20 earlier ones (a copy campaign: the copy detection's worst case).
    """

    def __init__(self, mix: str, count: int, seed: int = 1) -> None:
        self.mix = mix
        self.items: list[tuple[str, str]] = []
        if mix == "campaign":
            return
        import csv

        csv.field_size_limit(1 << 24)
        pool: list[str] = []
        for relative, column in SOURCES:
            with (DATA / relative).open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    t = (row.get(column) or "").replace("|LBR|", "\n")
                    if len(t) > 40:
                        pool.append(t)
        rng = random.Random(seed)
        for n in range(count):
            kind = "letter" if n % LETTER_EVERY == LETTER_EVERY - 1 else "comment"
            size = LETTER_CHARS if kind == "letter" else COMMENT_CHARS
            text = ""
            while len(text) < size:
                text = f"{text} {rng.choice(pool)}".strip()
            cut = text.rfind(" ", 0, size)
            self.items.append((kind, text[: cut if cut > size // 2 else size]))

    def payload(self, external_id: str, n: int) -> dict[str, str]:
        if self.mix == "campaign":
            return {"external_id": external_id, "text": TEXT.format(n=n), "kind": "comment"}
        kind, text = self.items[n % len(self.items)]
        return {"external_id": external_id, "text": text, "kind": kind}


def _lua_string(raw: str) -> str:
    return '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _script(stack: Stack, prefix: str, count: int, path: Path) -> None:
    now = time.time()
    rows = []
    for n in range(count):
        body = json.dumps(
            {"external_id": f"{prefix}-{n}", "text": TEXT.format(n=n), "kind": "comment"}
        )
        h = signed_headers(stack.key_id, stack.secret, body.encode(), now)
        rows.append(
            "{"
            + ",".join(
                _lua_string(v)
                for v in (body, h["X-Modassist-Timestamp"], h["X-Modassist-Signature"])
            )
            + "}"
        )
    path.write_text(
        LUA.replace("{REQUESTS}", "{" + ",\n".join(rows) + "}").replace("{KEY}", stack.key_id)
    )


def _wrk(url: str, script: Path, connections: int, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{round(seconds)}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    req, dur_us, status_err, sock_err, p50, p99, pmax = (int(v) for v in line.split()[1:])
    return {
        "requests": req,
        "rps": req / (dur_us / 1e6),
        "non2xx": status_err,
        "socket_errors": sock_err,
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "max_ms": pmax / 1000,
        "seconds": dur_us / 1e6,
    }


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT count(*) FROM submissions")) or 0)


def _ingest(
    stack: Stack, engine: sa.Engine, step_s: float, steps: tuple[int, ...] = (1, 4, 16, 32)
) -> list[str]:
    lines = [
        "| connections | requests/s | accepted/s | p50 ms | p99 ms | max ms | errors "
        "| web CPU ms per accepted | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    web = next(p.popen.pid for p in stack.procs if p.name == "web")
    for k, connections in enumerate(steps):
        script = stack.tmp / f"ingest-{k}-{connections}.lua"
        # Enough distinct submissions that none repeats within the step (a repeat is a 200).
        _script(stack, f"s{k}c{connections}", int(1500 * step_s), script)
        before, cpu_before = _count(engine), session_cpu_s(web)
        r = _wrk(stack.web_url, script, connections, step_s)
        # gunicorn's CPU (all its processes) over the step, per new row.
        cpu_ms = 1000 * (session_cpu_s(web) - cpu_before)
        accepted = _count(engine) - before
        errors = (r["non2xx"] + r["socket_errors"]) / max(r["requests"], 1)
        lines.append(
            f"| {connections} | {r['rps']:.0f} | {accepted / r['seconds']:.0f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['max_ms']:.0f} | {errors:.2%} "
            f"| {cpu_ms / max(accepted, 1):.2f} | {os.getloadavg()[0]:.1f} |"
        )
        print(lines[-1], flush=True)
    return lines


def _health_ratio(stack: Stack, engine: sa.Engine, step_s: float) -> list[str]:
    script = stack.tmp / "health.lua"
    script.write_text(HEALTH_LUA)
    health = _wrk(f"{stack.web_url}/healthz", script, 16, step_s)
    ingest_script = stack.tmp / "ingest-ratio.lua"
    _script(stack, "ratio", int(1500 * step_s), ingest_script)
    before = _count(engine)
    hook = _wrk(stack.web_url, ingest_script, 16, step_s)
    accepted = (_count(engine) - before) / hook["seconds"]
    line = (
        f"GET /healthz {health['rps']:.0f} req/s (p99 {health['p99_ms']:.1f} ms); webhook "
        f"{accepted:.0f} accepted/s (p99 {hook['p99_ms']:.1f} ms): "
        f"ratio {accepted / health['rps']:.2f}; load average {os.getloadavg()[0]:.1f}"
    )
    print(line, flush=True)
    return [line]


def _end_to_end(
    stack: Stack,
    engine: sa.Engine,
    rate: float,
    seconds: float,
    workers: int = 4,
    concurrency: int = 1,
    pool: str = "solo",
    mix: str = "mixed",
    senders: int = 16,
) -> list[str]:
    # The ingest steps left thousands of queued submissions and no worker: start empty.
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM submissions"))
    redis.Redis.from_url(stack.env["MODASSIST_REDIS_URL"]).flushall()
    if pool == "shipped":  # `modassist worker --processes N`, as make run and compose
        stack.shipped_worker("worker-shipped", processes=workers)
    else:
        for k in range(workers):
            stack.worker(f"worker-{k}", concurrency=concurrency, pool=pool)
    session = requests.Session()
    warm = stack.post(
        session,
        "/api/v1/submissions",
        {"external_id": "warm", "text": TEXT.format(n=0), "kind": "comment"},
    )
    warm.raise_for_status()

    def warm_scored() -> bool:
        with engine.connect() as conn:
            return (
                conn.scalar(sa.text("SELECT status FROM submissions WHERE external_id='warm'"))
                == "scored"
            )

    wait(warm_scored, 120, "the workers to load their models")
    # Every worker process loads the models at start (CPU for many seconds): begin only
    # when all of them are idle, so that no loading overlaps the measurement (a shipped
    # worker's session holds all its processes).
    pids = [p.popen.pid for p in stack.procs if p.name.startswith("worker-")]
    wait_idle(pids, timeout_s=180, interval_s=2, below_cpu_s=0.3)
    total = int(rate * seconds)
    texts = Texts(mix, total + 1)
    procs = {p.name: p.popen.pid for p in stack.procs}
    cpu_before = {name: session_cpu_s(sid) for name, sid in procs.items()}
    started = time.monotonic()
    errors: list[int] = []
    lock = threading.Lock()

    def send(k: int) -> None:
        s = requests.Session()
        for n in range(k, total, senders):
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            answer = stack.post(
                s,
                "/api/v1/submissions",
                texts.payload(f"e2e-{n}", n),
            )
            if answer.status_code != 202:
                with lock:
                    errors.append(answer.status_code)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_s = time.monotonic() - started
    query = sa.text(
        "SELECT EXTRACT(EPOCH FROM scored_at - received_at) FROM submissions "
        "WHERE external_id LIKE 'e2e-%' AND scored_at IS NOT NULL"
    )

    def all_scored() -> bool:
        with engine.connect() as conn:
            return len(conn.execute(query).all()) >= total - len(errors)

    with contextlib.suppress(TimeoutError):  # report what was scored within the bound
        wait(all_scored, 60, "the end-to-end submissions to be scored")
    cpu = {name: session_cpu_s(sid) - cpu_before[name] for name, sid in procs.items()}
    web = cpu.pop("web", 0.0)
    with engine.connect() as conn:
        took = sorted(float(v) for (v,) in conn.execute(query).all())
    if not took:
        return ["end to end: nothing scored"]
    p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
    line = (
        f"texts: {mix}; {senders} senders; workers: {workers} x {pool} concurrency {concurrency}; "
        f"end to end at {total / sent_s:.0f}/s for {sent_s:.0f} s: {len(took)}/{total} scored, "
        f"p50 {statistics.median(took):.2f} s, p95 {p95:.2f} s, max {took[-1]:.2f} s, "
        f"{len(errors)} non-202 answers"
    )
    cpu_line = (
        f"CPU ms per submission (sending and catching up): web {1000 * web / total:.1f}, "
        f"workers {1000 * sum(cpu.values()) / max(1, len(took)):.1f} "
        "(PostgreSQL and Redis not counted)"
    )
    print(line, cpu_line, sep="\n", flush=True)
    return [line, cpu_line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-s", type=float, default=6.0)
    parser.add_argument("--e2e-s", type=float, default=20.0)
    parser.add_argument("--e2e-rate", type=float, default=100.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--e2e-workers", type=int, default=4, help="Celery worker processes")
    parser.add_argument("--e2e-concurrency", type=int, default=1, help="pool size of each")
    parser.add_argument(
        "--e2e-pool",
        default="shipped",
        choices=("shipped", "prefork", "solo", "threads"),
        help="shipped: one `modassist worker --processes N` (N = --e2e-workers), as the "
        "product runs; the others: N `celery worker --pool P` processes",
    )
    parser.add_argument(
        "--texts",
        default="mixed",
        choices=("mixed", "campaign"),
        help="end-to-end texts: distinct real comments and a few letters, or a copy campaign",
    )
    parser.add_argument(
        "--e2e-senders",
        type=int,
        default=16,
        help="paced sender threads (8 fell behind 100/s on a busy box: 86-89/s sent)",
    )
    parser.add_argument(
        "--connections",
        default="1,4,16,32",
        help="wrk connections per ingest step, comma-separated (repeat a number to repeat a step)",
    )
    parser.add_argument("--out", default="", help="results file name (default by mode)")
    parser.add_argument(
        "--e2e-only", action="store_true", help="only the end-to-end phase (load-e2e-RATE.txt)"
    )
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="only the ingest steps and the /healthz ratio (load-ingest.txt)",
    )
    args = parser.parse_args()
    try:
        steps = tuple(int(c) for c in args.connections.split(","))
    except ValueError:
        parser.error("--connections: comma-separated whole numbers, e.g. 4,8,16")
    if shutil.which("wrk") is None:
        parser.error("wrk not found: install Debian's load generator (apt-get install -y wrk)")
    tmp = temp_dir("bench-load-")
    broker = RedisServer(tmp / "redis")
    broker.start()
    out: list[str] = [
        f"bench_load {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start "
        "(it counts every process on the machine, the bench's own included)"
    ]
    print(out[0], flush=True)
    try:
        with postgres_database() as url:
            stack = Stack(tmp, base_env(tmp, url, broker))
            try:
                stack.create_site()
                stack.serve(workers=args.web_workers)
                engine = stack.engine()
                if not args.e2e_only:
                    out += _ingest(stack, engine, args.step_s, steps)
                    out += _health_ratio(stack, engine, args.step_s)
                if not args.ingest_only:
                    out += _end_to_end(
                        stack,
                        engine,
                        args.e2e_rate,
                        args.e2e_s,
                        args.e2e_workers,
                        args.e2e_concurrency,
                        args.e2e_pool,
                        args.texts,
                        args.e2e_senders,
                    )
                out.append(f"load average at end {os.getloadavg()[0]:.1f}")
                engine.dispose()
            finally:
                stack.stop_all()
    finally:
        broker.stop()
    name = args.out or (
        f"load-e2e-{args.e2e_rate:g}{'-campaign' if args.texts == 'campaign' else ''}.txt"
        if args.e2e_only
        else "load-ingest.txt"
        if args.ingest_only
        else "load.txt"
    )
    results = Path(__file__).with_name("results") / name
    results.write_text("\n".join(out) + "\n")
    print(f"written to {results}")


if __name__ == "__main__":
    main()
