"""Measure the lexicon, quotes and attacks phases: per 400-character comment and per letter.

Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_lexicon.py
Goals (issue 3): well under 0.5 ms per 400-character comment, a few ms for the 8 KB letter.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.scoring import attacks, lexicon, normalize, persons
from service.scoring.document import Builder, Doc
from service.scoring.types import LexiconEntry, SiteConfig, Submission
from tests.support import SEED_LETTER

ROUNDS = 5


def per_call_ms(run: Callable[[], object], calls: int) -> float:
    """Return the median over ROUNDS of the CPU time per call, in milliseconds.

    CPU time of this process, not wall time: the machine is shared, and waiting for a
    core is not what a phase costs.
    """
    run()  # warm caches (compiled lexicon, name lists)
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(calls):
            run()
        rounds.append((time.process_time() - started) / calls * 1000)
    return statistics.median(rounds)


def comments(letter: str, size: int = 400) -> list[str]:
    """Cut the letter into comment-sized pieces, each ending at a word boundary."""
    pieces = []
    at = 0
    while at + size <= len(letter):
        end = letter.rfind(" ", at, at + size) or at + size
        pieces.append(letter[at:end])
        at = end + 1
    return pieces


def main() -> None:
    letter = SEED_LETTER.read_text(encoding="utf-8")
    pieces = comments(letter)
    site = tuple(LexiconEntry(f"Lokalwort{i}", "insult", 0.5, "") for i in range(50))

    started = time.perf_counter()
    lexicon.Lexicon(site, language="de")
    compile_ms = (time.perf_counter() - started) * 1000

    def each(run: Callable[[str], object]) -> Callable[[], None]:
        def go() -> None:
            for piece in pieces:
                run(piece)

        return go

    def phases(text: str) -> None:
        doc = Doc(Submission("b", text), SiteConfig())
        doc.language = "de"
        out = Builder()
        lexicon.LexiconPhase()(doc, out)
        attacks.AttacksPhase()(doc, out)

    n = len(pieces)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"texts: {n} comments of ~400 chars; letter {len(letter)} chars")
    print(f"compile built-in + 50 site entries: {compile_ms:.1f} ms (once per config)")
    print(
        f"entries: {len(lexicon.builtin_entries())} terms, {len(lexicon.builtin_phrases())} rules"
    )
    rows = [
        ("normalise (3 views)", lambda t: normalize.views(t)),
        ("lexicon.match", lambda t: lexicon.match(t)),
        ("persons.find", lambda t: persons.find(t)),
        ("lexicon + attacks phases", phases),
    ]
    for label, run in rows:
        comment_ms = per_call_ms(each(run), 20) / n
        letter_ms = per_call_ms(lambda run=run: run(letter), 20)
        print(f"{label:28s} comment {comment_ms:7.3f} ms   letter {letter_ms:7.2f} ms")
    print(f"comments/s per core (both phases): {1000 / (per_call_ms(each(phases), 20) / n):,.0f}")


def corpus_rates() -> None:
    """Print how often the lexicon fires on labelled comments (when the data is present)."""
    import csv

    data = SEED_LETTER.parents[1] / "data"
    germeval = data / "germeval2018_offensive" / "train.csv"
    if germeval.exists():
        counts: dict[str, list[int]] = {}
        with germeval.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                seen = counts.setdefault(row["label_coarse"], [0, 0])
                seen[0] += 1
                seen[1] += bool(lexicon.match(row["text"]))
        for label, (total, hit) in sorted(counts.items()):
            print(
                f"GermEval 2018 train {label:8s}: {hit:5d} of {total:5d} flagged "
                f"({hit / total:.1%})"
            )
    omp = data / "omp_one_million_posts" / "train_wide.csv"
    if omp.exists():
        total = hit = 0
        with omp.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row["Inappropriate"] != "0" or row["Discriminating"] == "1":
                    continue
                total += 1
                hit += bool(lexicon.match(f"{row['Headline']} {row['Body']}"))
        print(
            f"One Million Posts, annotated appropriate: {hit} of {total} flagged "
            f"({hit / total:.1%})"
        )


if __name__ == "__main__":
    main()
    corpus_rates()
