"""Share what every trainer needs: data hashes, licences, the official metric, model cards.

Shared by the toxicity trainer (service/training/toxicity.py) and the claims trainer
(service/training/claims.py); other trainers are welcome. Use it like this:

    from service.training import common
    files = [common.data_file(data_dir, "germeval2021_toxic/train.csv")]
    ...fit...
    common.write_artifact(out_dir, "my_model", model, card)   # card from common.new_card(...)

`write_artifact` writes `model.joblib`, `card.json` (what `service.scoring.artifacts.load`
checks) and a human-readable `MODEL_CARD.md`, all into `out_dir/<name>/`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from numpy.typing import ArrayLike

#: Seed for every random choice in training (folds, solvers, subsampling).
SEED = 20261124


@dataclass(frozen=True)
class DataFile:
    """One training file with its SHA-256 and the licence its dataset's README states."""

    dataset: str
    path: Path
    sha256: str
    licence: str
    relative: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "dataset": self.dataset,
            "file": self.relative or self.path.name,
            "sha256": self.sha256,
            "licence": self.licence,
        }


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_LICENCE_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?licen[cs]e[^:]*:\s*(.+)$", re.I | re.M)
_LICENCE_INLINE = re.compile(r"licen[cs]e:\s*([^.\n]+)", re.I)


def dataset_licence(dataset_dir: Path, member: str | None = None) -> str:
    """Return the licence statement of a dataset folder's README (or say it is unknown).

    `member` names a sub-folder (a lexicon) whose licence sits in the README's table row.
    """
    readme = dataset_dir / "README.md"
    if not readme.exists():
        return "unknown (no README)"
    text = readme.read_text(encoding="utf-8")
    if member is not None:
        for row in text.splitlines():
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            if row.startswith("|") and member in cells[0] and len(cells) >= 3:
                return cells[2].replace("**", "")
    match = _LICENCE_LINE.search(text) or _LICENCE_INLINE.search(text)
    if match:
        return match.group(1).strip().replace("**", "")[:300]
    return f"see {dataset_dir.name}/README.md"


def data_file(data_dir: Path, relative: str) -> DataFile:
    """Describe one training file under data_dir, failing clearly when it is missing."""
    path = data_dir / relative
    if not path.is_file():
        raise FileNotFoundError(f"training data file {path} is missing (data dir: {data_dir})")
    parts = Path(relative).parts
    member = parts[1] if len(parts) > 2 else None
    licence = dataset_licence(data_dir / parts[0], member)
    return DataFile("/".join(parts[:-1]), path, sha256_file(path), licence, relative)


def official_f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Return the GermEval metric: harmonic mean of macro precision and macro recall.

    This is what the organisers' evaluate.py computes from sklearn's classification_report
    "macro avg" row; it differs slightly from f1_score(average="macro"). Computed with
    numpy because threshold searches call it thousands of times.
    """
    truth = np.asarray(y_true)
    guess = np.asarray(y_pred).astype(truth.dtype)
    labels = np.union1d(truth, guess)
    precisions, recalls = [], []
    for label in labels:
        hit = float(np.sum((truth == label) & (guess == label)))
        predicted = float(np.sum(guess == label))
        actual = float(np.sum(truth == label))
        precisions.append(hit / predicted if predicted else 0.0)
        recalls.append(hit / actual if actual else 0.0)
    p, r = float(np.mean(precisions)), float(np.mean(recalls))
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Return sklearn's macro-averaged F1 (the OffensEval and HASOC metric)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def best_threshold(
    y_true: ArrayLike, proba: ArrayLike, grid: Iterable[float] | None = None
) -> tuple[float, float]:
    """Return (threshold, official F1) maximising the official metric over a grid."""
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    candidates = list(grid) if grid is not None else [i / 100 for i in range(5, 96)]
    scored = [(official_f1(y, (p >= t).astype(int)), t) for t in candidates]
    f1, threshold = max(scored, key=lambda pair: (round(pair[0], 6), -abs(pair[1] - 0.5)))
    return float(threshold), float(f1)


def calibration_error(
    y: np.ndarray[Any, Any], proba: np.ndarray[Any, Any], bins: int = 10
) -> float:
    """Return the expected calibration error over equal-width probability bins."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(proba, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += float(mask.mean()) * abs(float(proba[mask].mean()) - float(y[mask].mean()))
    return total


