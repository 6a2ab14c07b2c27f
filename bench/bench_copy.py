"""Benchmark copy detection: recall/precision on synthetic copies, lookup latency, index memory.

Builds everything from ../shared/data texts (German comments and posts), in a private
redis-server that this script starts and stops:

- evaluation sources: articles of 5-9 paragraphs and short submissions, from a reserved
  part of the pool that nothing else uses;
- filler: articles and submissions made from the rest of the pool, up to the sizes asked
  for or until the build time budget runs out (whichever comes first);
- queries: letters copying 30-100 % of an article (whole paragraphs, sometimes reordered,
  with about 5 % of words substituted and 5 % hostile adjectives inserted, mixed with the
  letter writer's own text), letters that are mostly an earlier short submission, and
  letters of own text only.

A query's overlap is max(copied source words / source words, copied words / letter
words). Recall counts letters with overlap >= 40 % whose source is reported (a
`copied_text` passage naming it after index lookup and alignment); precision counts
reported sources that are the true source (copies of 30-40 % found are true, not false).

    .venv/bin/python bench/bench_copy.py [--submissions 1000000] [--articles 100000]
        [--queries 600] [--build-seconds 600] [--workers 2] [--build-nice 19]

The build runs niced (this process, the fingerprinting processes and Redis); run as root
the script puts itself and Redis back to priority 0 for the latency measurement, which
prints the priority it ran at and the load average. Client CPU (process time of the
look-up) and Redis CPU (commandstats of the look-up's commands) are measured separately.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.scoring.copying import CopyingPhase, fingerprints, fingerprints_many  # noqa: E402
from service.scoring.document import Builder, Doc  # noqa: E402
from service.scoring.types import Reference, SiteConfig, Submission  # noqa: E402
from service.storage.copyindex import BUCKETS, CopyIndex  # noqa: E402
from tests.support import SHARED, RedisServer  # noqa: E402

DATA = SHARED / "data"
ADJECTIVES = [
    "verlogene",
    "korrupte",
    "unfähige",
    "dreiste",
    "kriegslüsterne",
    "russophobe",
    "peinliche",
]
MIN_PARAGRAPH_WORDS = 15
# Tweets carry long lists of @-mentions shared across a thread: not text anyone writes.
TWITTER = re.compile(r"@\w+|https?://\S+|\|LBR\|")
MENTION = re.compile(r"@\w+|https?://\S+|[^\w\s]")


def load_pool() -> list[str]:
    """Return German texts of at least MIN_PARAGRAPH_WORDS words from the shared data."""
    sources = [
        ("omp_one_million_posts/train_wide.csv", "Body"),
        ("germeval2021_toxic/train.csv", "comment_text"),
        ("germeval2018_offensive/train.csv", "text"),
        ("germeval2019_offensive/train_subtask1_2.csv", "text"),
        ("germs_at_2024/train.csv", "text"),
        ("hasoc2019_de/train.csv", "text"),
        ("hasoc2020_de/train.csv", "text"),
    ]
    pool: list[str] = []
    for path, column in sources:
        file = DATA / path
        if not file.exists():
            continue
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        if column not in frame.columns:
            continue
        pool += [
            " ".join(TWITTER.sub(" ", t).split())
            for t in frame[column]
            if len(TWITTER.sub(" ", t).split()) >= MIN_PARAGRAPH_WORDS
        ]
    return distinct(pool)


def distinct(pool: list[str]) -> list[str]:
    """Drop texts sharing any 8-word run with an earlier one.

    The datasets overlap (retweets, quoted posts, the same tweet in two collections):
    left in, those are real copies that the benchmark would count as false sources.
    """
    seen: set[int] = set()
    out: list[str] = []
    for text in pool:
        tokens = [w for w in MENTION.sub(" ", text.casefold()).split() if w.isalnum()]
        grams = {hash(tuple(tokens[i : i + 8])) for i in range(max(1, len(tokens) - 7))}
        if len(tokens) >= MIN_PARAGRAPH_WORDS and not grams & seen:
            out.append(text)
        seen |= grams
    return out


def edit(paragraph: str, rng: random.Random, vocabulary: list[str]) -> str:
    """Substitute about 5 % of the words and insert a hostile adjective before about 5 %."""
    out: list[str] = []
    for word in paragraph.split():
        roll = rng.random()
        if roll < 0.05:
            out.append(rng.choice(ADJECTIVES))
            out.append(word)
        elif roll < 0.10:
            out.append(rng.choice(vocabulary))
        else:
            out.append(word)
    return " ".join(out)


def build_queries(
    rng: random.Random,
    articles: dict[str, list[str]],
    shorts: dict[str, str],
    own: list[str],
    vocabulary: list[str],
    n: int,
) -> list[tuple[str, str | None, float]]:
    """Return (letter text, true source id or None, overlap) triples."""
    queries: list[tuple[str, str | None, float]] = []
    article_ids, short_ids = list(articles), list(shorts)
    for k in range(n):
        kind = k % 20
        if kind < 11:  # a letter copying part of an article
            source = rng.choice(article_ids)
            paragraphs = articles[source]
            total = sum(len(p.split()) for p in paragraphs)
            target = rng.uniform(0.3, 1.0)
            start = rng.randrange(len(paragraphs))
            chosen: list[str] = []
            copied = 0
            for p in paragraphs[start:] + paragraphs[:start]:
                if copied >= target * total:
                    break
                chosen.append(p)
                copied += len(p.split())
            if rng.random() < 0.5:
                rng.shuffle(chosen)
            parts = [edit(p, rng, vocabulary) for p in chosen]
            for _ in range(rng.randint(0, 2)):
                parts.insert(rng.randint(0, len(parts)), rng.choice(own))
            letter = "\n".join(parts)
            overlap = max(copied / total, copied / len(letter.split()))
            queries.append((letter, source, overlap))
        elif kind < 14:  # mostly an earlier short submission, with a little own text
            source = rng.choice(short_ids)
            body = edit(shorts[source], rng, vocabulary)
            extra = rng.choice(own).split()[: rng.randint(0, len(body.split()))]
            letter = body + "\n" + " ".join(extra)
            overlap = len(shorts[source].split()) / len(letter.split())
            queries.append((letter, source, overlap))
        else:  # own words only
            letter = "\n".join(rng.sample(own, rng.randint(1, 4)))
            queries.append((letter, None, 0.0))
    return queries


def filler_text(ident: str, pool: list[str]) -> str:
    """Return the filler text of an id, the same every time (so it is never kept in memory)."""
    rng = random.Random(ident)
    if ident.startswith("fa"):
        return "\n".join(rng.sample(pool, rng.randint(5, 9)))
    return " ".join(rng.sample(pool, rng.choice((1, 1, 1, 2, 3))))


def command_usec(client: redis.Redis) -> int:
    """Return the microseconds Redis spent in a query's commands so far (script, HMGET)."""
    stats = client.info("commandstats")
    counted = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_hmget")
    return sum(int(v["usec"]) for k, v in stats.items() if k in counted)


