"""Print claim-typing quality on the hand-labelled sets and claim-typing speed.

Run: .venv/bin/python bench/bench_claims.py [--errors] [--comments 1000]
Quality: per-type precision and recall, and how often the named source matches, on
tests/data/claims_de.tsv (used while writing the rules) and claims_de_holdout.tsv
(written afterwards). `--errors` lists every sentence typed differently from its label.
Speed: the claims phase alone (sentences + cues + model) on the reference letter, on one
400-character comment and on `--comments N` real comments of about 400 characters sampled
as bench/bench_scoring.py samples them (CPU time, single process).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from service.scoring.claims import ClaimsPhase
from service.scoring.claims import build as build_claims
from service.scoring.document import Builder, Doc
from service.scoring.sentences import split
from service.scoring.types import Sentence, SiteConfig, Submission
from service.training.claims import EVAL_SETS, evaluate_typing

ROOT = Path(__file__).resolve().parents[1]
LETTER = ROOT.parent / "shared" / "seed" / "letter-2025-07-23.txt"


def type_sentences(phase: ClaimsPhase, text: str, language: str = "de") -> list[Sentence]:
    """Run the sentence and claims phases on one text and return its typed sentences."""
    doc = Doc(Submission("bench", text, language=language), SiteConfig(), language=language)
    doc.sentences = [Sentence(s, e) for s, e in split(text)]
    phase(doc, Builder())
    return doc.sentences


def speed(phase: ClaimsPhase, text: str, seconds: float = 2.0) -> tuple[float, int]:
    """Return (texts per CPU second, runs) for the sentence + claims phases on one text."""
    # CPU time of this process, not wall time: the machine is shared, and CPU seconds
    # are what "comments per second per core" means.
    runs, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        type_sentences(phase, text)
        runs += 1
    return runs / (time.process_time() - start), runs


COMMENT_400 = (
    "Ich finde die Entscheidung des Stadtrats falsch. Laut der Verwaltung kostet der Umbau "
    "4,7 Mio. Euro, das sind ca. 300 Euro pro Haushalt. Experten sagen, die Brücke hätte "
    "noch 20 Jahre gehalten. Der Bürgermeister hat im März 2023 versprochen, dass es keine "
    "Gebührenerhöhung gibt. Warum wird das jetzt gebrochen? Angeblich gibt es schon einen "
    "Investor. Wir sollten das in der nächsten Sitzung klären."
)


def main() -> None:
    phase = build_claims(ROOT / "service" / "scoring" / "artifacts")
    for path in EVAL_SETS:
        errors = print if "--errors" in sys.argv else None
        report = evaluate_typing(phase, path, errors)
        overall = report.pop("all")
        print(f"claim typing on {path.relative_to(ROOT)} ({int(overall['rows'])} sentences)")
        print(f"{'type':<11} {'precision':>9} {'recall':>7} {'support':>8}")
        for t, r in report.items():
            print(f"{t:<11} {r['precision']:9.3f} {r['recall']:7.3f} {int(r['support']):8d}")
        print(
            f"accuracy {overall['accuracy']:.3f}; "
            f"attributed with the right source {overall['source_match']:.3f}"
        )
    comment = COMMENT_400[:400]
    rate, runs = speed(phase, comment)
    print(f"speed, 400-character comment: {rate:.0f} comments/s ({runs} runs, 1 process)")
    if "--comments" in sys.argv:
        from bench_scoring import sample_comments

        comments = sample_comments(int(sys.argv[sys.argv.index("--comments") + 1]))
        for text in comments[:20]:
            type_sentences(phase, text)
        best = float("inf")
        for _ in range(3):  # the best of three: other processes share the caches
            start = time.process_time()
            for text in comments:
                type_sentences(phase, text)
            best = min(best, time.process_time() - start)
        print(
            f"speed, {len(comments)} sampled comments: {1000 * best / len(comments):.3f} CPU ms "
            f"per comment (sentences + claims, best of 3, load average {os.getloadavg()[0]:.1f})"
        )
    if LETTER.exists():
        rate, runs = speed(phase, LETTER.read_text(encoding="utf-8"))
        print(f"speed, reference letter (8,333 characters): {rate:.1f} letters/s ({runs} runs)")


if __name__ == "__main__":
    main()
