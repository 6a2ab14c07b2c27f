"""Measure the full Scorer per core: 400-character comments, the 8 KB letter, peak memory.

Run: .venv/bin/python bench/bench_scoring.py [--comments 1000] [--letters 30] [--json]

Pins every numeric library to one thread (a worker process serves one core), samples
400-character comments from ../shared/data (German corpora, cut at a word boundary),
times each phase separately in CPU time (the per-core cost, even on a busy machine) and
wall time, and prints comments/s, ms per letter and peak RSS, with the resident set and
peak right after the Scorer loaded (the peak is reached there: lingua's models load last).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402  (thread pinning must precede numpy's import)
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LETTER = ROOT.parent / "shared" / "seed" / "letter-2025-07-23.txt"
COMMENT_CHARS = 400
SOURCES = (
    ("germeval2021_toxic/train.csv", "comment_text"),
    ("omp_one_million_posts/train_wide.csv", "Body"),
    ("germeval2018_offensive/train.csv", "text"),
    ("hasoc2020_de/train.csv", "text"),
)


def sample_comments(n: int, seed: int = 1) -> list[str]:
    """Return n German comments of about 400 characters, joined from real ones."""
    import pandas as pd

    pool: list[str] = []
    for relative, column in SOURCES:
        frame = pd.read_csv(DATA / relative, dtype=str, keep_default_na=False)
        pool.extend(t.replace("|LBR|", "\n") for t in frame[column] if len(t) > 40)
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        text = ""
        while len(text) < COMMENT_CHARS:
            text = f"{text} {rng.choice(pool)}".strip()
        cut = text.rfind(" ", 0, COMMENT_CHARS)
        out.append(text[: cut if cut > COMMENT_CHARS // 2 else COMMENT_CHARS])
    return out


def resident_mb() -> float:
    """Return the process's resident set now, in MB (Linux; 0.0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def write_cards(figures: dict[str, object]) -> None:
    """Record the bench figures in the toxicity cards, so a card says what it costs."""
    from service.scoring.artifacts import ARTIFACTS_DIR
    from service.training.common import render_card

    for name in ("toxicity_de", "toxicity_en"):
        path = ARTIFACTS_DIR / name / "card.json"
        card = json.loads(path.read_text())
        card["speed"] = {"measured_by": "bench/bench_scoring.py (whole Scorer)", **figures}
        path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
        (path.parent / "MODEL_CARD.md").write_text(render_card(card))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1000)
    parser.add_argument("--letters", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--write-cards",
        action="store_true",
        help="record the figures under 'speed' in the toxicity model cards (and MODEL_CARD.md)",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from service.scoring.pipeline import Scorer
    from service.scoring.types import Submission

    started = time.perf_counter()
    scorer = Scorer()
    load_s = time.perf_counter() - started
    loaded_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loaded_mb = resident_mb()
    phase_time: dict[str, float] = defaultdict(float)

    def timed(name: str, phase):  # type: ignore[no-untyped-def]
        def run(doc, out):  # type: ignore[no-untyped-def]
            t = time.process_time()
            phase(doc, out)
            phase_time[name] += time.process_time() - t

        return run

    scorer.phases = [(name, timed(name, phase)) for name, phase in scorer.phases]
    comments = sample_comments(args.comments)
    letter = LETTER.read_text(encoding="utf-8")

    for text in comments[:20]:  # warm caches (first call of each library)
        scorer.score(Submission("warm", text))
    phase_time.clear()
    t, cpu = time.perf_counter(), time.process_time()
    flagged = 0
    for i, text in enumerate(comments):
        result = scorer.score(Submission(f"c{i}", text))
        flagged += result.signals["toxicity"].flagged
    comment_s = time.perf_counter() - t
    comment_cpu_s = time.process_time() - cpu
    comment_phases = {k: 1000 * v / len(comments) for k, v in phase_time.items()}

    phase_time.clear()
    letter_ms, letter_cpu_ms = [], []
    for i in range(args.letters):
        t, cpu = time.perf_counter(), time.process_time()
        scorer.score(Submission(f"l{i}", letter, kind="letter"))
        letter_ms.append(1000 * (time.perf_counter() - t))
        letter_cpu_ms.append(1000 * (time.process_time() - cpu))
    letter_phases = {k: 1000 * v / args.letters for k, v in phase_time.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    figures = {
        "comments": len(comments),
        "comment_chars_mean": round(statistics.mean(len(c) for c in comments)),
        "comments_per_second_wall": round(len(comments) / comment_s, 1),
        "comments_per_cpu_second": round(len(comments) / comment_cpu_s, 1),
        "comment_ms_per_phase": {k: round(v, 3) for k, v in comment_phases.items()},
        "comments_flagged_toxic_share": round(flagged / len(comments), 3),
        "letter_chars": len(letter),
        "letter_ms_median_wall": round(statistics.median(letter_ms), 1),
        "letter_cpu_ms_median": round(statistics.median(letter_cpu_ms), 1),
        "letter_cpu_ms_max": round(max(letter_cpu_ms), 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "letter_ms_per_phase": {k: round(v, 2) for k, v in letter_phases.items()},
        "scorer_load_seconds": round(load_s, 2),
        "loaded_rss_mb": round(loaded_mb, 1),
        "loaded_peak_rss_mb": round(loaded_peak_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
    }
    if args.write_cards:
        write_cards(figures)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"Scorer loaded in {figures['scorer_load_seconds']} s (models, detectors)")
    print(f"load average {figures['load_average_1min']} (CPU time is the per-core figure)")
    print(
        f"{figures['comments']} comments of ~{figures['comment_chars_mean']} chars: "
        f"{figures['comments_per_cpu_second']} comments per CPU second (goal >= 500), "
        f"{figures['comments_per_second_wall']}/s wall; "
        f"{figures['comments_flagged_toxic_share']:.1%} flagged toxic"
    )
    for name, ms in figures["comment_ms_per_phase"].items():
        print(f"  {name:<16} {ms:8.3f} CPU ms/comment")
    print(
        f"reference letter ({figures['letter_chars']} chars): median "
        f"{figures['letter_cpu_ms_median']} CPU ms, max {figures['letter_cpu_ms_max']} "
        f"(goal <= 50 ms); median {figures['letter_ms_median_wall']} ms wall"
    )
    for name, ms in figures["letter_ms_per_phase"].items():
        print(f"  {name:<16} {ms:8.2f} CPU ms/letter")
    print(
        f"peak RSS {figures['peak_rss_mb']} MB (goal <= 1024 MB); after loading "
        f"{figures['loaded_rss_mb']} MB resident, peak so far {figures['loaded_peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