def library_versions() -> dict[str, str]:
    """Return the versions that decide whether an artifact loads (scikit-learn above all)."""
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def new_card(
    name: str,
    version: str,
    *,
    description: str,
    data: Sequence[DataFile],
    labels: dict[str, Any],
    metrics: dict[str, Any],
    default_threshold: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a model card: version, creation time, libraries, data with hashes and licences."""
    card: dict[str, Any] = {
        "name": name,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "description": description,
        "libraries": library_versions(),
        "seed": SEED,
        "training_data": [d.to_dict() for d in data],
        "labels": labels,
        "metrics": metrics,
        "default_threshold": default_threshold,
    }
    if extra:
        card.update(extra)
    return card


def write_artifact(out_dir: Path, name: str, model: Any, card: dict[str, Any]) -> Path:
    """Write out_dir/name/{model.joblib, card.json, MODEL_CARD.md}; return the folder."""
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib", compress=3)
    (folder / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    (folder / "MODEL_CARD.md").write_text(render_card(card))
    return folder


def render_card(card: dict[str, Any]) -> str:
    """Render a card as Markdown for people: what, from which data, how good, caveats."""
    lines = [
        f"# Model card: {card['name']} (version {card['version']})",
        "",
        str(card.get("description", "")),
        "",
        f"- Created: {card['created']}",
        f"- Default threshold: {card['default_threshold']}",
        "- Libraries: " + ", ".join(f"{k} {v}" for k, v in card["libraries"].items()),
        f"- Seed: {card.get('seed')}",
        "",
        "## Training data",
        "",
        "| dataset | file | SHA-256 | licence |",
        "|---|---|---|---|",
    ]
    for d in card["training_data"]:
        lines.append(f"| {d['dataset']} | {d['file']} | `{d['sha256'][:16]}…` | {d['licence']} |")
    lines += ["", "## Labels", "", "```json", json.dumps(card["labels"], indent=2), "```", ""]
    lines += ["## Metrics", ""]
    lines += _metric_tables(card["metrics"])
    lines += ["Everything, as recorded in card.json:", ""]
    lines += ["```json", json.dumps(card["metrics"], indent=2), "```", ""]
    for key in ("notes", "speed"):
        if key in card:
            lines += [f"## {key.capitalize()}", ""]
            value = card[key]
            if isinstance(value, list):
                lines += [f"- {v}" for v in value]
            else:
                lines += ["```json", json.dumps(value, indent=2), "```"]
            lines.append("")
    return "\n".join(lines)


def _metric_tables(metrics: dict[str, Any]) -> list[str]:
    """Render each {corpus: {metric: value}} block of the metrics as a Markdown table."""
    lines: list[str] = []
    if "method" in metrics:
        lines += [str(metrics["method"]), ""]
    for block, rows in metrics.items():
        if not isinstance(rows, dict) or not all(isinstance(v, dict) for v in rows.values()):
            continue
        columns = [
            c
            for c in ("n", "official_f1", "macro_f1", "official_f1_at_corpus_best_threshold")
            if any(c in v for v in rows.values())
        ]
        if not columns:
            continue
        lines += [f"**{block}**", "", "| corpus | " + " | ".join(columns) + " |"]
        lines.append("|---" * (len(columns) + 1) + "|")
        for corpus, values in rows.items():
            cells = [str(values.get(c, "")) for c in columns]
            lines.append(f"| {corpus} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
