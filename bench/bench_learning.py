"""Learning curve of `likely_rejected`: One Million Posts decisions replayed as a site's history.

The posts are split by article: one half trains the general model (another paper's
standard), the other half is one site's history in time order. Its last quarter is the
held-out test set; for N = 0, 50, 100, ... the per-site model is trained on the first N
decisions (starting from the general model) and scored on the test set: F1 of the
deleted class (threshold chosen on the N seen decisions by 3-fold cross-validation; the
general model's threshold while fewer than 100 decisions or 30 rejections were seen)
and average precision (no threshold). The site-only model (no general start) is shown
beside it. Prints figures; asserts nothing.

Run: .venv/bin/python bench/bench_learning.py [--order time|shuffled] [--out FILE]
(outputs in bench/results/learning_curve_time.txt and learning_curve_shuffled.txt)
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.scoring.likely_rejected import DecisionModel
from service.training import default_data_dir
from service.training.likely_rejected import (
    average_precision,
    f1_positive,
    load_posts,
    replay_split,
)

STEPS = (0, 50, 100, 200, 400, 800, 1600, 2400, 3400)
MIN_FOR_OWN_THRESHOLD = 100
SHUFFLE_SEED = 20261125
#: A threshold chosen on fewer rejections than this is noise: keep the fallback.
MIN_REJECTED_FOR_OWN_THRESHOLD = 30


def pick_threshold(model_factory, texts: list[str], y: np.ndarray, fallback: float) -> float:
    """Choose the threshold maximising F1 on out-of-fold predictions of the seen decisions."""
    from sklearn.model_selection import StratifiedKFold

    if len(y) < MIN_FOR_OWN_THRESHOLD or y.sum() < MIN_REJECTED_FOR_OWN_THRESHOLD:
        return fallback
    proba = np.zeros(len(y))
    for train, test in StratifiedKFold(3, shuffle=True, random_state=7).split(texts, y):
        model = model_factory().fit([texts[i] for i in train], y[train])
        proba[test] = model.predict_proba([texts[i] for i in test])[:, 1]
    grid = [i / 100 for i in range(5, 96)]
    return max(grid, key=lambda t: f1_positive(y, (proba >= t).astype(int)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--order",
        choices=("time", "shuffled"),
        default="time",
        help="replay the site's decisions in time order (test = the latest quarter) or shuffled",
    )
    args = parser.parse_args()
    started = time.process_time()
    posts = load_posts(default_data_dir())
    general_posts, site_posts = replay_split(posts)
    if args.order == "shuffled":
        # Decisions arrive in random order and the test quarter is a random sample: the
        # deletion rate of the corpus rises from ~2 % to ~26 % over the year, which a
        # time-ordered replay mixes up with learning.
        site_posts = list(site_posts)
        random.Random(SHUFFLE_SEED).shuffle(site_posts)
    cut = int(len(site_posts) * 0.75)
    history, test = site_posts[:cut], site_posts[cut:]
    test_texts = [p.text for p in test]
    y_test = np.array([p.deleted for p in test])

    general = DecisionModel().fit(
        [p.text for p in general_posts], [p.deleted for p in general_posts]
    )
    g_texts = [p.text for p in general_posts]
    g_y = np.array([p.deleted for p in general_posts])
    general_threshold = pick_threshold(DecisionModel, g_texts, g_y, 0.5)

    lines = [
        f"# likely_rejected learning curve (One Million Posts replay, {args.order} order)",
        f"general model: {len(general_posts)} posts of other articles "
        f"({int(g_y.sum())} deleted), threshold {general_threshold:.2f}",
        f"site history: {len(history)} decisions ({args.order}); test: "
        f"{'the next' if args.order == 'time' else 'a random'} {len(test)} "
        f"({int(y_test.sum())} deleted, base rate {y_test.mean():.3f})",
        "",
        f"{'decisions':>9} {'rejected':>8} {'F1 site':>8} {'AP site':>8}"
        f" {'F1 own':>8} {'AP own':>8}",
    ]
    print("\n".join(lines), flush=True)
    steps = [s for s in STEPS if s < len(history)] + [len(history)]
    for n in steps:
        seen = history[:n]
        texts = [p.text for p in seen]
        y = np.array([p.deleted for p in seen], dtype=int)
        row = [f"{n:>9}", f"{int(y.sum()):>8}"]
        for with_prior in (True, False):

            def factory(with_prior: bool = with_prior) -> DecisionModel:
                return DecisionModel(prior=general if with_prior else None)

            if n == 0:
                model = general if with_prior else None
                threshold = general_threshold
            else:
                model = factory().fit(texts, y)
                fallback = general_threshold if with_prior else 0.5
                threshold = pick_threshold(factory, texts, y, fallback)
            if model is None:
                row += [f"{'–':>8}", f"{'–':>8}"]
                continue
            proba = model.predict_proba(test_texts)[:, 1]
            f1 = f1_positive(y_test, (proba >= threshold).astype(int))
            ap = average_precision(y_test, proba)
            row += [f"{f1:>8.3f}", f"{ap:>8.3f}"]
        line = " ".join(row)
        lines.append(line)
        print(line, flush=True)
    lines += [
        "",
        "F1 = F1 of the deleted class on the test decisions; AP = average precision.",
        "site = per-site model starting from the general model; own = site decisions only.",
        f"CPU time: {time.process_time() - started:.0f} s",
    ]
    print(lines[-1])
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
