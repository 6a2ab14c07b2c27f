"""Print claim-typing quality on tests/data/claims_de.tsv and claim-typing speed.

Run: .venv/bin/python bench/bench_claims.py
Quality: per-type precision and recall, and how often the named source matches.
Speed: the claims phase alone (sentences + cues + model) on the reference letter and on
400-character comments, single process.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from service.scoring.claims import build as build_claims
from service.scoring.document import Builder, Doc
from service.scoring.sentences import split
from service.scoring.types import Sentence, SiteConfig, Submission

ROOT = Path(__file__).resolve().parents[1]
EVAL_SET = ROOT / "tests" / "data" / "claims_de.tsv"
LETTER = ROOT.parent / "shared" / "seed" / "letter-2025-07-23.txt"
TYPES = ("attributed", "vague", "unsourced", "none")
#: `--errors` lists every sentence typed differently from its label.
SHOW_ERRORS = "--errors" in sys.argv


def read_eval_set(path: Path = EVAL_SET) -> list[dict[str, str]]:
    """Return the labelled rows (claim, source, text) of the evaluation set."""
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def source_matches(expected: str, found: str | None) -> bool:
    """Return whether a found source names the expected one (case and articles aside)."""
    if not expected:
        return True
    if not found:
        return False
    a, b = expected.lower(), found.lower()
    return a in b or b.replace("der ", "").replace("die ", "").replace("das ", "") in a


def type_sentences(phase: object, text: str, language: str = "de") -> list[Sentence]:
    """Run the sentence and claims phases on one text and return its typed sentences."""
    doc = Doc(Submission("bench", text, language=language), SiteConfig(), language=language)
    doc.sentences = [Sentence(s, e) for s, e in split(text)]
    phase(doc, Builder())  # type: ignore[operator]
    return doc.sentences


def evaluate(phase: object) -> dict[str, dict[str, float]]:
    """Return per-type precision, recall and support, and source accuracy, on the eval set."""
    rows = read_eval_set()
    gold, pred, sources_ok, sources_n = [], [], 0, 0
    for row in rows:
        text = row["text"]
        language = "en" if _looks_english(text) else "de"
        typed = type_sentences(phase, text, language)
        # A row is one sentence; if the splitter found more, the strongest claim counts.
        order = {"attributed": 3, "vague": 2, "unsourced": 1, "none": 0}
        best = max(typed, key=lambda s: order[s.claim]) if typed else None
        claim = best.claim if best else "none"
        gold.append(row["claim"])
        pred.append(claim)
        if SHOW_ERRORS and (
            claim != row["claim"]
            or not source_matches(row["source"], best.source if best else None)
        ):
            print(
                f"  {row['claim']:>10} -> {claim:<10} {best.source if best else None!s:<30} {text}"
            )
        if row["claim"] == "attributed" and row["source"]:
            sources_n += 1
            sources_ok += claim == "attributed" and source_matches(
                row["source"], best.source if best else None
            )
    report: dict[str, dict[str, float]] = {}
    for t in TYPES:
        tp = sum(g == t and p == t for g, p in zip(gold, pred, strict=True))
        fp = sum(g != t and p == t for g, p in zip(gold, pred, strict=True))
        fn = sum(g == t and p != t for g, p in zip(gold, pred, strict=True))
        report[t] = {
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
            "support": float(tp + fn),
        }
    report["_all"] = {
        "accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold),
        "source_match": sources_ok / sources_n if sources_n else 0.0,
        "rows": float(len(gold)),
    }
    return report


def _looks_english(text: str) -> bool:
    words = set(text.lower().replace(",", " ").replace(".", " ").split())
    return (
        len(words & {"the", "is", "was", "said", "say", "say,", "according", "i", "for", "by"}) >= 2
    )


def speed(phase: object, text: str, seconds: float = 2.0) -> tuple[float, int]:
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
    report = evaluate(phase)
    overall = report.pop("_all")
    print(f"claim typing on {EVAL_SET.relative_to(ROOT)} ({int(overall['rows'])} sentences)")
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
    if LETTER.exists():
        rate, runs = speed(phase, LETTER.read_text(encoding="utf-8"))
        print(f"speed, reference letter (8,333 characters): {rate:.1f} letters/s ({runs} runs)")


if __name__ == "__main__":
    main()
