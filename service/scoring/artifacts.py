"""Find and load versioned model artifacts, once per process, refusing mismatches."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import joblib

ARTIFACTS_DIR = Path(__file__).with_name("artifacts")


class ArtifactError(RuntimeError):
    """An artifact is missing or was written by other library versions than we run."""


def artifacts_dir(override: Path | None = None) -> Path:
    return override if override is not None else ARTIFACTS_DIR


def read_card(directory: Path, name: str) -> dict[str, Any]:
    """Return the model card (JSON metadata) of artifact `name`."""
    path = directory / name / "card.json"
    if not path.exists():
        raise ArtifactError(f"model artifact {name!r} is missing in {directory}; run `make models`")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def load(directory: Path, name: str) -> tuple[Any, dict[str, Any]]:
    """Load artifact `name` (model.joblib + card.json), checking its library versions."""
    card = read_card(directory, name)
    import sklearn

    trained_with = card.get("libraries", {}).get("scikit-learn")
    if trained_with and trained_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ArtifactError(
            f"model {name!r} was trained with scikit-learn {trained_with}, "
            f"this process runs {sklearn.__version__}; retrain with `make models`"
        )
    model = joblib.load(directory / name / "model.joblib")
    return model, card
