"""Train the general `likely_rejected` model from One Million Posts moderator decisions.

derStandard.at's moderators deleted some posts (`Status` = deleted): that is the label.
The artifact is the general model a per-site model starts from; its card carries 5-fold
cross-validated figures (F1 of the deleted class at the chosen threshold, average
precision). `load_posts` and `replay_split` are shared with bench/bench_learning.py.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.scoring.likely_rejected import DecisionModel
from service.training.common import SEED, best_threshold, data_file, new_card, write_artifact

NAME = "likely_rejected_de"
VERSION = "2026.11.1"
OMP_FILE = "omp_one_million_posts/train_wide.csv"
FOLDS = 5


@dataclass(frozen=True)
class Post:
    id: str
    article: str
    created: str
    text: str
    deleted: int


def load_posts(data_dir: Path) -> list[Post]:
    """Return the labelled posts (headline + body), oldest first."""
    path = data_dir / OMP_FILE
    posts = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = "\n".join(p for p in (row["Headline"], row["Body"]) if p).strip()
            if not text:
                continue
            deleted = 1 if row["Status"] == "deleted" else 0
            posts.append(Post(row["ID_Post"], row["ID_Article"], row["CreatedAt"], text, deleted))
    posts.sort(key=lambda p: (p.created, p.id))
    return posts


def replay_split(posts: list[Post]) -> tuple[list[Post], list[Post]]:
    """Split by article: (posts of the general model, posts replayed as one site's history)."""
    general: list[Post] = []
    site: list[Post] = []
    for post in posts:
        bucket = (
            int(
                hashlib.md5(f"article-{post.article}".encode(), usedforsecurity=False).hexdigest(),
                16,
            )
            % 2
        )
        (general if bucket == 0 else site).append(post)
    return general, site


def f1_positive(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum((y == 1) & (predicted == 1)))
    fp = float(np.sum((y == 0) & (predicted == 1)))
    fn = float(np.sum((y == 1) & (predicted == 0)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def average_precision(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, proba)) if y.any() else 0.0


def cross_validate(posts: list[Post], folds: int = FOLDS) -> dict[str, float]:
    """Return out-of-fold F1 (deleted) at the best threshold and average precision."""
    from sklearn.model_selection import StratifiedKFold

    texts = [p.text for p in posts]
    y = np.array([p.deleted for p in posts])
    proba = np.zeros(len(posts))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED % (2**31))
    for train, test in splitter.split(texts, y):
        model = DecisionModel().fit([texts[i] for i in train], y[train])
        proba[test] = model.predict_proba([texts[i] for i in test])[:, 1]
    threshold = max(
        (i / 100 for i in range(5, 96)),
        key=lambda t: f1_positive(y, (proba >= t).astype(int)),
    )
    return {
        "cv_folds": folds,
        "cv_f1_deleted": round(f1_positive(y, (proba >= threshold).astype(int)), 4),
        "cv_average_precision": round(average_precision(y, proba), 4),
        "cv_threshold": threshold,
        "positives": int(y.sum()),
        "posts": len(posts),
        "base_rate": round(float(y.mean()), 4),
    }


def train_general(data_dir: Path, out_dir: Path, progress: Callable[[str], None]) -> None:
    """Train on every labelled OMP post; write the artifact with its cross-validated card."""
    source = data_file(data_dir, OMP_FILE)
    posts = load_posts(data_dir)
    progress(f"{NAME}: {len(posts)} posts, {FOLDS}-fold cross-validation")
    metrics = cross_validate(posts)
    progress(f"{NAME}: CV F1 (deleted) {metrics['cv_f1_deleted']}")
    model = DecisionModel().fit([p.text for p in posts], [p.deleted for p in posts])
    card = new_card(
        NAME,
        VERSION,
        description=(
            "General model of `likely_rejected`: would derStandard.at's moderators have "
            "deleted this post? Hashed word and character n-grams, logistic regression. "
            "Per-site models start from it and learn from the site's own decisions."
        ),
        data=[source],
        labels={"1": "Status = deleted", "0": "Status = online"},
        metrics=metrics,
        default_threshold=float(metrics["cv_threshold"]),
        extra={
            "notes": [
                "One paper's moderation standard (2015-16, Austria): a prior, not a rule.",
                "Deleted posts include off-topic and duplicate posts, not only abuse.",
            ]
        },
    )
    write_artifact(out_dir, NAME, model, card)


# The threshold search of common.py uses the GermEval metric; kept for callers that want it.
__all__ = [
    "NAME",
    "Post",
    "average_precision",
    "best_threshold",
    "cross_validate",
    "f1_positive",
    "load_posts",
    "replay_split",
    "train_general",
]