def redis_cpu_seconds(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


#: The filler pool, set before the fingerprinting processes fork (they inherit it).
FILLER_POOL: list[str] = []


def fingerprint_filler(chunk: tuple[str, int, int]) -> list[tuple[str, np.ndarray]]:
    """Make and fingerprint the filler texts prefix+first .. prefix+(end-1) (in a worker)."""
    prefix, first, end = chunk
    kind = "article" if prefix == "fa" else "submission"
    idents = [f"{prefix}{k}" for k in range(first, end)]
    bands = fingerprints_many([filler_text(i, FILLER_POOL) for i in idents])
    return [(f"{kind}:{i}", b) for i, b in zip(idents, bands, strict=True)]


def start_worker(niceness: int) -> None:
    """Set up a fingerprinting process: niced, and killed by the pool's SIGTERM.

    The parent's SIGTERM handler (exit through `finally`) is inherited by fork; in a
    worker it made `Pool.terminate` wait forever for a process blocked on its queue.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.nice(niceness)


def set_priority(niceness: int, server: RedisServer) -> bool:
    """Set this process's and the Redis server's niceness; False when not permitted."""
    assert server.proc is not None
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
        os.setpriority(os.PRIO_PROCESS, server.proc.pid, niceness)
    except PermissionError:
        return False
    return True


def unique_text_memory(client: redis.Redis, words: list[str], n: int) -> tuple[float, float]:
    """Return (bytes per text, bytes per band entry) for texts sharing no band values.

    The filler texts reuse pool texts, so their band values repeat and cost less than
    a real corpus's would; random word sequences (20-120 words) give the upper figure.
    Buckets are filled with a first batch so their fixed cost is not counted.
    """
    rng = random.Random(1)
    index = CopyIndex(client, "site:unique")

    def batch(tag: str, n: int) -> list[tuple[str, str, str]]:
        return [
            (
                "submission",
                f"{tag}{i}",
                " ".join(rng.choices(words, k=rng.choice((20, 40, 60, 80, 120)))),
            )
            for i in range(n)
        ]

    # About six entries per bucket first: nearly every bucket hash exists afterwards.
    index.add_many(batch("w", BUCKETS * 6 // 48), replace=False)
    items = batch("x", n)
    entries = sum(len(np.unique(fingerprints(t))) for _, _, t in items)
    before = used_memory(client)
    index.add_many(items, replace=False)
    grown = used_memory(client) - before
    index.clear()
    return grown / n, grown / entries


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--eval-sources", type=int, default=300)
    parser.add_argument("--build-seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--unique-memory", type=int, default=20_000, metavar="N")
    parser.add_argument("--workers", type=int, default=2, help="fingerprinting processes")
    parser.add_argument(
        "--build-nice",
        type=int,
        default=19,
        help="niceness of the build (this process, the workers, Redis); 0 again to measure",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # A plain SIGTERM would skip the finally below and leave redis-server running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    pool = load_pool()
    rng.shuffle(pool)
    print(f"pool: {len(pool)} German texts of >= {MIN_PARAGRAPH_WORDS} words")
    n_eval_paragraphs = args.eval_sources * 7
    reserved, own, filler = (
        pool[:n_eval_paragraphs],
        pool[n_eval_paragraphs : 2 * n_eval_paragraphs],
        pool[2 * n_eval_paragraphs :],
    )
    vocabulary = [w for t in filler[:2000] for w in t.split()]
    articles: dict[str, list[str]] = {}
    shorts: dict[str, str] = {}
    cursor = 0
    for k in range(args.eval_sources):
        if k % 3 == 2:
            shorts[f"eval-s{k}"] = reserved[cursor]
            cursor += 1
        else:
            size = rng.randint(5, 9)
            articles[f"eval-a{k}"] = reserved[cursor : cursor + size]
            cursor += size
            if cursor >= len(reserved) - 10:
                break
    texts: dict[str, str] = {a: "\n".join(p) for a, p in articles.items()} | shorts

    server = RedisServer(Path("/tmp") / f"bench-copy-{time.time_ns()}")
    server.start()
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=600)
        index = CopyIndex(client, "site:bench")
        base_memory = used_memory(client)
        index.add_many(
            [("article", a, texts[a]) for a in articles]
            + [("submission", s, texts[s]) for s in shorts],
            replace=False,
        )

        deadline = time.monotonic() + args.build_seconds
        started = time.monotonic()
        build_cpu = time.process_time()
        redis_cpu = redis_cpu_seconds(client)
        niced = set_priority(args.build_nice, server)
        built_articles = built_submissions = 0
        global FILLER_POOL
        FILLER_POOL = filler
        with multiprocessing.get_context("fork").Pool(
            args.workers, initializer=start_worker, initargs=(args.build_nice,)
        ) as workers:
            for kind, prefix, wanted in (
                ("article", "fa", args.articles),
                ("submission", "fs", args.submissions),
            ):
                step = 500 if kind == "article" else 4000
                chunks = ((prefix, k, min(k + step, wanted)) for k in range(0, wanted, step))
                built = 0
                for prints in workers.imap(fingerprint_filler, chunks):
                    index.add_fingerprinted(prints, replace=False)
                    built += len(prints)
                    if built % 100_000 < step:
                        print(
                            f"  ... {built} {kind}s, {time.monotonic() - started:.0f} s",
                            flush=True,
                        )
                    if time.monotonic() >= deadline:
                        workers.terminate()
                        break
                if kind == "article":
                    built_articles = built
                    article_memory = used_memory(client) - base_memory
                    article_seconds = time.monotonic() - started
                else:
                    built_submissions = built
                if time.monotonic() >= deadline:
                    break
            workers.close()
            workers.join()
        build_seconds = time.monotonic() - started
        build_cpu = time.process_time() - build_cpu
        workers_cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
        redis_cpu = redis_cpu_seconds(client) - redis_cpu
        total_memory = used_memory(client) - base_memory
        submission_memory = total_memory - article_memory
        print(
            f"index: {built_articles} filler articles + {built_submissions} filler submissions "
            f"+ {len(texts)} evaluation sources, built in {build_seconds:.0f} s "
            f"(articles {article_seconds:.0f} s; niced {args.build_nice}: {niced}; "
            f"{args.workers} fingerprinting processes; CPU: fingerprinting processes "
            f"{workers_cpu:.0f} s, this process {build_cpu:.0f} s, Redis {redis_cpu:.0f} s)"
        )
        if built_articles < args.articles or built_submissions < args.submissions:
            print("  (time budget reached before the asked sizes)")
        set_priority(0, server)

        queries = build_queries(rng, articles, shorts, own, vocabulary, args.queries)
        phase = CopyingPhase()
        lookup_ms: list[float] = []
        lookup_cpu_ms: list[float] = []
        lookup_redis_ms: list[float] = []
        align_ms: list[float] = []
        true_reported = reported = 0
        positives = found = candidate_found = 0
        load_before = os.getloadavg()
        for k, (letter, source, overlap) in enumerate(queries):
            server_before = command_usec(client)
            t0, c0 = time.perf_counter(), time.process_time()
            candidates = index.query(letter)
            lookup_ms.append((time.perf_counter() - t0) * 1000)
            lookup_cpu_ms.append((time.process_time() - c0) * 1000)
            lookup_redis_ms.append((command_usec(client) - server_before) / 1000)
            refs = [
                Reference(c.id, c.kind, texts.get(c.id) or filler_text(c.id, filler))  # type: ignore[arg-type]
                for c in candidates
            ]
            t1 = time.perf_counter()
            doc = Doc(Submission(f"q{k}", letter, kind="letter"), SiteConfig(), tuple(refs))
            out = Builder()
            phase(doc, out)
            align_ms.append((time.perf_counter() - t1) * 1000)
            sources = {
                s.details["source_id"]
                for s in out.spans
                if s.signal == "copied_text" and not s.details.get("guess")
            }
            reported += len(sources)
            true_reported += int(source in sources)
            if args.verbose and sources - {source}:
                print("false source", source, sorted(sources - {source}), round(overlap, 2))
            if overlap >= 0.4:
                positives += 1
                found += int(source in sources)
                candidate_found += int(any(c.id == source for c in candidates))
        load_after = os.getloadavg()

        n_texts = built_articles + built_submissions + len(texts)
        print(f"queries: {len(queries)}, of them {positives} copies of >= 40 %")
        print(f"recall (>= 40 % copies, after alignment): {found / max(1, positives):.3f}")
        print(
            f"recall of the index lookup alone (top 20): {candidate_found / max(1, positives):.3f}"
        )
        print(f"precision (reported sources that are true): {true_reported / max(1, reported):.3f}")
        print(
            f"lookup latency at {n_texts} texts: p50 {percentile(lookup_ms, 0.5):.1f} ms, "
            f"p95 {percentile(lookup_ms, 0.95):.1f} ms, mean {statistics.mean(lookup_ms):.1f} ms"
        )
        print(
            f"  client CPU p50 {percentile(lookup_cpu_ms, 0.5):.2f} ms, "
            f"p95 {percentile(lookup_cpu_ms, 0.95):.2f} ms; "
            f"Redis CPU (look-up script + ref HMGET) "
            f"p50 {percentile(lookup_redis_ms, 0.5):.2f} ms, "
            f"p95 {percentile(lookup_redis_ms, 0.95):.2f} ms"
        )
        print(
            f"  measured at priority {os.getpriority(os.PRIO_PROCESS, 0)} (client and Redis); "
            f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
            f"on {os.cpu_count()} cores"
        )
        print(
            f"alignment: p50 {percentile(align_ms, 0.5):.1f} ms, "
            f"p95 {percentile(align_ms, 0.95):.1f} ms"
        )
        print(f"redis memory: {total_memory / 2**20:.0f} MiB for {n_texts} texts")
        if built_submissions:
            per_million = submission_memory / built_submissions * 1e6 / 2**20
            print(f"  per million submissions (1-3 comments each): {per_million:.0f} MiB")
        if built_articles:
            per_million = article_memory / built_articles * 1e6 / 2**20
            print(f"  per million articles (5-9 paragraphs each): {per_million:.0f} MiB")
        if args.unique_memory:
            per_text, per_entry = unique_text_memory(client, vocabulary, args.unique_memory)
            print(
                f"  texts sharing nothing (20-120 random words): {per_text:.0f} bytes per text, "
                f"{per_entry:.1f} bytes per band entry (ref/num included) = "
                f"{per_text * 1e6 / 2**30:.2f} GiB per million"
            )
        client.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
